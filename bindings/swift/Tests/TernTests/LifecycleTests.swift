import Foundation
import XCTest

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

@testable import Tern

/// A transport that records every request (batches and settings GETs) and
/// answers 200; `gate`, when set, holds each POST until it is signalled.
final class RecordingTransport: TernTransport, @unchecked Sendable {
  private let lock = NSLock()
  private var requests: [TernHTTPRequest] = []
  let gate: DispatchSemaphore?
  /// Signalled when a POST arrives (before it waits on `gate`).
  let posted = DispatchSemaphore(value: 0)
  let settingsAnswer: TernHTTPResponse

  init(gate: DispatchSemaphore? = nil, settingsAnswer: TernHTTPResponse = TernHTTPResponse(statusCode: 404)) {
    self.gate = gate
    self.settingsAnswer = settingsAnswer
  }

  func send(_ request: TernHTTPRequest) -> TernHTTPResponse {
    lock.lock()
    requests.append(request)
    lock.unlock()
    if request.method == "GET" { return settingsAnswer }
    posted.signal()
    gate?.wait()
    return TernHTTPResponse(statusCode: 200, body: Data("{}".utf8))
  }

  var all: [TernHTTPRequest] {
    lock.lock()
    defer { lock.unlock() }
    return requests
  }

  /// Every event the batches carried, in order.
  var events: [[String: Any]] {
    all.filter { $0.method == "POST" }.flatMap { request -> [[String: Any]] in
      let doc = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any]
      return doc?["batch"] as? [[String: Any]] ?? []
    }
  }

  func events(named name: String) -> [[String: Any]] {
    events.filter { $0["event"] as? String == name }
  }
}

/// Stands in for UIApplication's background-task API: records each task
/// begun and ended, and keeps the expiration handlers so a test can fire one.
final class FakeBackgroundTasks: TernBackgroundTasks, @unchecked Sendable {
  private let lock = NSLock()
  private var next = 1
  private var begunIds: [Int] = []
  private var endedIds: [Int] = []
  private var expirations: [Int: @Sendable () -> Void] = [:]

  func beginBackgroundTask(name: String, expirationHandler: @escaping @Sendable () -> Void) -> Int? {
    lock.lock()
    defer { lock.unlock() }
    let id = next
    next += 1
    begunIds.append(id)
    expirations[id] = expirationHandler
    return id
  }

  func endBackgroundTask(_ identifier: Int) {
    lock.lock()
    endedIds.append(identifier)
    lock.unlock()
  }

  /// What the system does when the background time runs out.
  func expire(_ identifier: Int) {
    lock.lock()
    let handler = expirations[identifier]
    lock.unlock()
    handler?()
  }

  var begun: [Int] {
    lock.lock()
    defer { lock.unlock() }
    return begunIds
  }

  var ended: [Int] {
    lock.lock()
    defer { lock.unlock() }
    return endedIds
  }
}

/// `trackLifecycle` on Linux: the UIKit-named notifications posted on
/// NotificationCenter.default reach the C lifecycle calls (seen in the events
/// a Swift transport uploads and in `stats`), and the background upload's
/// task is ended exactly once, by the completion or by the expiration handler.
final class LifecycleTests: TernTestCase {
  typealias N = Tern.ApplicationNotification

  private func post(_ name: Notification.Name) {
    NotificationCenter.default.post(name: name, object: nil)
  }

