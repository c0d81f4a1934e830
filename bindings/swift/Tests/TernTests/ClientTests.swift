import Foundation
import XCTest

@testable import Tern

/// The client's calls, their errors and their counters, without a server
/// (the endpoint refuses connections, so nothing leaves the queue).
final class ClientTests: TernTestCase {
  func testEveryEventCallIsAcceptedAndCounted() throws {
    let tern = try Tern(configuration: configuration())
    tern.track("Order Completed", properties: ["total": 42.5, "items": ["a", "b"]])
    tern.track("No Properties")
    tern.identify(userId: "u-1", traits: ["email": "a@example.com"])
    tern.screen("Home")
    tern.page()
    tern.page("Docs", properties: ["path": "/docs"])
    tern.group("g-1", traits: ["name": "Acme"])
    tern.alias("u-2")
    XCTAssertEqual(tern.stats.enqueued, 8)
    XCTAssertEqual(tern.stats.dropped, 0)
    tern.shutdown()
    let stats = tern.stats
    XCTAssertEqual(stats.stored, 8)
    XCTAssertEqual(stats.queueDepth, 8, "not sent: nothing listens at the endpoint")
    XCTAssertGreaterThan(stats.queueBytes, 0)
  }

  func testURLInitializerTakesFileURLsOnly() throws {
    let endpoint = URL(string: refusedEndpoint)!
    let tern = try Tern(
      writeKey: "k", endpoint: endpoint, storage: directory.appendingPathComponent("url.db"))
    tern.track("Via URL")
    XCTAssertTrue(FileManager.default.fileExists(atPath: dbPath("url")))
    assertThrows(.invalidArgument, messageContains: "file URL") {
      _ = try Tern(writeKey: "k", endpoint: endpoint, storage: URL(string: "https://x.example/db")!)
    }
  }

  func testIdentifyAliasAndResetChangeTheIdentity() throws {
    let tern = try Tern(configuration: configuration())
    let first = tern.anonymousId
    XCTAssertNotNil(UUID(uuidString: first), first)
    XCTAssertNil(tern.userId)
    tern.identify(userId: "user-1")
    XCTAssertEqual(tern.userId, "user-1")
    tern.alias("user-2")
    XCTAssertEqual(tern.userId, "user-2")
    tern.reset()
    XCTAssertNil(tern.userId)
    XCTAssertNotEqual(tern.anonymousId, first)
  }

  func testIdentityAndQueueSurviveAReopen() throws {
    let db = dbPath()
    var anonymousId = ""
    do {
      let tern = try Tern(configuration: configuration(db: db))
      anonymousId = tern.anonymousId
      tern.identify(userId: "kept")
      tern.track("Queued")
      tern.shutdown()
    }
    let reopened = try Tern(configuration: configuration(db: db))
    XCTAssertEqual(reopened.anonymousId, anonymousId)
    XCTAssertEqual(reopened.userId, "kept")
    XCTAssertEqual(reopened.stats.queueDepth, 2)
  }

  func testEmptyRequiredNamesAreInvalidArgumentsAndCounted() throws {
    let tern = try Tern(configuration: configuration(strict: true))
    assertThrows(.invalidArgument) { tern.track("") }
    assertThrows(.invalidArgument) { tern.screen("") }
    assertThrows(.invalidArgument) { tern.identify(userId: "") }
    assertThrows(.invalidArgument) { tern.group("") }
    assertThrows(.invalidArgument) { tern.alias("") }
    let stats = tern.stats
    XCTAssertEqual(stats.enqueued, 0)
    XCTAssertEqual(stats.dropped(.invalid), 5)
    XCTAssertEqual(stats.dropped, 5)
  }

  func testErrorsCarryTheStatusNameAndTheLibrarysMessage() throws {
    let tern = try Tern(configuration: configuration(strict: true))
    XCTAssertFalse(tern.track(""), "an empty event name was accepted")
    let errors = refused.take()
    XCTAssertEqual(errors.count, 1)
    for error in errors {
      XCTAssertEqual(error.code, .invalidArgument)
      XCTAssertEqual(error.code.rawValue, 1)
      XCTAssertEqual(error.code.description, "invalid argument")
      XCTAssertFalse(error.message.isEmpty)
      XCTAssertTrue(error.description.hasPrefix("tern: invalid argument: "), error.description)
    }
  }

