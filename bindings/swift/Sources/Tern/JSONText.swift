import Foundation

/// Serialises Swift values to the JSON text the C API takes (event properties,
/// traits, context, integrations).
///
/// Accepted values, nested to any depth up to `maxDepth`:
/// - `String` (any Unicode; control characters, quotes and backslashes escaped),
/// - `Bool`, every fixed-width integer type, `Float`/`Double` (finite only),
///   `Decimal`, `NSNumber`,
/// - `NSNull` and `Optional.none` (both become `null`),
/// - `Date` (ISO-8601 UTC with milliseconds, as Segment expects), `URL`, `UUID`,
/// - `[String: Any]`/`NSDictionary` with string keys, `[Any]`/`NSArray`,
/// - any other `Encodable` value (through `ValueEncoder`, with the same rules;
///   `Data` becomes base64 as with `JSONEncoder`).
/// Anything else is `TernError.Code.invalidArgument` naming the key path.
enum JSONText {
  static let maxDepth = 64

  /// The text of one JSON object built from `dictionary`.
  static func object(_ dictionary: [String: Any], path: String) throws -> String {
    var writer = Writer(root: path)
    try writer.writeDictionary(dictionary, depth: 0)
    return writer.text
  }

  /// The text of one JSON object encoded from `value`; anything that does not
  /// encode to an object is rejected.
  static func object<T: Encodable>(encoding value: T, path: String) throws -> String {
    // A dictionary literal such as ["total": 42.5] picks the Encodable
    // overload; give it the same treatment as [String: Any].
    if let dictionary = value as Any as? [String: Any] {
      return try object(dictionary, path: path)
    }
    let text = try encode(value, path: path)
    guard text.first(where: { !$0.isWhitespace }) == "{" else {
      throw TernError.invalid("\(path): \(T.self) does not encode to a JSON object")
    }
    return text
  }

  static func encode<T: Encodable>(_ value: T, path: String) throws -> String {
    var writer = Writer(root: path)
    writer.writeNode(try ValueEncoder.tree(value, root: path))
    return writer.text
  }

