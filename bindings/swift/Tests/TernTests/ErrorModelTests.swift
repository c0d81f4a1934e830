import Foundation
import XCTest

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

@testable import Tern

/// The error model: event calls never throw and return whether the event was
/// accepted; refusals are counted, logged at most once per status per minute
/// and handed to the error handler off the caller's thread; strict mode
/// reports every refusal.
final class ErrorModelTests: TernTestCase {
  /// What the error handler received, and whether it ran on the caller's thread.
  final class Handled: @unchecked Sendable {
    let errors = Recorded<TernError>()
    let onCallerThread = Recorded<Bool>()
    let caller = pthread_self()
    weak var tern: Tern?
    let seenDrops = Recorded<UInt64>()

    var handler: Tern.ErrorHandler {
      { [self] error in
        onCallerThread.add(pthread_equal(pthread_self(), caller) != 0)
        // The handler may call into the client: it holds no lock of ours.
        if let tern { seenDrops.add(tern.stats.dropped) }
        errors.add(error)
      }
    }
  }

  /// Log lines about refused calls.
  final class Lines: @unchecked Sendable {
    let lines = Recorded<String>()
    var handler: Tern.LogHandler {
      { [lines] level, line in
        if line.hasPrefix("call refused") { lines.add("\(level) \(line)") }
      }
    }
  }

  /// Makes each of the six event calls with `values` as its dictionary
  /// (alias: its context) and returns what each returned.
  @discardableResult
  func everyEventCall(_ tern: Tern, _ values: [String: Any]) -> [Bool] {
    [
      tern.track("Event", properties: values),
      tern.identify(userId: "user", traits: values),
      tern.screen("Screen", properties: values),
      tern.page("Page", properties: values),
      tern.group("group", traits: values),
      tern.alias("alias", options: .init(context: values)),
    ]
  }

  let allRefused = [Bool](repeating: false, count: 6)
  let blob = ["blob": String(repeating: "x", count: 4096)]

  func client(_ handled: Handled, _ edit: (inout Tern.Configuration) -> Void = { _ in }) throws
    -> Tern
  {
    var config = configuration()
    config.errorHandler = handled.handler
    edit(&config)
    let tern = try Tern(configuration: config)
    handled.tern = tern
    return tern
  }

  func testEveryEventCallAfterOptOutReturnsFalseAndIsOnlyCounted() throws {
    let handled = Handled()
    let tern = try client(handled)
    XCTAssertTrue(tern.setOptedOut(true))
    XCTAssertEqual(everyEventCall(tern, ["k": 1]), allRefused)
    XCTAssertEqual(tern.stats.dropped(.optOut), 6)
    XCTAssertEqual(tern.stats.enqueued, 0)
    // The handler runs in order: the only error it saw is a later real one.
    XCTAssertFalse(tern.track("Marker", properties: ["nan": Double.nan]))
    tern.refusals.sync()
    XCTAssertEqual(handled.errors.snapshot.map(\.code), [.invalidArgument])
  }

  func testEveryEventCallWithDeniedConsentReturnsFalseAndIsOnlyCounted() throws {
    let handled = Handled()
    let tern = try client(handled)
    XCTAssertTrue(tern.setConsent(.denied))
    XCTAssertEqual(everyEventCall(tern, ["k": 1]), allRefused)
    XCTAssertEqual(tern.stats.dropped(.consentDenied), 6)
    XCTAssertFalse(tern.track("Marker", properties: ["nan": Double.nan]))
    tern.refusals.sync()
    XCTAssertEqual(handled.errors.snapshot.map(\.code), [.invalidArgument])
  }

  func testAValueThatIsNotJSONIsCountedLoggedOnceAndHandedOverOffTheCallersThread() throws {
    let handled = Handled()
    let lines = Lines()
    let tern = try client(handled) {
      $0.logHandler = lines.handler
      $0.logLevel = .warn
    }
    XCTAssertEqual(everyEventCall(tern, ["nan": Double.nan]), allRefused)
    tern.refusals.sync()
    let errors = handled.errors.snapshot
    XCTAssertEqual(errors.map(\.code), [TernError.Code](repeating: .invalidArgument, count: 6))
    XCTAssertTrue(errors[0].message.hasPrefix("track: "), errors[0].message)
    XCTAssertTrue(errors[0].message.contains("properties.nan"), errors[0].message)
    XCTAssertEqual(handled.onCallerThread.snapshot, [Bool](repeating: false, count: 6))
    XCTAssertEqual(handled.seenDrops.snapshot.count, 6)
    let stats = tern.stats
    XCTAssertEqual(stats.dropped(.invalid), 6)
    XCTAssertEqual(stats.dropped, 6)
    XCTAssertEqual(stats.enqueued, 0)
    let logged = lines.lines.snapshot
    XCTAssertEqual(logged.count, 1, "\(logged)")
    XCTAssertTrue(logged.first?.hasPrefix("warn call refused: invalid argument") ?? false, "\(logged)")
  }