  func testPropertyValuesThatAreNotJSONAreRejectedNamingTheKeyPath() throws {
    final class NotJSON {}
    let tern = try Tern(configuration: configuration(strict: true))
    assertThrows(.invalidArgument, messageContains: "properties.cart.items[1]") {
      tern.track("Bad", properties: ["cart": ["items": ["ok", NotJSON()]]])
    }
    assertThrows(.invalidArgument, messageContains: "properties.ratio") {
      tern.track("Bad", properties: ["ratio": Double.nan])
    }
    assertThrows(.invalidArgument, messageContains: "properties.inf") {
      tern.track("Bad", properties: ["inf": Float.infinity])
    }
    assertThrows(.invalidArgument, messageContains: "is not a String") {
      tern.track("Bad", properties: ["map": [1: "one"] as [AnyHashable: Any]])
    }
    assertThrows(.invalidArgument, messageContains: "does not encode to a JSON object") {
      tern.track("Bad", properties: [1, 2, 3])
    }
    assertThrows(.invalidArgument, messageContains: "traits.age") {
      tern.identify(userId: "u", traits: ["age": Double.infinity])
    }
    assertThrows(.invalidArgument, messageContains: "context") {
      tern.track("Bad", options: .init(context: ["x": NotJSON()]))
    }
    assertThrows(.invalidArgument, messageContains: "timestamp") {
      tern.track("Bad", options: .init(timestamp: Date(timeIntervalSince1970: -5)))
    }
    assertThrows(.invalidArgument, messageContains: "NUL") { tern.track("Bad\u{0}Name") }
    assertThrows(.invalidArgument, messageContains: "options.userId") {
      tern.track("Bad", options: .init(userId: "a\u{0}b"))
    }
    let stats = tern.stats
    XCTAssertEqual(stats.enqueued, 0)
    XCTAssertEqual(stats.dropped(.invalid), 10, "rejections in Swift are counted like C's")
    XCTAssertEqual(stats.dropped, 10)
  }

  func testEncodableStructsWithBadValuesNameTheCodingPath() throws {
    struct Inner: Encodable { var score: Double }
    struct Outer: Encodable { var inner: [Inner] }
    let tern = try Tern(configuration: configuration(strict: true))
    assertThrows(.invalidArgument, messageContains: "properties.inner[0].score") {
      tern.track("Bad", properties: Outer(inner: [Inner(score: .nan)]))
    }
  }

  func testAnEventAboveMaxEventBytesIsTooLargeAndCounted() throws {
    var config = configuration(strict: true)
    config.maxEventBytes = 2048
    let tern = try Tern(configuration: config)
    assertThrows(.tooLarge) {
      tern.track("Big", properties: ["blob": String(repeating: "x", count: 4096)])
    }
    tern.track("Small", properties: ["blob": "x"])
    XCTAssertEqual(tern.stats.dropped(.tooLarge), 1)
    XCTAssertEqual(tern.stats.enqueued, 1)
  }

  func testMissingOrBadSettingsFailCreationNamingTheSetting() {
    assertThrows(.invalidArgument, messageContains: "writeKey") {
      _ = try Tern(writeKey: "", endpoint: "http://127.0.0.1:9", storage: dbPath())
    }
    assertThrows(.invalidArgument, messageContains: "storagePath") {
      _ = try Tern(writeKey: "k", endpoint: "http://127.0.0.1:9", storage: "")
    }
    var config = configuration()
    config.flushAt = 0
    assertThrows(.invalidArgument, messageContains: "flushAt") { _ = try Tern(configuration: config) }
    config = configuration()
    config.flushInterval = -1
    assertThrows(.invalidArgument, messageContains: "flushInterval") {
      _ = try Tern(configuration: config)
    }
    config = configuration()
    config.maxAttempts = -3
    assertThrows(.invalidArgument, messageContains: "maxAttempts") {
      _ = try Tern(configuration: config)
    }
    config = configuration()
    config.writeKey = "bad\u{0}key"
    assertThrows(.invalidArgument) { _ = try Tern(configuration: config) }
  }

  func testAStoragePathThatCannotBeCreatedIsAStorageError() {
    let path = directory.appendingPathComponent("missing/dir/events.db").path
    do {
      _ = try Tern(configuration: configuration(db: path))
      XCTFail("a database in a missing directory was opened")
    } catch let error as TernError {
      XCTAssertTrue([.storage, .invalidArgument].contains(error.code), "\(error)")
      XCTAssertFalse(error.message.isEmpty)
    } catch {
      XCTFail("\(error)")
    }
  }

