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
/// - any other `Encodable` value (through `JSONEncoder`).
/// Anything else is `TernError.Code.invalidArgument` naming the key path.
enum JSONText {
  static let maxDepth = 64

  /// The text of one JSON object built from `dictionary`.
  static func object(_ dictionary: [String: Any], path: String) throws -> String {
    var writer = Writer()
    try writer.writeDictionary(dictionary, path: path, depth: 0)
    return writer.out
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
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
    encoder.dateEncodingStrategy = .custom { date, encoder in
      var container = encoder.singleValueContainer()
      try container.encode(iso8601(date))
    }
    encoder.nonConformingFloatEncodingStrategy = .throw
    do {
      return String(decoding: try encoder.encode(value), as: UTF8.self)
    } catch let error as TernError {
      throw error
    } catch let EncodingError.invalidValue(value, context) {
      let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }
      throw TernError.invalid(
        "\(path)\(keys.joined()): \(value) is not a JSON value (\(context.debugDescription))")
    } catch {
      throw TernError.invalid("\(path): cannot encode \(T.self) as JSON: \(error)")
    }
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

  struct Writer {
    var out = ""

    mutating func writeDictionary(_ dictionary: [String: Any], path: String, depth: Int) throws {
      out.append("{")
      var first = true
      for (key, value) in dictionary {
        if !first { out.append(",") }
        first = false
        writeString(key)
        out.append(":")
        try write(value, path: "\(path).\(key)", depth: depth + 1)
      }
      out.append("}")
    }

    mutating func write(_ value: Any, path: String, depth: Int) throws {
      guard depth < JSONText.maxDepth else {
        throw TernError.invalid("\(path): nested deeper than \(JSONText.maxDepth) levels")
      }
      if let optional = value as? AnyOptional {
        guard let wrapped = optional.wrappedValue else {
          out.append("null")
          return
        }
        try write(wrapped, path: path, depth: depth)
        return
      }
      if value is NSNull {
        out.append("null")
        return
      }
      // Exact Swift types first: on Apple platforms an Int or Bool boxed in Any
      // also casts to NSNumber, which would lose the distinction.
      if type(of: value) == Bool.self, let bool = value as? Bool {
        out.append(bool ? "true" : "false")
        return
      }
      if let string = value as? String {
        writeString(string)
        return
      }
      if let integer = value as? any BinaryInteger {
        out.append(String(describing: integer))
        return
      }
      if let float = value as? any BinaryFloatingPoint {
        guard isFinite(float) else {
          throw TernError.invalid("\(path): \(float) is not a JSON number")
        }
        out.append(String(describing: float))
        return
      }
      if let decimal = value as? Decimal {
        guard decimal.isFinite else {
          throw TernError.invalid("\(path): \(decimal) is not a JSON number")
        }
        out.append(decimal.description)
        return
      }
      if let number = value as? NSNumber {
        try writeNumber(number, path: path)
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
      if let dictionary = value as? [String: Any] {
        try writeDictionary(dictionary, path: path, depth: depth)
        return
      }
      if let dictionary = value as? [AnyHashable: Any] {
        var converted: [String: Any] = [:]
        for (key, element) in dictionary {
          guard let key = key.base as? String else {
            throw TernError.invalid("\(path): dictionary key \(key) is not a String")
          }
          converted[key] = element
        }
        try writeDictionary(converted, path: path, depth: depth)
        return
      }
      if let array = value as? [Any] {
        out.append("[")
        for (index, element) in array.enumerated() {
          if index > 0 { out.append(",") }
          try write(element, path: "\(path)[\(index)]", depth: depth + 1)
        }
        out.append("]")
        return
      }
      if let encodable = value as? any Encodable {
        out.append(try JSONText.encode(encodable, path: path))
        return
      }
      throw TernError.invalid("\(path): a \(type(of: value)) is not a JSON value")
    }

    private func isFinite<F: BinaryFloatingPoint>(_ value: F) -> Bool { value.isFinite }

    private mutating func writeNumber(_ number: NSNumber, path: String) throws {
      #if canImport(Darwin)
        if CFGetTypeID(number) == CFBooleanGetTypeID() {
          out.append(number.boolValue ? "true" : "false")
          return
        }
      #endif
      switch String(cString: number.objCType) {
      #if !canImport(Darwin)
        case "c" where number.int8Value == 0 || number.int8Value == 1:
          // swift-corelibs-foundation stores NSNumber(value: Bool) as "c".
          out.append(number.boolValue ? "true" : "false")
      #endif
      case "f", "d":
        let double = number.doubleValue
        guard double.isFinite else {
          throw TernError.invalid("\(path): \(double) is not a JSON number")
        }
        out.append(String(describing: double))
      case "Q", "L", "I", "S", "C":
        out.append(String(number.uint64Value))
      default:
        out.append(String(number.int64Value))
      }
    }

    mutating func writeString(_ string: String) {
      out.append("\"")
      for scalar in string.unicodeScalars {
        switch scalar {
        case "\"": out.append("\\\"")
        case "\\": out.append("\\\\")
        case "\n": out.append("\\n")
        case "\r": out.append("\\r")
        case "\t": out.append("\\t")
        case "\u{08}": out.append("\\b")
        case "\u{0C}": out.append("\\f")
        case "\u{2028}": out.append("\\u2028")
        case "\u{2029}": out.append("\\u2029")
        default:
          if scalar.value < 0x20 {
            let hex = String(scalar.value, radix: 16)
            out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
          } else {
            out.unicodeScalars.append(scalar)
          }
        }
      }
      out.append("\"")
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
