import Foundation
import XCTest

@testable import Tern

/// The Swift-value-to-JSON-text step, on its own: the exact text for each kind
/// of value.
final class JSONTextTests: XCTestCase {
  private func json(_ value: Any) throws -> String {
    var writer = JSONText.Writer(root: "v")
    try writer.write(value, depth: 0)
    return writer.text
  }

  func testScalarsBecomeTheirJSONText() throws {
    XCTAssertEqual(try json(true), "true")
    XCTAssertEqual(try json(false), "false")
    XCTAssertEqual(try json(42), "42")
    XCTAssertEqual(try json(-7), "-7")
    XCTAssertEqual(try json(UInt64.max), "18446744073709551615")
    XCTAssertEqual(try json(Int64.min), "-9223372036854775808")
    XCTAssertEqual(try json(42.5), "42.5")
    XCTAssertEqual(try json(0.1), "0.1")
    XCTAssertEqual(try json(Float(0.1)), "0.1")
    XCTAssertEqual(try json(1e-7), "1e-07")
    XCTAssertEqual(try json(Decimal(string: "12.34")!), "12.34")
    XCTAssertEqual(try json(NSNull()), "null")
    XCTAssertEqual(try json(Optional<Int>.none as Any), "null")
    XCTAssertEqual(try json(Optional<Int>.some(5) as Any), "5")
    XCTAssertEqual(try json(Date(timeIntervalSince1970: 0.5)), "\"1970-01-01T00:00:00.500Z\"")
    XCTAssertEqual(try json(Date(timeIntervalSince1970: -0.5)), "\"1969-12-31T23:59:59.500Z\"")
  }

  func testNSNumbersKeepBooleansApartFromIntegers() throws {
    XCTAssertEqual(try json(NSNumber(value: true)), "true")
    XCTAssertEqual(try json(NSNumber(value: false)), "false")
    XCTAssertEqual(try json(NSNumber(value: 7)), "7")
    XCTAssertEqual(try json(NSNumber(value: 2.5)), "2.5")
    XCTAssertEqual(try json(NSNumber(value: UInt64.max)), "18446744073709551615")
  }

  func testStringsAreEscapedAndUnicodeIsKept() throws {
    XCTAssertEqual(try json("a\"b\\c/d"), #""a\"b\\c/d""#)
    XCTAssertEqual(try json("\n\r\t\u{08}\u{0C}"), #""\n\r\t\b\f""#)
    XCTAssertEqual(try json("\u{01}\u{1F}"), #""\u0001\u001f""#)
    XCTAssertEqual(try json("Grüße 🚀 日本語"), "\"Grüße 🚀 日本語\"")
    XCTAssertEqual(try json("\u{2028}\u{2029}"), #""\u2028\u2029""#)
    XCTAssertEqual(try json("e\u{301}"), "\"e\u{301}\"", "combining marks are not normalised")
  }

  func testContainersNest() throws {
    XCTAssertEqual(try json([1, "two", [3.5, NSNull()]] as [Any]), #"[1,"two",[3.5,null]]"#)
    XCTAssertEqual(try json(["k": ["n": [true]]] as [String: Any]), #"{"k":{"n":[true]}}"#)
    XCTAssertEqual(try json([String: Any]()), "{}")
    XCTAssertEqual(try json(NSDictionary(dictionary: ["a": 1])), #"{"a":1}"#)
    XCTAssertEqual(try json(NSArray(array: ["x"])), #"["x"]"#)
  }

  func testEncodableValuesNestInsideDictionaries() throws {
    struct Item: Encodable {
      var sku: String
      var qty: Int
    }
    XCTAssertEqual(try json(["item": Item(sku: "s-1", qty: 2)] as [String: Any]), #"{"item":{"qty":2,"sku":"s-1"}}"#)
  }

  func testEncodableStructsBecomeObjectsWithSortedKeys() throws {
    enum Tier: String, Encodable { case gold }
    struct Line: Encodable {
      var sku: String
      var price: Double
      var note: String?
    }
    struct Order: Encodable {
      var id: Int
      var tier: Tier
      var lines: [Line]
      var placed: Date
      var link: URL
      var blob: Data
      var tags: Set<String>
      var meta: [String: Int]
      var flag: Bool?
    }
    let order = Order(
      id: 7, tier: .gold, lines: [Line(sku: "a\"b", price: 2.5), Line(sku: "c", price: 1, note: "n")],
      placed: Date(timeIntervalSince1970: 1), link: URL(string: "https://x.example/p")!,
      blob: Data([1, 2, 3]), tags: ["t"], meta: ["b": 2, "a": 1], flag: nil)
    XCTAssertEqual(
      try JSONText.object(encoding: order, path: "properties"),
      #"{"blob":"AQID","id":7,"lines":[{"price":2.5,"sku":"a\"b"},{"note":"n","price":1.0,"sku":"c"}],"#
        + #""link":"https://x.example/p","meta":{"a":1,"b":2},"placed":"1970-01-01T00:00:01.000Z","#
        + #""tags":["t"],"tier":"gold"}"#)
  }

  func testCustomEncodeImplementationsAreFollowed() throws {
    struct Custom: Encodable {
      enum Keys: String, CodingKey { case point, list, nothing }
      func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        var point = container.nestedContainer(keyedBy: Keys.self, forKey: .point)
        try point.encode(1, forKey: .list)
        var list = container.nestedUnkeyedContainer(forKey: .list)
        try list.encode("x")
        try list.encodeNil()
        var inner = list.nestedUnkeyedContainer()
        try inner.encode(true)
        try container.encodeNil(forKey: .nothing)
        var base = container.superEncoder().singleValueContainer()
        try base.encode(UInt8(9))
      }
    }
    XCTAssertEqual(
      try JSONText.object(encoding: Custom(), path: "p"),
      #"{"list":["x",null,[true]],"nothing":null,"point":{"list":1},"super":9}"#)
  }

  func testEncodableValuesThatAreNotObjectsOrNotFiniteAreRejected() {
    XCTAssertThrowsError(try JSONText.object(encoding: "text", path: "properties")) { error in
      XCTAssertTrue("\(error)".contains("does not encode to a JSON object"), "\(error)")
    }
    struct Bad: Encodable { var values: [Double] }
    XCTAssertThrowsError(try JSONText.object(encoding: Bad(values: [1, .infinity]), path: "properties")) {
      error in
      XCTAssertEqual((error as? TernError)?.message, "properties.values[1]: inf is not a JSON number")
    }
  }

  func testTheParsedTextEqualsTheInput() throws {
    let input: [String: Any] = [
      "s": "x\"y", "n": 1, "d": 2.25, "b": true, "a": ["q", 1] as [Any], "o": ["k": "v"],
    ]
    let text = try JSONText.object(input, path: "properties")
    let parsed = try XCTUnwrap(
      try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    XCTAssertEqual(parsed, NSDictionary(dictionary: input))
  }

  func testTooDeepNestingIsRejected() {
    var value: Any = "leaf"
    for _ in 0..<(JSONText.maxDepth + 1) { value = [value] }
    XCTAssertThrowsError(try json(value)) { error in
      XCTAssertEqual((error as? TernError)?.code, .invalidArgument)
    }
  }
}
