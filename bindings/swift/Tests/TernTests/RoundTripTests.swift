import Foundation
import XCTest

@testable import Tern

/// Events built in Swift arrive at a real HTTP endpoint (tern-test-collector)
/// with every value intact, through the built-in libcurl transport and
/// through URLSessionTransport.
final class RoundTripTests: TernTestCase {
  struct Order: Encodable {
    var id: String
    var total: Double
    var tags: [String]
    var shipped: Bool
    var coupon: String?
  }

  nonisolated(unsafe) static let properties: [String: Any] = [
    "total": 42.5,
    "items": ["a", "b"],
    "count": 3,
    "negative": -7,
    "ratio": 0.1,
    "huge": Int64.max,
    "small": Int8(-5),
    "float": Float(1.5),
    "flag": true,
    "off": false,
    "nothing": NSNull(),
    "missing": Optional<String>.none as Any,
    "unicode": "Grüße 🚀 日本語 \u{2028}",
    "escapes": "quote \" backslash \\ newline \n tab \t bell \u{07} slash / nul-free",
    "nested": [
      "level": 2,
      "list": [1, "two", 3.5, false, NSNull()] as [Any],
      "deep": ["x": ["y": "z"]],
    ] as [String: Any],
    "empty": [String: Any](),
    "emptyList": [Any](),
    "date": Date(timeIntervalSince1970: 1_700_000_000.123),
    "url": URL(string: "https://example.com/a?b=c")!,
  ]

  func testBuiltInTransportDeliversEveryCallWithPropertiesIntact() throws {
    try roundTrip(transport: nil)
  }

  func testURLSessionTransportDeliversEveryCallWithPropertiesIntact() throws {
    try roundTrip(transport: URLSessionTransport(requestTimeout: 5))
  }

