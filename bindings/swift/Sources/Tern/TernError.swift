internal import CTern

/// The error every throwing Tern call raises: the C API's `tern_status` code
/// and the message the library gave for it (`tern_client_last_error`), or one
/// written by the Swift layer for input it rejects before calling C.
public struct TernError: Error, Hashable, Sendable, CustomStringConvertible {
  /// A `tern_status` value. The numbers are fixed forever by the C API.
  public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let ok = Code(rawValue: 0)
    /// Bad input: empty name, a property value that is not JSON, bad option.
    public static let invalidArgument = Code(rawValue: 1)
    /// The event is above `maxEventBytes`.
    public static let tooLarge = Code(rawValue: 2)
    /// The in-memory hand-off queue is full; the event was dropped.
    public static let queueFull = Code(rawValue: 3)
    /// SQLite failed: disk full, read-only, I/O error.
    public static let storage = Code(rawValue: 4)
    /// Another client or process owns the database file.
    public static let locked = Code(rawValue: 5)
    /// The database was corrupt (it was moved aside).
    public static let corrupt = Code(rawValue: 6)
    /// `flush`/`shutdown` did not finish within the timeout.
    public static let timeout = Code(rawValue: 7)
    /// The client is shut down.
    public static let shutdown = Code(rawValue: 8)
    /// Opted out or consent denied (or, for `flush`, not granted yet).
    public static let disabled = Code(rawValue: 9)
    /// An upload failed (network error or HTTP status); the events stay queued.
    public static let transport = Code(rawValue: 10)
    /// A bug in Tern; the message says where.
    public static let `internal` = Code(rawValue: 11)
    public static let notFound = Code(rawValue: 12)
    /// A dependency is down; retry later.
    public static let unavailable = Code(rawValue: 13)

    /// The C library's static name of the status ("invalid argument", ...).
    public var description: String {
      String(cString: tern_status_str(tern_status(rawValue: .init(truncatingIfNeeded: rawValue))))
    }
  }

  public let code: Code
  public let message: String

  public init(code: Code, message: String) {
    self.code = code
    self.message = message
  }

  public var description: String {
    message.isEmpty ? "tern: \(code)" : "tern: \(code): \(message)"
  }
}

extension TernError {
  init(status: tern_status, message: String) {
    self.init(code: Code(rawValue: Int32(truncatingIfNeeded: status.rawValue)), message: message)
  }

  static func invalid(_ message: String) -> TernError {
    TernError(code: .invalidArgument, message: message)
  }
}