  func testASecondClientOnTheSameDatabaseIsLocked() throws {
    let db = dbPath()
    let first = try Tern(configuration: configuration(db: db))
    assertThrows(.locked) { _ = try Tern(configuration: configuration(db: db)) }
    first.track("Still Works")
    first.shutdown()
  }

  func testADatabaseIsReusableOnceItsClientIsReleased() throws {
    let db = dbPath()
    do {
      let first = try Tern(configuration: configuration(db: db))
      first.track("One")
    }  // deinit releases the handle and the database
    let second = try Tern(configuration: configuration(db: db))
    XCTAssertEqual(second.stats.queueDepth, 1)
  }

  func testManyClientsCreatedAndReleased() throws {
    for round in 0..<3 {
      var clients: [Tern] = []
      for i in 0..<10 {
        let tern = try Tern(configuration: configuration(db: dbPath("c\(i)")))
        tern.track("Round", properties: ["round": round, "client": i])
        clients.append(tern)
      }
      XCTAssertEqual(Set(clients.map(\.anonymousId)).count, 10, "each database has its own identity")
      for tern in clients { XCTAssertEqual(tern.stats.enqueued, 1) }
      clients.removeAll()  // releases all ten; their databases are free again
    }
    for i in 0..<10 {
      let tern = try Tern(configuration: configuration(db: dbPath("c\(i)")))
      XCTAssertEqual(tern.stats.queueDepth, 3, "client \(i) kept every round's event")
    }
  }

  func testClientsCreatedAndReleasedConcurrentlyFromTasks() async throws {
    let base = directory!
    let endpoint = refusedEndpoint
    let counts = try await withThrowingTaskGroup(of: UInt64.self) { group in
      for i in 0..<8 {
        group.addTask {
          var config = Tern.Configuration(
            writeKey: "k", endpoint: endpoint,
            storagePath: base.appendingPathComponent("task\(i).db").path)
          config.logHandler = { _, _ in }
          config.durability = .immediate
          var stored: UInt64 = 0
          for round in 0..<3 {
            let tern = try Tern(configuration: config)
            for j in 0..<20 { tern.track("Task Event", properties: ["task": i, "round": round, "j": j]) }
            stored = tern.stats.queueDepth
            await tern.shutdown(timeout: 2)
          }
          return stored
        }
      }
      var all: [UInt64] = []
      for try await count in group { all.append(count) }
      return all
    }
    XCTAssertEqual(counts, Array(repeating: 60, count: 8), "each client reopened its own queue")
  }

  func testOptOutRefusesEventsAndPersists() throws {
    let db = dbPath()
    do {
      let tern = try Tern(configuration: configuration(db: db, strict: true))
      XCTAssertFalse(tern.isOptedOut)
      XCTAssertTrue(tern.setOptedOut(true))
      XCTAssertTrue(tern.isOptedOut)
      assertThrows(.disabled) { tern.track("Refused") }
      XCTAssertEqual(tern.stats.dropped(.optOut), 1)
      XCTAssertFalse(tern.flush(timeout: 1))
      tern.shutdown()
    }
    let reopened = try Tern(configuration: configuration(db: db))
    XCTAssertTrue(reopened.isOptedOut)
    reopened.setOptedOut(false)
    reopened.track("Accepted")
  }

  func testConsentUnknownBuffersGrantedSendsDeniedPurges() throws {
    let collector = try Collector(directory: directory)
    var config = configuration(endpoint: collector.url, strict: true)
    config.defaultConsent = .unknown
    let tern = try Tern(configuration: config)
    XCTAssertEqual(tern.consent, .unknown)
    tern.track("Buffered")
    XCTAssertFalse(tern.flush(timeout: 1), "consent is not granted yet")
    tern.setConsent(.granted)
    XCTAssertEqual(tern.consent, .granted)
    try flushUntilSent(tern)
    XCTAssertEqual(tern.stats.sent, 1)

    tern.setConsent(.unknown)
    tern.track("Purged 1")
    tern.track("Purged 2")
    tern.setConsent(.denied)
    XCTAssertEqual(tern.consent, .denied)
    assertThrows(.disabled) { tern.track("Refused") }
    let stats = tern.stats
    XCTAssertEqual(stats.queueDepth, 0)
    XCTAssertEqual(stats.dropped(.consentDenied), 3, "two purged, one refused")
    tern.shutdown()
    let (events, _) = try collector.stop()
    XCTAssertEqual(events.compactMap { $0["event"] as? String }, ["Buffered"])
  }