  private func roundTrip(transport: (any TernTransport)?) throws {
    let collector = try Collector(["--write-key", "test-key"], directory: directory)
    var config = configuration(endpoint: collector.url)
    config.transport = transport
    let tern = try Tern(configuration: config)
    let anonymousId = tern.anonymousId

    tern.track("Order Completed", properties: Self.properties)
    tern.track(
      "Order Shipped", properties: Order(id: "o-1", total: 9.99, tags: ["x"], shipped: true))
    tern.screen("Home", properties: ["tab": "feed"])
    tern.page("Pricing", properties: ["path": "/pricing"])
    tern.identify(userId: "user-1", traits: ["plan": "pro", "age": 41])
    tern.group("group-1", traits: ["name": "Acme"])
    tern.track(
      "With Options", properties: nil,
      options: .init(
        context: ["campaign": ["name": "spring"]], integrations: ["All": false],
        timestamp: Date(timeIntervalSince1970: 1_600_000_000)))
    tern.alias("user-2")
    try flushUntilSent(tern)
    let stats = tern.stats
    XCTAssertEqual(stats.sent, 8)
    XCTAssertEqual(stats.queueDepth, 0)
    XCTAssertEqual(stats.dropped, 0)
    tern.shutdown()

    let (events, summary) = try collector.stop()
    XCTAssertEqual(summary["duplicates"] as? Int, 0)
    XCTAssertEqual(events.count, 8, "\(events)")
    let byName = Dictionary(
      events.map { (($0["event"] as? String) ?? ($0["name"] as? String) ?? ($0["type"] as! String), $0) },
      uniquingKeysWith: { a, _ in a })

    // The [String: Any] properties, value by value.
    let order = try XCTUnwrap(byName["Order Completed"])
    XCTAssertEqual(order["type"] as? String, "track")
    XCTAssertEqual(order["anonymousId"] as? String, anonymousId)
    let p = try XCTUnwrap(order["properties"] as? [String: Any])
    XCTAssertEqual(p["total"] as? Double, 42.5)
    XCTAssertEqual(p["items"] as? [String], ["a", "b"])
    XCTAssertEqual(p["count"] as? Int, 3)
    XCTAssertEqual(p["negative"] as? Int, -7)
    XCTAssertEqual(p["ratio"] as? Double, 0.1)
    XCTAssertEqual(p["huge"] as? Int64, Int64.max)
    XCTAssertEqual(p["small"] as? Int, -5)
    XCTAssertEqual(p["float"] as? Double, 1.5)
    XCTAssertTrue(p["nothing"] is NSNull)
    XCTAssertTrue(p["missing"] is NSNull, "\(String(describing: p["missing"]))")
    XCTAssertEqual(p["unicode"] as? String, "Grüße 🚀 日本語 \u{2028}")
    XCTAssertEqual(p["escapes"] as? String, Self.properties["escapes"] as? String)
    XCTAssertEqual(p["date"] as? String, "2023-11-14T22:13:20.123Z")
    XCTAssertEqual(p["url"] as? String, "https://example.com/a?b=c")
    XCTAssertEqual((p["empty"] as? [String: Any])?.count, 0)
    XCTAssertEqual((p["emptyList"] as? [Any])?.count, 0)
    let nested = try XCTUnwrap(p["nested"] as? [String: Any])
    XCTAssertEqual(nested["level"] as? Int, 2)
    let list = try XCTUnwrap(nested["list"] as? [Any])
    XCTAssertEqual(list.count, 5)
    XCTAssertEqual(list[0] as? Int, 1)
    XCTAssertEqual(list[1] as? String, "two")
    XCTAssertEqual(list[2] as? Double, 3.5)
    XCTAssertTrue(list[4] is NSNull)
    XCTAssertEqual(
      ((nested["deep"] as? [String: Any])?["x"] as? [String: Any])?["y"] as? String, "z")
    XCTAssertEqual(p.count, Self.properties.count, "no key lost or added")
    // Booleans stay booleans (not 1/0): check the collector's JSON text.
    let text = String(
      decoding: try JSONSerialization.data(withJSONObject: p, options: [.sortedKeys]),
      as: UTF8.self)
    XCTAssertTrue(text.contains("\"flag\":true"), text)
    XCTAssertTrue(text.contains("\"off\":false"), text)
    XCTAssertTrue(text.contains("[1,\"two\",3.5,false,null]"), text)

    // The Encodable properties: nil optionals are left out.
    let shipped = try XCTUnwrap(byName["Order Shipped"]?["properties"] as? [String: Any])
    XCTAssertEqual(shipped["id"] as? String, "o-1")
    XCTAssertEqual(shipped["total"] as? Double, 9.99)
    XCTAssertEqual(shipped["tags"] as? [String], ["x"])
    XCTAssertEqual(shipped["shipped"] as? Bool, true)
    XCTAssertNil(shipped["coupon"])

    let screen = try XCTUnwrap(byName["Home"])
    XCTAssertEqual(screen["type"] as? String, "screen")
    XCTAssertEqual((screen["properties"] as? [String: Any])?["tab"] as? String, "feed")
    let page = try XCTUnwrap(byName["Pricing"])
    XCTAssertEqual(page["type"] as? String, "page")

    let identify = try XCTUnwrap(events.first { $0["type"] as? String == "identify" })
    XCTAssertEqual(identify["userId"] as? String, "user-1")
    XCTAssertEqual((identify["traits"] as? [String: Any])?["plan"] as? String, "pro")
    XCTAssertEqual((identify["traits"] as? [String: Any])?["age"] as? Int, 41)

    let group = try XCTUnwrap(events.first { $0["type"] as? String == "group" })
    XCTAssertEqual(group["groupId"] as? String, "group-1")
    XCTAssertEqual(group["userId"] as? String, "user-1")
    XCTAssertEqual((group["traits"] as? [String: Any])?["name"] as? String, "Acme")

    let withOptions = try XCTUnwrap(byName["With Options"])
    let context = try XCTUnwrap(withOptions["context"] as? [String: Any])
    XCTAssertEqual((context["campaign"] as? [String: Any])?["name"] as? String, "spring")
    XCTAssertEqual((withOptions["integrations"] as? [String: Any])?["All"] as? Bool, false)
    XCTAssertTrue(
      (withOptions["timestamp"] as? String)?.hasPrefix("2020-09-13T12:26:40") ?? false,
      "\(String(describing: withOptions["timestamp"]))")

    let alias = try XCTUnwrap(events.first { $0["type"] as? String == "alias" })
    XCTAssertEqual(alias["previousId"] as? String, "user-1")
    XCTAssertEqual(alias["userId"] as? String, "user-2")

    for event in events {
      XCTAssertNotNil(event["messageId"] as? String)
      let library = (event["context"] as? [String: Any])?["library"] as? [String: Any]
      XCTAssertEqual(library?["name"] as? String, "tern-swift")
    }
  }

