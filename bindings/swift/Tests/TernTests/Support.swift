import Foundation
import XCTest

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

@testable import Tern

/// The tern-test-collector program (tests/support) run as a child process: a
/// Segment-compatible endpoint on 127.0.0.1 that records what it accepts.
/// Found through TERN_TEST_COLLECTOR (set by scripts/swift-test.sh), else in
/// the default CMake build next to the repository.
final class Collector {
  let process = Process()
  let port: Int
  private let stdout = Pipe()
  private let eventsFile: URL

  var url: String { "http://127.0.0.1:\(port)" }

  static var executable: URL {
    if let path = ProcessInfo.processInfo.environment["TERN_TEST_COLLECTOR"], !path.isEmpty {
      return URL(fileURLWithPath: path)
    }
    // bindings/swift/Tests/TernTests/Support.swift -> the repository root.
    return URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("build/swift-c/tests/support/tern-test-collector")
  }

  /// Starts the collector with extra flags (e.g. ["--fail-first", "1"]) and
  /// reads the port from its first line, "listening on 127.0.0.1:PORT".
  init(_ arguments: [String] = [], directory: URL) throws {
    eventsFile = directory.appendingPathComponent("collector-\(UUID().uuidString).ndjson")
    process.executableURL = Collector.executable
    // --max-seconds: a collector orphaned by a crashed test run exits by itself.
    process.arguments = ["--max-seconds", "120", "--events-out", eventsFile.path] + arguments
    process.standardOutput = stdout
    do {
      try process.run()
    } catch {
      throw TernError.invalid(
        "cannot start \(Collector.executable.path) (build it, or set TERN_TEST_COLLECTOR): \(error)")
    }
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
      let chunk = stdout.fileHandleForReading.availableData
      if chunk.isEmpty { break }  // EOF: the collector exited
      line.append(chunk)
    }
    let text = String(decoding: line, as: UTF8.self)
    guard let range = text.range(of: "listening on 127.0.0.1:"),
      let port = Int(text[range.upperBound...].prefix(while: { $0.isNumber }))
    else {
      process.terminate()
      throw TernError.invalid("tern-test-collector printed \(text.debugDescription)")
    }
    self.port = port
  }

  deinit {
    if process.isRunning { process.terminate() }
  }

  /// Stops the collector and returns every event it accepted, in arrival
  /// order, and its summary line.
  func stop() throws -> (events: [[String: Any]], summary: [String: Any]) {
    process.terminate()
    process.waitUntilExit()
    let rest = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let summaryLine = rest.split(separator: "\n").last.map(String.init) ?? "{}"
    let summary =
      (try JSONSerialization.jsonObject(with: Data(summaryLine.utf8)) as? [String: Any]) ?? [:]
    let text = (try? String(contentsOf: eventsFile, encoding: .utf8)) ?? ""
    let events = try text.split(separator: "\n").map { line -> [String: Any] in
      guard let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      else { throw TernError.invalid("collector wrote a non-object: \(line)") }
      return event
    }
    return (events, summary)
  }
}

/// A thread-safe list of values (errors handed over, log lines).
final class Recorded<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var values: [Value] = []

  func add(_ value: Value) {
    lock.lock()
    values.append(value)
    lock.unlock()
  }

  /// Returns and forgets what was recorded so far.
  func take() -> [Value] {
    lock.lock()
    defer { lock.unlock() }
    let out = values
    values.removeAll()
    return out
  }

  var snapshot: [Value] {
    lock.lock()
    defer { lock.unlock() }
    return values
  }
}

/// A fresh temporary directory per test, removed afterwards.
class TernTestCase: XCTestCase {
  var directory: URL!
  /// Refusals of strict clients made with `configuration(strict: true)`.
  let refused = Recorded<TernError>()

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("tern-swift-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  /// An endpoint on 127.0.0.1 where nothing listens (a port the kernel just
  /// handed out and that was closed again): connections are refused at once.
  lazy var refusedEndpoint: String = {
    let fd = socket(AF_INET, Int32(SOCK_STREAM_VALUE), 0)
    precondition(fd >= 0, "socket() failed")
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
        bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
      }
    }
    precondition(bound, "bind() on 127.0.0.1 failed")
    return "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
  }()

  func dbPath(_ name: String = "events") -> String {
    directory.appendingPathComponent("\(name).db").path
  }

  /// A configuration for fast tests: small intervals, quick retries, no
  /// context provider unless the test sets one.
  ///
  /// `strict`: strict mode, with each refusal recorded in `refused` instead of
  /// stopping the process (see `assertThrows(_:messageContains:_:)` for calls
  /// that return whether they were accepted).
  func configuration(endpoint: String? = nil, db: String? = nil, strict: Bool = false)
    -> Tern.Configuration
  {
    var c = Tern.Configuration(
      writeKey: "test-key", endpoint: endpoint ?? refusedEndpoint, storagePath: db ?? dbPath())
    if strict {
      c.strict = true
      let refused = self.refused
      c.strictHook = { refused.add($0) }
    }
    c.flushInterval = 0.05
    c.commitWindow = 0.005
    c.backoffBase = 0.02
    c.backoffMax = 0.1
    c.httpConnectTimeout = 1
    c.httpRequestTimeout = 2
    // Upload failures to the refusing endpoint are expected: keep the output
    // readable, errors only.
    c.logHandler = { level, line in
      FileHandle.standardError.write(Data("tern [\(level)] \(line)\n".utf8))
    }
    c.logLevel = .error
    return c
  }

  /// Flushes until the queue is empty, tolerating failed attempts (which the
  /// retry policy repeats), up to `seconds`.
  func flushUntilSent(_ tern: Tern, seconds: TimeInterval = 10) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !tern.flush(timeout: 2) {
      guard Date() < deadline else {
        throw TernError(code: .timeout, message: "the queue was not sent within \(seconds) s")
      }
      Thread.sleep(forTimeInterval: 0.05)
    }
  }

  /// Asserts that `body`, a call on a strict client (see `configuration`),
  /// was refused (returned false) with `code` and a message containing
  /// `fragment`.
  func assertThrows(
    _ code: TernError.Code, messageContains fragment: String? = nil, file: StaticString = #filePath,
    line: UInt = #line, _ body: () -> Bool
  ) {
    _ = refused.take()
    XCTAssertFalse(body(), "expected a refusal with \(code), got acceptance", file: file, line: line)
    let errors = refused.take()
    XCTAssertEqual(errors.count, 1, "strict refusals: \(errors)", file: file, line: line)
    guard let error = errors.first else { return }
    XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
    if let fragment {
      XCTAssertTrue(
        error.message.contains(fragment), "\(error.message) lacks \(fragment)", file: file,
        line: line)
    }
  }

  func assertThrows(
    _ code: TernError.Code, messageContains fragment: String? = nil, file: StaticString = #filePath,
    line: UInt = #line, _ body: () throws -> Void
  ) {
    do {
      try body()
      XCTFail("expected TernError \(code), got success", file: file, line: line)
    } catch let error as TernError {
      XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
      if let fragment {
        XCTAssertTrue(
          error.message.contains(fragment), "\(error.message) lacks \(fragment)", file: file,
          line: line)
      }
    } catch {
      XCTFail("expected TernError \(code), got \(error)", file: file, line: line)
    }
  }
}

#if canImport(Glibc)
  private let SOCK_STREAM_VALUE = SOCK_STREAM.rawValue
#else
  private let SOCK_STREAM_VALUE = SOCK_STREAM
#endif