  func testShutdownIsIdempotentAndLaterCallsReportShutdown() throws {
    let tern = try Tern(configuration: configuration(strict: true))
    XCTAssertTrue(tern.track("Before"))
    XCTAssertTrue(tern.shutdown(timeout: 1))
    XCTAssertTrue(tern.shutdown(timeout: 1))
    assertThrows(.shutdown) { tern.track("After") }
    XCTAssertFalse(tern.flush(timeout: 1))
    XCTAssertEqual(tern.stats.dropped(.shutdown), 1)
  }

  func testNegativeTimeoutsAreInvalidArgumentsReportedToTheErrorHandler() throws {
    let handled = Recorded<TernError>()
    var config = configuration()
    config.errorHandler = { handled.add($0) }
    let tern = try Tern(configuration: config)
    XCTAssertFalse(tern.flush(timeout: -1))
    XCTAssertFalse(tern.shutdown(timeout: .infinity))
    tern.refusals.sync()
    let errors = handled.snapshot
    XCTAssertEqual(errors.map(\.code), [.invalidArgument, .invalidArgument])
    for error in errors { XCTAssertTrue(error.message.contains("timeout"), error.message) }
  }

  func testImmediateDurabilityStoresBeforeTrackReturns() throws {
    var config = configuration()
    config.durability = .immediate
    let tern = try Tern(configuration: config)
    tern.track("Durable")
    XCTAssertEqual(tern.stats.stored, 1)
  }

  func testLogHandlerReceivesTheSDKsWarnings() throws {
    final class Lines: @unchecked Sendable {
      let lock = NSLock()
      var lines: [(Tern.LogLevel, String)] = []
      func add(_ level: Tern.LogLevel, _ line: String) {
        lock.lock()
        lines.append((level, line))
        lock.unlock()
      }
      var snapshot: [(Tern.LogLevel, String)] {
        lock.lock()
        defer { lock.unlock() }
        return lines
      }
    }
    let lines = Lines()
    var config = configuration()  // nothing listens: the upload fails and is logged
    config.logHandler = { level, line in lines.add(level, line) }
    config.logLevel = .warn
    let tern = try Tern(configuration: config)
    tern.track("Logged")
    XCTAssertFalse(tern.flush(timeout: 5), "nothing listens")
    tern.shutdown()
    let logged = lines.snapshot
    XCTAssertTrue(logged.contains { $0.0 >= .warn && $0.1.contains("upload failed") }, "\(logged)")
    XCTAssertFalse(logged.contains { $0.0 < .warn })
  }

  func testAsyncFlushAndShutdownFromATask() async throws {
    let collector = try Collector(directory: directory)
    let tern = try Tern(configuration: configuration(endpoint: collector.url))
    tern.track("From Task")
    await tern.flush(timeout: 5)
    await tern.shutdown(timeout: 2)
    XCTAssertEqual(tern.stats.sent, 1)
    let (events, _) = try collector.stop()
    XCTAssertEqual(events.count, 1)
  }

  func testHooksAreReleasedWithTheClient() throws {
    final class Provider: TernContextProvider, @unchecked Sendable {
      func context() -> [String: Any] { ["app": ["name": "weak"]] }
    }
    weak var transport: URLSessionTransport?
    weak var provider: Provider?
    do {
      var config = configuration()
      let strongTransport = URLSessionTransport(requestTimeout: 1)
      let strongProvider = Provider()
      transport = strongTransport
      provider = strongProvider
      config.transport = strongTransport
      config.contextProvider = strongProvider
      config.logHandler = { _, _ in }
      let tern = try Tern(configuration: config)
      tern.track("Hooked")
      tern.shutdown()
    }
    XCTAssertNil(transport, "the library released the transport's state")
    XCTAssertNil(provider, "the library released the context provider's state")
  }

  func testHooksAreReleasedWhenCreationFails() throws {
    weak var transport: URLSessionTransport?
    let db = dbPath()
    let owner = try Tern(configuration: configuration(db: db))
    do {
      var config = configuration(db: db)
      let strongTransport = URLSessionTransport(requestTimeout: 1)
      transport = strongTransport
      config.transport = strongTransport
      assertThrows(.locked) { _ = try Tern(configuration: config) }
    }
    XCTAssertNil(transport)
    owner.shutdown()
  }

  func testVersionIsTheLibrarys() {
    XCTAssertFalse(Tern.version.isEmpty)
    XCTAssertEqual(Tern.version.split(separator: ".").count, 3, Tern.version)
  }
}
