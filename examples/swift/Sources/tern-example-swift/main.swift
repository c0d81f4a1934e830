// tern-example-swift: records a short session of events with Tern for Swift
// and uploads them to a Segment-compatible endpoint (the Tern relay).
//
//   tern-example-swift --endpoint URL --write-key KEY --db PATH
//                      [--events N] [--urlsession] [--timeout SECONDS]
//
// Events stay in the SQLite file at PATH until the endpoint acknowledges them,
// so running it again with the relay down and then up loses nothing.
import Foundation
import Tern

struct Arguments {
  var endpoint = ""
  var writeKey = ""
  var db = ""
  var events = 3
  var urlSession = false
  var timeout: TimeInterval = 10
}

func usage() -> Never {
  FileHandle.standardError.write(
    Data(
      """
      usage: tern-example-swift --endpoint URL --write-key KEY --db PATH
                                [--events N] [--urlsession] [--timeout SECONDS]

      """.utf8))
  exit(2)
}

func parse(_ argv: [String]) -> Arguments {
  var a = Arguments()
  var i = 0
  func value() -> String {
    i += 1
    guard i < argv.count else { usage() }
    return argv[i]
  }
  while i < argv.count {
    switch argv[i] {
    case "--endpoint": a.endpoint = value()
    case "--write-key": a.writeKey = value()
    case "--db": a.db = value()
    case "--events": a.events = Int(value()) ?? -1
    case "--timeout": a.timeout = TimeInterval(value()) ?? -1
    case "--urlsession": a.urlSession = true
    case "-h", "--help": usage()
    default:
      FileHandle.standardError.write(Data("tern-example-swift: unknown argument \(argv[i])\n".utf8))
      usage()
    }
    i += 1
  }
  if a.endpoint.isEmpty || a.writeKey.isEmpty || a.db.isEmpty || a.events < 0 || a.timeout < 0 {
    usage()
  }
  return a
}

/// A property value built from Swift types; any `Encodable` works too.
struct Product: Encodable {
  var sku: String
  var name: String
  var price: Double
  var quantity: Int
}

let args = parse(Array(CommandLine.arguments.dropFirst()))
var configuration = Tern.Configuration(
  writeKey: args.writeKey, endpoint: args.endpoint, storagePath: args.db)
configuration.flushAt = 50
if args.urlSession { configuration.transport = URLSessionTransport(requestTimeout: 10) }

// Only creation throws (a bad setting or an unusable storage path). Event
// calls return whether the event was accepted and never throw; refusals that
// are errors go to the error handler.
configuration.errorHandler = { error in
  FileHandle.standardError.write(Data("tern-example-swift: refused: \(error)\n".utf8))
}

let tern: Tern
do {
  tern = try Tern(configuration: configuration)
} catch {
  FileHandle.standardError.write(Data("tern-example-swift: \(error)\n".utf8))
  exit(1)
}
tern.identify(userId: "swift-example-user", traits: ["plan": "free", "beta": true])
tern.screen("Catalog", properties: ["category": "books"])
for i in 0..<args.events {
  tern.track(
    "Product Added",
    properties: Product(sku: "sku-\(i)", name: "Book \(i)", price: 12.5 + Double(i), quantity: 1))
}
tern.track(
  "Order Completed",
  properties: ["total": 42.5, "currency": "EUR", "items": ["a", "b"], "coupon": NSNull()])
if !tern.flush(timeout: args.timeout) {
  // Offline, say: the events stay in the database and go out on the next run.
  print("flush: not everything was sent (\(tern.stats.queueDepth) events kept in \(args.db))")
}
let stats = tern.stats
print(
  "tern-example-swift: enqueued \(stats.enqueued), sent \(stats.sent), queued \(stats.queueDepth), dropped \(stats.dropped) (anonymousId \(tern.anonymousId))"
)
tern.shutdown(timeout: 2)
exit(stats.queueDepth == 0 ? 0 : 1)