  /// Polls `condition` (bounded) and returns its last value.
  private func waitUntil(_ seconds: TimeInterval = 20, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
      if Date() >= deadline { return false }
      Thread.sleep(forTimeInterval: 0.002)
    }
    return true
  }

  private func lifecycleConfiguration(
    _ transport: RecordingTransport, _ tasks: FakeBackgroundTasks?, db: String? = nil
  ) -> Tern.Configuration {
    var c = configuration(db: db)
    c.transport = transport
    c.fetchSettings = false
    c.appVersion = "3.1"
    c.appBuild = "31"
    c.backgroundTasks = tasks
    c.flushInterval = 60  // only the background flush uploads
    c.gzip = false  // the transport reads the batches
    return c
  }

  func testApplicationNotificationsRecordTheLifecycleAndTheBackgroundUploadEndsItsTaskOnce()
    throws
  {
    let transport = RecordingTransport()
    let tasks = FakeBackgroundTasks()
    let tern = try Tern(configuration: lifecycleConfiguration(transport, tasks))
    post(N.didFinishLaunching)
    XCTAssertNil(tern.sessionId, "launched is not yet in the foreground")
    post(N.willEnterForeground)
    post(N.didBecomeActive)  // both arrive on a real launch: one Opened
    let session = try XCTUnwrap(tern.sessionId)
    tern.track("Song Played")
    post(N.didEnterBackground)

    // No explicit flush: the background upload sends everything, then ends its task.
    XCTAssertTrue(waitUntil { tasks.ended.count == 1 })
    XCTAssertEqual(tasks.begun, [1])
    XCTAssertEqual(tasks.ended, [1])
    let stats = tern.stats
    XCTAssertEqual(stats.backgroundFlushesSent, 1)
    XCTAssertEqual(stats.lifecycleEvents, 3)
    XCTAssertEqual(stats.sessionsStarted, 1)

    let installed = transport.events(named: "Application Installed")
    XCTAssertEqual(installed.count, 1)
    let installedProps = installed.first?["properties"] as? [String: Any]
    XCTAssertEqual(installedProps?["version"] as? String, "3.1")
    XCTAssertEqual(installedProps?["build"] as? String, "31")
    let opened = transport.events(named: "Application Opened")
    XCTAssertEqual(opened.count, 1)
    XCTAssertEqual((opened.first?["properties"] as? [String: Any])?["from_background"] as? Bool, false)
    let openedContext = opened.first?["context"] as? [String: Any]
    XCTAssertEqual((openedContext?["sessionId"] as? NSNumber)?.int64Value, session)
    XCTAssertEqual(openedContext?["sessionStart"] as? Bool, true)
    XCTAssertEqual(transport.events(named: "Song Played").count, 1)
    XCTAssertEqual(transport.events(named: "Application Backgrounded").count, 1)

    // Back within the session timeout: the same session, from the background.
    post(N.willEnterForeground)
    XCTAssertEqual(tern.sessionId, session)
    XCTAssertTrue(tern.flush(timeout: 5))
    let reopened = transport.events(named: "Application Opened")
    XCTAssertEqual(reopened.count, 2)
    XCTAssertEqual((reopened.last?["properties"] as? [String: Any])?["from_background"] as? Bool, true)
  }

  func testAClientCreatedAfterTheLaunchNotificationRecordsTheLaunchAtItsFirstForeground() throws {
    let transport = RecordingTransport()
    let tern = try Tern(configuration: lifecycleConfiguration(transport, nil))
    post(N.didBecomeActive)
    XCTAssertTrue(tern.flush(timeout: 5))
    XCTAssertEqual(transport.events(named: "Application Installed").count, 1)
    XCTAssertEqual(transport.events(named: "Application Opened").count, 1)
    XCTAssertEqual(tern.stats.lifecycleEvents, 2)
  }

  func testTheExpirationHandlerEndsTheTaskOnceAndTheLateCompletionDoesNotEndItAgain() throws {
    let gate = DispatchSemaphore(value: 0)
    let transport = RecordingTransport(gate: gate)
    let tasks = FakeBackgroundTasks()
    let tern = try Tern(configuration: lifecycleConfiguration(transport, tasks))
    post(N.didBecomeActive)
    tern.track("Queued Before Background")
    post(N.didEnterBackground)
    XCTAssertEqual(tasks.begun, [1])
    // The upload is in flight (held by the transport) when time runs out.
    XCTAssertEqual(transport.posted.wait(timeout: .now() + 20), .success)
    XCTAssertEqual(tasks.ended, [], "the upload has not completed")
    tasks.expire(1)
    XCTAssertEqual(tasks.ended, [1])
    tasks.expire(1)  // the system calls it once; a second call still ends nothing more
    XCTAssertEqual(tasks.ended, [1])
    // Let the upload finish: its completion must not end the task again.
    gate.signal()
    XCTAssertTrue(
      waitUntil {
        let s = tern.stats
        return s.backgroundFlushesSent + s.backgroundFlushesTimedOut + s.backgroundFlushesCancelled
          == 1
      })
    tern.shutdown()  // joins the worker: every completion has run
    XCTAssertEqual(tasks.ended, [1])
  }

  func testFlushAsyncCompletesExactlyOnceOnTheWorkerThread() throws {
    let transport = RecordingTransport()
    let tern = try Tern(configuration: lifecycleConfiguration(transport, nil))
    tern.track("One")
    tern.track("Two")
    let results = Recorded<Tern.FlushResult>()
    let onCaller = Recorded<Bool>()
    let caller = pthread_self()
    let done = DispatchSemaphore(value: 0)
    XCTAssertTrue(
      tern.flushAsync(deadline: 10) { result in
        results.add(result)
        onCaller.add(pthread_equal(pthread_self(), caller) != 0)
        done.signal()
      })
    XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
    XCTAssertEqual(results.snapshot, [.sent])
    XCTAssertEqual(onCaller.snapshot, [false])
    XCTAssertEqual(tern.stats.sent, 2)
    tern.shutdown()
    XCTAssertEqual(results.snapshot.count, 1)
  }

  func testARefusedFlushAsyncNeverCompletes() throws {
    let tern = try Tern(configuration: lifecycleConfiguration(RecordingTransport(), nil))
    let results = Recorded<Tern.FlushResult>()
    XCTAssertFalse(tern.flushAsync(deadline: -1) { results.add($0) })
    tern.shutdown()
    XCTAssertFalse(tern.flushAsync(deadline: 1) { results.add($0) })
    tern.shutdown()
    XCTAssertEqual(results.snapshot, [])
  }

  func testWithTrackLifecycleOffTheNotificationsAreIgnored() throws {
    let transport = RecordingTransport()
    let tasks = FakeBackgroundTasks()
    var c = lifecycleConfiguration(transport, tasks)
    c.trackLifecycle = false
    let tern = try Tern(configuration: c)
    post(N.didFinishLaunching)
    post(N.didBecomeActive)
    post(N.didEnterBackground)
    tern.track("Manual")
    XCTAssertTrue(tern.flush(timeout: 5))
    XCTAssertEqual(tern.stats.lifecycleEvents, 0)
    XCTAssertEqual(tasks.begun, [])
    XCTAssertEqual(transport.events.count, 1)
    // The app may still call them itself.
    XCTAssertTrue(tern.appLaunched(version: "1", build: "1"))
    XCTAssertTrue(tern.appForeground())
    XCTAssertTrue(tern.appBackground())
    XCTAssertTrue(tern.flush(timeout: 5))
    XCTAssertEqual(tern.stats.lifecycleEvents, 3)
  }

  func testSettingsAreFetchedWithAGetThroughTheSwiftTransport() throws {
    let settings = Data(
      (#"{"integrations":{"Segment.io":{"apiKey":"test-key"}},"tern":{"enabled":true,"#
        + #""sampleRate":1,"flushAt":20,"flushIntervalMs":30000,"sessionTimeoutMs":300000,"#
        + #""ttlSeconds":86400}}"#).utf8)
    let transport = RecordingTransport(
      settingsAnswer: TernHTTPResponse(statusCode: 200, body: settings, etag: "\"v1\""))
    var c = lifecycleConfiguration(transport, nil)
    c.fetchSettings = true
    let tern = try Tern(configuration: c)
    XCTAssertTrue(tern.appLaunched(version: "1", build: "1"))
    XCTAssertTrue(waitUntil { tern.stats.settingsFetched == 1 })
    XCTAssertEqual(tern.stats.settingsFailed, 0)
    let gets = transport.all.filter { $0.method == "GET" }
    XCTAssertEqual(gets.count, 1)
    XCTAssertTrue(gets.first?.url.hasSuffix("/v1/projects/test-key/settings") ?? false)
    XCTAssertNil(gets.first?.ifNoneMatch)
    XCTAssertEqual(gets.first?.body.count, 0)
  }

  func testURLSessionTransportSendsIfNoneMatchAndReportsTheETag() throws {
    let settings = "{\"tern\":{\"enabled\":true}}"
    let server = try OneShotHTTPServer(responses: [
      "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Type: application/json\r\n"
        + "Content-Length: \(settings.utf8.count)\r\nConnection: close\r\n\r\n\(settings)",
      "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n",
    ])
    let url = "http://127.0.0.1:\(server.port)/v1/projects/wk/settings"
    let transport = URLSessionTransport(requestTimeout: 5)
    let first = transport.send(
      TernHTTPRequest(
        url: url, writeKey: "wk", body: Data(), gzip: false, contentType: "application/json",
        method: "GET"))
    XCTAssertEqual(first.statusCode, 200, first.error ?? "")
    XCTAssertEqual(first.etag, "\"v1\"")
    XCTAssertEqual(String(decoding: first.body, as: UTF8.self), settings)
    let second = transport.send(
      TernHTTPRequest(
        url: url, writeKey: "wk", body: Data(), gzip: false, contentType: "application/json",
        method: "GET", ifNoneMatch: "\"v1\""))
    XCTAssertEqual(second.statusCode, 304, second.error ?? "")
    let heads = server.finish()
    XCTAssertEqual(heads.count, 2)
    XCTAssertTrue(heads.first?.hasPrefix("GET /v1/projects/wk/settings HTTP/1.1\r\n") ?? false)
    XCTAssertFalse(heads.first?.lowercased().contains("if-none-match") ?? true)
    XCTAssertTrue(heads.first?.contains("Basic d2s6") ?? false)  // base64("wk:")
    XCTAssertTrue(heads.last?.lowercased().contains("if-none-match: \"v1\"") ?? false)
  }
}

/// A loopback HTTP server that answers each connection, in order, with the
/// next canned response and records the request heads; for checking what a
/// transport puts on the wire.
final class OneShotHTTPServer: @unchecked Sendable {
  let port: Int
  private let fd: Int32
  private let heads = Recorded<String>()
  private let done = DispatchSemaphore(value: 0)

  init(responses: [String]) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM_KIND), 0)
    guard fd >= 0 else { throw TernError.invalid("socket() failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let fd = self.fd
    let ok = withUnsafeMutablePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
        bind(fd, socketAddress, length) == 0 && listen(fd, 4) == 0
          && getsockname(fd, socketAddress, &length) == 0
      }
    }
    guard ok else {
      close(fd)
      throw TernError.invalid("cannot listen on 127.0.0.1")
    }
    port = Int(UInt16(bigEndian: address.sin_port))
    let heads = self.heads
    let done = self.done
    Thread.detachNewThread {
      for response in responses {
        let client = accept(fd, nil, nil)
        if client < 0 { break }
        var head = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !head.contains("\r\n\r\n".utf8) {
          let n = read(client, &buffer, buffer.count)
          if n <= 0 { break }
          head.append(contentsOf: buffer[0..<n])
        }
        heads.add(String(decoding: head, as: UTF8.self))
        let bytes = Array(response.utf8)
        _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        close(client)
      }
      done.signal()
    }
  }

  /// Waits (bounded) until every response was served; the request heads.
  func finish() -> [String] {
    _ = done.wait(timeout: .now() + 20)
    close(fd)
    return heads.snapshot
  }
}

extension Data {
  fileprivate func contains(_ bytes: String.UTF8View) -> Bool {
    range(of: Data(bytes)) != nil
  }
}

#if canImport(Glibc)
  private let SOCK_STREAM_KIND = SOCK_STREAM.rawValue
#else
  private let SOCK_STREAM_KIND = SOCK_STREAM
#endif