  /// "2026-11-26T04:40:29.123Z"
  static func iso8601(_ date: Date) -> String {
    let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    var seconds = time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000)
    let millis = Int(ms - Int64(seconds) * 1000)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    return String(
      format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900,
      Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min),
      Int(parts.tm_sec), millis)
  }

  /// Appends JSON text to a byte buffer. The key path of the value being
  /// written is kept as a stack and only turned into text for an error.
  struct Writer {
    private(set) var bytes: [UInt8] = []
    private let root: String
    private var path: [PathItem] = []

    private enum PathItem {
      case key(String)
      case index(Int)
    }

    init(root: String) {
      self.root = root
      bytes.reserveCapacity(256)
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// "properties.cart.items[1]"
    private func pathText() -> String {
      var text = root
      for item in path {
        switch item {
        case .key(let key): text += ".\(key)"
        case .index(let index): text += "[\(index)]"
        }
      }
      return text
    }

    private func failure(_ what: String) -> TernError {
      TernError.invalid("\(pathText()): \(what)")
    }

    private mutating func append(_ ascii: Unicode.Scalar) { bytes.append(UInt8(ascii: ascii)) }
    private mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func writeDictionary(_ dictionary: [String: Any], depth: Int) throws {
      append("{")
      var first = true
      for (key, value) in dictionary {
        if !first { append(",") }
        first = false
        writeString(key)
        append(":")
        path.append(.key(key))
        try write(value, depth: depth + 1)
        path.removeLast()
      }
      append("}")
    }

    /// Writes a tree made by `ValueEncoder`, object keys sorted.
    mutating func writeNode(_ node: Node) {
      if let scalar = node.scalar {
        switch scalar {
        case .null: append("null")
        case .bool(let bool): append(bool ? "true" : "false")
        case .number(let text): append(text)
        case .string(let string): writeString(string)
        }
      } else if let array = node.array {
        append("[")
        for (index, element) in array.enumerated() {
          if index > 0 { append(",") }
          writeNode(element)
        }
        append("]")
      } else {
        append("{")
        var first = true
        for (key, value) in (node.object ?? [:]).sorted(by: { $0.key < $1.key }) {
          if !first { append(",") }
          first = false
          writeString(key)
          append(":")
          writeNode(value)
        }
        append("}")
      }
    }

    mutating func writeArray(_ array: [Any], depth: Int) throws {
      append("[")
      for (index, element) in array.enumerated() {
        if index > 0 { append(",") }
        path.append(.index(index))
        try write(element, depth: depth + 1)
        path.removeLast()
      }
      append("]")
    }

    mutating func write(_ value: Any, depth: Int) throws {
      guard depth < JSONText.maxDepth else {
        throw failure("nested deeper than \(JSONText.maxDepth) levels")
      }
      // Objects (NSNumber, NSString, NSNull, NSDictionary, ...) first: on Apple
      // platforms an NSNumber also casts to Int and Bool, which would lose the
      // distinction between true and 1.
      let type = type(of: value)
      // Fast paths: exact metatype checks are much cheaper than failed casts.
      if type == String.self {
        writeString(value as! String)
        return
      }
      if type == Double.self {
        try writeFloat(value as! Double)
        return
      }
      if type == Int.self {
        append((value as! Int).description)
        return
      }
      if type == Bool.self {
        append(value as! Bool ? "true" : "false")
        return
      }
      if type is AnyObject.Type {
        try writeObject(value, depth: depth)
        return
      }
      // The other common Swift types (these casts also look through
      // Optional.some).
      switch value {
      case let string as String: writeString(string)
      case let bool as Bool: append(bool ? "true" : "false")
      case let int as Int: append(int.description)
      case let double as Double: try writeFloat(double)
      case let dictionary as [String: Any]: try writeDictionary(dictionary, depth: depth)
      case let array as [Any]: try writeArray(array, depth: depth)
      default: try writeOther(value, depth: depth)
      }
    }

    private mutating func writeOther(_ value: Any, depth: Int) throws {
      if let optional = value as? AnyOptional {
        guard let wrapped = optional.wrappedValue else {
          append("null")
          return
        }
        try write(wrapped, depth: depth)
        return
      }
      if let integer = value as? any BinaryInteger {
        append(String(describing: integer))
        return
      }
      if let float = value as? any BinaryFloatingPoint {
        try writeFloat(float)
        return
      }
      if let decimal = value as? Decimal {
        guard decimal.isFinite else { throw failure("\(decimal) is not a JSON number") }
        append(decimal.description)
        return
      }
      if let date = value as? Date {
        writeString(JSONText.iso8601(date))
        return
      }
      if let url = value as? URL {
        writeString(url.absoluteString)
        return
      }
      if let uuid = value as? UUID {
        writeString(uuid.uuidString)
        return
      }
      if let dictionary = value as? [AnyHashable: Any] {
        var converted: [String: Any] = [:]
        for (key, element) in dictionary {
          guard let key = key.base as? String else {
            throw failure("dictionary key \(key) is not a String")
          }
          converted[key] = element
        }
        try writeDictionary(converted, depth: depth)
        return
      }
      if let encodable = value as? any Encodable {
        append(try JSONText.encode(encodable, path: pathText()))
        return
      }
      throw failure("a \(type(of: value)) is not a JSON value")
    }

    private mutating func writeObject(_ value: Any, depth: Int) throws {
      if value is NSNull {
        append("null")
      } else if let number = value as? NSNumber {
        try writeNumber(number)
      } else if let string = value as? String {
        writeString(string)
      } else if let dictionary = value as? [String: Any] {
        try writeDictionary(dictionary, depth: depth)
      } else if let array = value as? [Any] {
        try writeArray(array, depth: depth)
      } else {
        try writeOther(value, depth: depth)
      }
    }

    private mutating func writeFloat<F: BinaryFloatingPoint>(_ value: F) throws {
      guard value.isFinite else { throw failure("\(value) is not a JSON number") }
      append(String(describing: value))
    }

    private mutating func writeNumber(_ number: NSNumber) throws {
      #if canImport(Darwin)
        if CFGetTypeID(number) == CFBooleanGetTypeID() {
          append(number.boolValue ? "true" : "false")
          return
        }
      #endif
      switch String(cString: number.objCType) {
      #if !canImport(Darwin)
        case "c" where number.int8Value == 0 || number.int8Value == 1:
          // swift-corelibs-foundation stores NSNumber(value: Bool) as "c".
          append(number.boolValue ? "true" : "false")
      #endif
      case "f", "d": try writeFloat(number.doubleValue)
      case "Q", "L", "I", "S", "C": append(String(number.uint64Value))
      default: append(String(number.int64Value))
      }
    }

    /// Writes `string` quoted, escaping what JSON requires (and U+2028/U+2029,
    /// which break JavaScript string literals); runs of plain UTF-8 are copied.
    mutating func writeString(_ string: String) {
      append("\"")
      var string = string
      string.withUTF8 { utf8 in
        var runStart = 0
        var i = 0
        while i < utf8.count {
          let byte = utf8[i]
          var escape: String?
          var width = 1
          switch byte {
          case 0x22: escape = "\\\""
          case 0x5C: escape = "\\\\"
          case 0x0A: escape = "\\n"
          case 0x0D: escape = "\\r"
          case 0x09: escape = "\\t"
          case 0x08: escape = "\\b"
          case 0x0C: escape = "\\f"
          case 0x00..<0x20:
            let hex = String(byte, radix: 16)
            escape = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
          case 0xE2 where i + 2 < utf8.count && utf8[i + 1] == 0x80
            && (utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9):
            escape = utf8[i + 2] == 0xA8 ? "\\u2028" : "\\u2029"
            width = 3
          default: break
          }
          if let escape {
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
            bytes.append(contentsOf: escape.utf8)
            i += width
            runStart = i
          } else {
            i += 1
          }
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
      }
      append("\"")
    }
  }
}

/// Lets the writer see through an `Optional` boxed in `Any`.
private protocol AnyOptional {
  var wrappedValue: Any? { get }
}

extension Optional: AnyOptional {
  fileprivate var wrappedValue: Any? {
    switch self {
    case .some(let value): return value
    case .none: return nil
    }
  }
}