  func testContextProviderFillsAppOSLocaleAndTimezone() throws {
    let collector = try Collector(directory: directory)
    var config = configuration(endpoint: collector.url)
    config.contextProvider = FoundationContextProvider(extra: [
      "device": ["manufacturer": "Acme", "model": "Test-1"]
    ])
    let tern = try Tern(configuration: config)
    tern.track("Opened")
    try flushUntilSent(tern)
    tern.shutdown()
    let (events, _) = try collector.stop()
    XCTAssertEqual(events.count, 1)
    let context = try XCTUnwrap(events.first?["context"] as? [String: Any])
    let app = try XCTUnwrap(context["app"] as? [String: Any])
    XCTAssertEqual(app["name"] as? String, ProcessInfo.processInfo.processName)
    let os = try XCTUnwrap(context["os"] as? [String: Any])
    #if os(Linux)
      XCTAssertEqual(os["name"] as? String, "Linux")
    #endif
    let v = ProcessInfo.processInfo.operatingSystemVersion
    XCTAssertEqual(os["version"] as? String, "\(v.majorVersion).\(v.minorVersion).\(v.patchVersion)")
    XCTAssertEqual(context["timezone"] as? String, TimeZone.current.identifier)
    XCTAssertEqual(context["locale"] as? String, FoundationContextProvider.locale())
    XCTAssertFalse((context["locale"] as? String ?? "").contains("_"))
    XCTAssertEqual((context["device"] as? [String: Any])?["model"] as? String, "Test-1")
    XCTAssertEqual((context["library"] as? [String: Any])?["name"] as? String, "tern-swift")
  }

  func testURLSessionTransportRetriesAfterA503WithRetryAfter() throws {
    let collector = try Collector(
      ["--fail-first", "2", "--fail-status", "503", "--retry-after", "0"], directory: directory)
    var config = configuration(endpoint: collector.url)
    config.transport = URLSessionTransport(requestTimeout: 5)
    let tern = try Tern(configuration: config)
    for i in 0..<5 { tern.track("Retry \(i)", properties: ["i": i]) }
    try flushUntilSent(tern)
    let stats = tern.stats
    XCTAssertEqual(stats.sent, 5)
    XCTAssertGreaterThanOrEqual(stats.retried, 2)
    XCTAssertGreaterThanOrEqual(stats.attempts, 3)
    tern.shutdown()
    let (events, summary) = try collector.stop()
    XCTAssertEqual(Set(events.compactMap { $0["event"] as? String }).count, 5)
    XCTAssertEqual(summary["duplicates"] as? Int, 0)
  }

  func testURLSessionTransportReportsANetworkErrorAndKeepsTheEvents() throws {
    // A refused connection is a network error (status 0), retried later.
    var config = configuration()
    config.transport = URLSessionTransport(requestTimeout: 2)
    let tern = try Tern(configuration: config)
    tern.track("Kept")
    XCTAssertFalse(tern.flush(timeout: 5), "offline: an ordinary outcome, not an error")
    let stats = tern.stats
    XCTAssertEqual(stats.queueDepth, 1)
    XCTAssertEqual(stats.sent, 0)
    XCTAssertGreaterThanOrEqual(stats.attempts, 1)
  }

  func testConcurrentTrackingFromTasksDeliversEveryEventOnce() async throws {
    let collector = try Collector(directory: directory)
    let tern = try Tern(configuration: configuration(endpoint: collector.url))
    let tasks = 8
    let perTask = 200
    try await withThrowingTaskGroup(of: Void.self) { group in
      for t in 0..<tasks {
        group.addTask {
          for i in 0..<perTask {
            tern.track("Concurrent", properties: ["task": t, "i": i])
          }
        }
      }
      try await group.waitForAll()
    }
    let deadline = Date().addingTimeInterval(15)
    while await !tern.flush(timeout: 5), Date() < deadline {
      try await Task.sleep(nanoseconds: 50_000_000)
    }
    XCTAssertEqual(tern.stats.enqueued, UInt64(tasks * perTask))
    XCTAssertEqual(tern.stats.sent, UInt64(tasks * perTask))
    await tern.shutdown()
    let (events, summary) = try collector.stop()
    XCTAssertEqual(events.count, tasks * perTask)
    XCTAssertEqual(summary["duplicates"] as? Int, 0)
    var seen = Set<String>()
    for event in events {
      let p = event["properties"] as? [String: Any]
      seen.insert("\(p?["task"] as? Int ?? -1)/\(p?["i"] as? Int ?? -1)")
    }
    XCTAssertEqual(seen.count, tasks * perTask, "every (task, i) pair arrived")
  }
}