  func testAnOversizeEventIsRefusedAsTooLargeByEveryEventCall() throws {
    let handled = Handled()
    let tern = try client(handled) { $0.maxEventBytes = 2048 }
    XCTAssertEqual(everyEventCall(tern, blob), allRefused)
    tern.refusals.sync()
    XCTAssertEqual(
      handled.errors.snapshot.map(\.code), [TernError.Code](repeating: .tooLarge, count: 6))
    XCTAssertEqual(tern.stats.dropped(.tooLarge), 6)
  }

  func testEveryCallAfterShutdownReturnsFalseAndIsCounted() throws {
    let handled = Handled()
    let tern = try client(handled)
    XCTAssertTrue(tern.track("Before"))
    XCTAssertTrue(tern.shutdown())
    XCTAssertEqual(everyEventCall(tern, ["k": 1]), allRefused)
    XCTAssertFalse(tern.flush(timeout: 1))  // an outcome, not reported
    tern.refusals.sync()
    XCTAssertEqual(
      handled.errors.snapshot.map(\.code), [TernError.Code](repeating: .shutdown, count: 6))
    let stats = tern.stats
    XCTAssertEqual(stats.enqueued, 1)
    XCTAssertEqual(stats.dropped(.shutdown), 6)
  }

  func testManyThreadsTrackingWhileTheClientShutsDownAreEachAccountedFor() throws {
    final class Flag: @unchecked Sendable {
      private let lock = NSLock()
      private var value = false
      var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
      }
      func set() {
        lock.lock()
        value = true
        lock.unlock()
      }
    }
    let handled = Handled()
    let tern = try client(handled)
    let accepted = Counter()
    let refused = Counter()
    let stop = Flag()
    let group = DispatchGroup()
    let threads = 8
    for _ in 0..<threads {
      DispatchQueue.global().async(group: group) {
        var refusedHere = 0
        while !stop.isSet || refusedHere < 10 {
          if tern.track("During Shutdown", properties: ["k": 1]) {
            accepted.increment()
          } else {
            refused.increment()
            refusedHere += 1
          }
        }
      }
    }
    while accepted.value < 100 { Thread.sleep(forTimeInterval: 0.001) }
    XCTAssertTrue(tern.shutdown(timeout: 5))
    stop.set()
    XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
    let stats = tern.stats
    XCTAssertEqual(stats.enqueued, accepted.value)
    XCTAssertEqual(stats.dropped(.shutdown), refused.value)
    XCTAssertGreaterThanOrEqual(refused.value, UInt64(threads * 10))
  }

  func testAnOfflineFlushReturnsFalseAndIsNotAnError() async throws {
    let handled = Handled()
    let tern = try client(handled)  // nothing listens on the endpoint
    XCTAssertTrue(tern.track("Queued"))
    func flushBlocking() -> Bool { tern.flush(timeout: 2) }
    XCTAssertFalse(flushBlocking())
    let flushed = await tern.flush(timeout: 2)
    XCTAssertFalse(flushed)
    XCTAssertEqual(tern.stats.queueDepth, 1)
    let shut = await tern.shutdown(timeout: 2)
    XCTAssertTrue(shut)
    tern.refusals.sync()
    XCTAssertEqual(handled.errors.snapshot.count, 0)
  }

  func testStrictModeReportsEveryRefusal() throws {
    var config = configuration(strict: true)
    config.maxEventBytes = 2048
    let tern = try Tern(configuration: config)
    func assertEveryEventCallRefused(
      _ values: [String: Any], _ code: TernError.Code, line: UInt = #line
    ) {
      assertThrows(code, line: line) { tern.track("Event", properties: values) }
      assertThrows(code, line: line) { tern.identify(userId: "user", traits: values) }
      assertThrows(code, line: line) { tern.screen("Screen", properties: values) }
      assertThrows(code, line: line) { tern.page("Page", properties: values) }
      assertThrows(code, line: line) { tern.group("group", traits: values) }
      assertThrows(code, line: line) { tern.alias("alias", options: .init(context: values)) }
    }
    XCTAssertTrue(tern.setOptedOut(true))
    assertEveryEventCallRefused(["k": 1], .disabled)
    XCTAssertTrue(tern.setOptedOut(false))
    XCTAssertTrue(tern.setConsent(.denied))
    assertEveryEventCallRefused(["k": 1], .disabled)
    XCTAssertTrue(tern.setConsent(.granted))
    assertEveryEventCallRefused(["nan": Double.nan], .invalidArgument)
    assertEveryEventCallRefused(blob, .tooLarge)
    XCTAssertTrue(tern.shutdown())
    assertEveryEventCallRefused(["k": 1], .shutdown)
    let stats = tern.stats
    for reason in [Tern.DropReason.optOut, .consentDenied, .invalid, .tooLarge, .shutdown] {
      XCTAssertEqual(stats.dropped(reason), 6, "\(reason)")
    }
  }

  func testRefusalsAreLoggedAtMostOncePerStatusPerMinute() throws {
    final class Clock: @unchecked Sendable {
      private let lock = NSLock()
      private var nanos: UInt64 = 1_000_000_000
      var now: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return nanos
      }
      func advance(seconds: UInt64) {
        lock.lock()
        nanos += seconds * 1_000_000_000
        lock.unlock()
      }
    }
    let clock = Clock()
    let lines = Lines()
    let handled = Handled()
    let tern = try client(handled) {
      $0.maxEventBytes = 2048
      $0.logHandler = lines.handler
      $0.logLevel = .warn
      $0.monotonicClock = { clock.now }
    }
    for _ in 0..<5 { XCTAssertFalse(tern.track("E", properties: ["nan": Double.nan])) }
    XCTAssertFalse(tern.track("E", properties: blob))  // another status: its own line
    tern.refusals.sync()
    XCTAssertEqual(lines.lines.snapshot.count, 2, "\(lines.lines.snapshot)")

    clock.advance(seconds: 59)
    XCTAssertFalse(tern.track("E", properties: ["nan": Double.nan]))
    tern.refusals.sync()
    XCTAssertEqual(lines.lines.snapshot.count, 2, "\(lines.lines.snapshot)")

    clock.advance(seconds: 1)
    XCTAssertFalse(tern.track("E", properties: ["nan": Double.nan]))
    tern.refusals.sync()
    let logged = lines.lines.snapshot
    XCTAssertEqual(logged.count, 3, "\(logged)")
    XCTAssertTrue(logged.last?.contains("and 5 more like it") ?? false, "\(logged)")
    XCTAssertEqual(handled.errors.snapshot.count, 8, "every refusal reaches the handler")
    XCTAssertEqual(tern.stats.dropped, 8)
  }

  func testATrackCallReturnsAtItsUsualCostWhileTheWorkerIsBlockedInAnUpload() throws {
    final class Blocking: TernTransport, @unchecked Sendable {
      let entered = DispatchSemaphore(value: 0)
      let release = DispatchSemaphore(value: 0)
      func send(_ request: TernHTTPRequest) -> TernHTTPResponse {
        entered.signal()
        _ = release.wait(timeout: .now() + 60)
        release.signal()  // let later uploads through
        return TernHTTPResponse(statusCode: 200)
      }
    }
    let transport = Blocking()
    var config = configuration()
    config.transport = transport
    config.flushAt = 1
    let tern = try Tern(configuration: config)
    defer { transport.release.signal() }
    XCTAssertTrue(tern.track("First"))
    XCTAssertEqual(transport.entered.wait(timeout: .now() + 10), .success, "no upload started")
    let n = 2000
    var nanos: [UInt64] = []
    nanos.reserveCapacity(n)
    let properties: [String: Any] = ["screen": "Home", "index": 1]
    for _ in 0..<n {
      let start = DispatchTime.now().uptimeNanoseconds
      let accepted = tern.track("While Blocked", properties: properties)
      nanos.append(DispatchTime.now().uptimeNanoseconds - start)
      XCTAssertTrue(accepted)
    }
    nanos.sort()
    XCTAssertLessThan(nanos[n / 2], 1_000_000, "p50 \(nanos[n / 2]) ns")
    transport.release.signal()
    try flushUntilSent(tern)
    XCTAssertEqual(tern.stats.sent, UInt64(n + 1))
  }

  /// Without the test hook, strict mode stops the process with the refusal's
  /// message. Runs this same test in a child process (the XCTest binary with
  /// the test's name and TERN_STRICT_CHILD set), where the refusal happens.
  func testStrictModeStopsTheProcessWithTheRefusalsMessage() throws {
    if ProcessInfo.processInfo.environment["TERN_STRICT_CHILD"] == "1" {
      var config = configuration()
      config.strict = true
      let tern = try Tern(configuration: config)
      tern.setOptedOut(true)
      tern.track("Refused")
      XCTFail("strict mode did not stop the process")
      return
    }
    let child = Process()
    child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    child.arguments = ["TernTests.ErrorModelTests/testStrictModeStopsTheProcessWithTheRefusalsMessage"]
    var environment = ProcessInfo.processInfo.environment
    environment["TERN_STRICT_CHILD"] = "1"
    child.environment = environment
    let stderr = Pipe()
    child.standardError = stderr
    child.standardOutput = FileHandle.nullDevice
    try child.run()
    let output = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    child.waitUntilExit()
    XCTAssertEqual(child.terminationReason, .uncaughtSignal, output)
    XCTAssertTrue(
      output.contains("Tern (strict mode) refused a call: tern: disabled: track: "), output)
  }

  func testCreationStillThrowsForAWrongEndpointOrStoragePathSayingWhatToFix() throws {
    for endpoint in ["relay.example.com", "ftp://relay.example.com", "https://", "https:// x"] {
      assertThrows(.invalidArgument, messageContains: "endpoint \"\(endpoint)\"") {
        _ = try Tern(configuration: configuration(endpoint: endpoint))
      }
    }
    let missing = directory.appendingPathComponent("missing/dir/events.db").path
    do {
      _ = try Tern(configuration: configuration(db: missing))
      XCTFail("a database in a missing directory was opened")
    } catch let error as TernError {
      XCTAssertTrue(error.message.contains(missing), error.message)
    }
    let tern = try Tern(configuration: configuration(endpoint: "HTTPS://relay.example.com:8443/b"))
    XCTAssertTrue(tern.track("Accepted"))
  }
}
