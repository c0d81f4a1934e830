import Foundation
internal import CTern

/// A Tern client: records analytics events into an on-device SQLite queue and
/// uploads them in gzip batches to a Segment-compatible endpoint (the Tern
/// relay) with retry and backoff.
///
/// ```swift
/// let tern = try Tern(writeKey: "KEY", endpoint: "https://relay.example.com",
///                     storage: dbPath)
/// tern.track("Order Completed", properties: ["total": 42.5, "items": ["a", "b"]])
/// ```
///
/// Errors: the event calls, `reset`, `setConsent` and `setOptedOut` never
/// throw; they return whether the call was accepted (`@discardableResult`).
/// Opt-out and denied consent are not errors: the event is dropped and counted
/// under its reason. Any other refusal (a value that is not JSON, too large,
/// queue full, after shutdown, a storage failure) is counted in `stats`,
/// logged at most once per status per minute and passed to
/// `Configuration.errorHandler`. `flush` and `shutdown` return whether they
/// completed. `Configuration.strict` turns every refusal into a stop with the
/// refusal's message, for debug builds. Only creation throws: a bad setting or
/// an unusable storage path is a configuration error found at startup.
///
/// Threads and isolation: `Tern` is `@unchecked Sendable` because the C client
/// it wraps is thread-safe: every call may be made from any thread, any task
/// or actor, concurrently; the only call that is not (`tern_client_destroy`)
/// runs in `deinit`, when no other reference exists. The event calls never
/// block on disk or network (unless `durability` is `.immediate`): they
/// validate and serialise on the calling thread and hand the event to the
/// client's background worker. `flush` and `shutdown` block the calling
/// thread up to their timeout; from Swift concurrency use their `async`
/// overloads, which wait on a dispatch thread instead of a cooperative one.
/// Hooks (transport, context provider, log handler) run on the SDK's threads.
///
/// App lifecycle (`Configuration.trackLifecycle`, on by default): the client
/// observes the application notifications (UIApplication's on iOS; the same
/// names posted on `NotificationCenter.default` elsewhere) and records
/// "Application Installed/Updated/Opened/Backgrounded"; going to the
/// background uploads with `flushAsync` inside a background task. Events carry
/// `context.sessionId`; the relay's settings are fetched at launch and on
/// foreground.
///
/// Lifetime: the handle is released in `deinit`, which shuts the client down
/// (up to 2 s) if `shutdown` was not called; what was not sent stays on disk
/// and is sent by the next client opened on the same `storagePath`.
public final class Tern: @unchecked Sendable {
  let handle: OpaquePointer
  /// Events rejected by the Swift layer before reaching C (a property value
  /// that is not JSON, a NUL in a name); added to the `.invalid` drops.
  private let rejectedInSwift = Counter()
  /// Logging, error handler and strict mode for refused calls.
  let refusals: Refusals
  /// Forwards the application notifications (`Configuration.trackLifecycle`).
  private var lifecycleObserver: LifecycleObserver?

  /// The version of the C library ("0.1.0").
  public static var version: String { String(cString: tern_version()) }

  /// Opens (or creates) the store, restores the identity and the queue, and
  /// starts the background worker.
  /// - Throws: `TernError` with `.invalidArgument` (missing write key or
  ///   storage path, a bad option), `.locked` (another client or process owns
  ///   the database), `.storage` (it cannot be opened or created).
  public init(configuration: Configuration) throws {
    guard let options = tern_options_new() else {
      throw TernError(code: .internal, message: "out of memory")
    }
    defer { tern_options_free(options) }
    try Tern.apply(configuration, to: options)
    var client: OpaquePointer?
    let status = tern_client_create(options, &client)
    guard status == TERN_OK, let client else {
      throw TernError(status: status, message: String(cString: tern_client_last_error(nil)))
    }
    handle = client
    refusals = Refusals(configuration: configuration)
    if configuration.trackLifecycle {
      let observer = LifecycleObserver(client: self, configuration: configuration)
      observer.start()
      lifecycleObserver = observer
    }
  }

  /// A client with the defaults for everything but the three required settings.
  public convenience init(writeKey: String, endpoint: String, storage: String) throws {
    try self.init(
      configuration: Configuration(writeKey: writeKey, endpoint: endpoint, storagePath: storage))
  }

  /// The same with URLs; `storage` must be a file URL.
  public convenience init(writeKey: String, endpoint: URL, storage: URL) throws {
    guard storage.isFileURL else {
      throw TernError.invalid("storage must be a file URL, not \(storage)")
    }
    try self.init(writeKey: writeKey, endpoint: endpoint.absoluteString, storage: storage.path)
  }

  deinit {
    tern_client_destroy(handle)
  }

  // MARK: - Events

  /// Per-call overrides for the event calls.
  public struct EventOptions {
    /// Overrides the stored user id for this event.
    public var userId: String?
    /// Overrides the stored anonymous id for this event.
    public var anonymousId: String?
    /// Merged over the provider's context for this event.
    public var context: [String: Any]?
    /// The Segment `integrations` object.
    public var integrations: [String: Any]?
    /// Device time of the event; `nil`: now.
    public var timestamp: Date?

    public init(
      userId: String? = nil, anonymousId: String? = nil, context: [String: Any]? = nil,
      integrations: [String: Any]? = nil, timestamp: Date? = nil
    ) {
      self.userId = userId
      self.anonymousId = anonymousId
      self.context = context
      self.integrations = integrations
      self.timestamp = timestamp
    }
  }

  /// Records a track event. `properties` holds JSON-like values (see
  /// "Property values" in README.md): strings, numbers, bools, `NSNull`/`nil`,
  /// `Date`, arrays, `[String: Any]`, `Encodable`.
  ///
  /// Returns `true` when the event was accepted (it will be stored and sent),
  /// `false` when it was dropped and counted in `stats`: an empty name or a
  /// value that is not JSON (`.invalidArgument`), `.tooLarge`, `.queueFull`,
  /// opted out or consent denied (`.disabled`, not an error), after shutdown,
  /// `.storage` (immediate durability only). Never throws; see the type's
  /// comment for how refusals are reported. The other event calls are alike.
  @discardableResult
  public func track(
    _ event: String, properties: [String: Any]? = nil, options: EventOptions? = nil
  ) -> Bool {
    record("track", [("event", event)], options, {
      try properties.map { try JSONText.object($0, path: "properties") }
    }) { json, o in tern_client_track(handle, event, json, o) }
  }

  /// Records a track event whose properties are an `Encodable` value that
  /// encodes to a JSON object.
  @discardableResult
  public func track<Properties: Encodable>(
    _ event: String, properties: Properties, options: EventOptions? = nil
  ) -> Bool {
    record("track", [("event", event)], options, {
      try JSONText.object(encoding: properties, path: "properties")
    }) { json, o in tern_client_track(handle, event, json, o) }
  }

  /// Sets and persists the user id and merges `traits` into the stored traits.
  @discardableResult
  public func identify(
    userId: String, traits: [String: Any]? = nil, options: EventOptions? = nil
  ) -> Bool {
    record("identify", [("userId", userId)], options, {
      try traits.map { try JSONText.object($0, path: "traits") }
    }) { json, o in tern_client_identify(handle, userId, json, o) }
  }

  @discardableResult
  public func identify<Traits: Encodable>(
    userId: String, traits: Traits, options: EventOptions? = nil
  ) -> Bool {
    record("identify", [("userId", userId)], options, {
      try JSONText.object(encoding: traits, path: "traits")
    }) { json, o in tern_client_identify(handle, userId, json, o) }
  }

  /// Records a screen view; `name` is required.
  @discardableResult
  public func screen(
    _ name: String, properties: [String: Any]? = nil, options: EventOptions? = nil
  ) -> Bool {
    record("screen", [("name", name)], options, {
      try properties.map { try JSONText.object($0, path: "properties") }
    }) { json, o in tern_client_screen(handle, name, json, o) }
  }

  /// Records a page view (web-style); `name` may be empty.
  @discardableResult
  public func page(
    _ name: String? = nil, properties: [String: Any]? = nil, options: EventOptions? = nil
  ) -> Bool {
    record("page", [("name", name)], options, {
      try properties.map { try JSONText.object($0, path: "properties") }
    }) { json, o in tern_client_page(handle, name, json, o) }
  }

  /// Associates the user with a group; `groupId` is required.
  @discardableResult
  public func group(
    _ groupId: String, traits: [String: Any]? = nil, options: EventOptions? = nil
  ) -> Bool {
    record("group", [("groupId", groupId)], options, {
      try traits.map { try JSONText.object($0, path: "traits") }
    }) { json, o in tern_client_group(handle, groupId, json, o) }
  }

  /// Links the current identity (`previousId`) to `newUserId`, which becomes
  /// the user id.
  @discardableResult
  public func alias(_ newUserId: String, options: EventOptions? = nil) -> Bool {
    record("alias", [("newUserId", newUserId)], options, { nil }) { _, o in
      tern_client_alias(handle, newUserId, o)
    }
  }

  // MARK: - Delivery and lifecycle

  /// Commits what is pending and uploads everything queued now, blocking the
  /// calling thread up to `timeout` seconds. Returns `true` when the queue is
  /// empty, `false` otherwise: an upload failed, e.g. offline (an ordinary
  /// outcome: the events stay on disk and are retried by the normal policy),
  /// the timeout passed, consent is not granted or the user opted out, the
  /// client is shut down, or `timeout` is not a finite number >= 0 (reported
  /// to the error handler). Never throws.
  @discardableResult
  public func flush(timeout: TimeInterval = 10) -> Bool {
    guard let ms = milliseconds(timeout, "flush") else { return false }
    return tern_client_flush(handle, ms) == TERN_OK
  }

  /// `flush(timeout:)` for Swift concurrency: waits on a dispatch thread, so
  /// no cooperative thread is blocked.
  @discardableResult
  public func flush(timeout: TimeInterval = 10) async -> Bool {
    await offload { self.flush(timeout: timeout) }
  }

  /// Forgets the user: clears user id and traits and makes a new anonymous id.
  /// Queued events keep the identity they were recorded with. Never throws.
  @discardableResult
  public func reset() -> Bool {
    control("reset", tern_client_reset(handle))
  }

  /// Stops accepting events, commits what is pending, tries one last upload
  /// if `timeout` allows, and stops the worker. Idempotent. What is not sent
  /// stays on disk. Returns `false` when the worker did not stop within
  /// `timeout` (it stops at its next step) or `timeout` is invalid. Never
  /// throws; event calls made afterwards return `false`.
  @discardableResult
  public func shutdown(timeout: TimeInterval = 2) -> Bool {
    guard let ms = milliseconds(timeout, "shutdown") else { return false }
    return tern_client_shutdown(handle, ms) == TERN_OK
  }

  /// `shutdown(timeout:)` for Swift concurrency (see `flush`).
  @discardableResult
  public func shutdown(timeout: TimeInterval = 2) async -> Bool {
    await offload { self.shutdown(timeout: timeout) }
  }

  // MARK: - Privacy

  /// The persisted consent (`Configuration.defaultConsent` until one is set).
  public var consent: Consent {
    var value = tern_consent(rawValue: 0)
    guard tern_client_consent(handle, &value) == TERN_OK else { return .unknown }
    return Consent(rawValue: Int32(truncatingIfNeeded: value.rawValue)) ?? .unknown
  }

  /// Sets and persists consent: `.unknown` stores events without sending,
  /// `.granted` sends them, `.denied` purges the queue and refuses new events.
  /// Returns `false` (never throws) when it could not be persisted or the
  /// client is shut down.
  @discardableResult
  public func setConsent(_ consent: Consent) -> Bool {
    control(
      "setConsent",
      tern_client_set_consent(handle, tern_consent(rawValue: .init(truncatingIfNeeded: consent.rawValue))))
  }

  /// Whether the user opted out (persisted).
  public var isOptedOut: Bool {
    var value: Int32 = 0
    guard tern_client_opted_out(handle, &value) == TERN_OK else { return false }
    return value != 0
  }

  /// Sets and persists opt-out. While opted out, event calls return `false`
  /// (and count the drop; not an error) and nothing is uploaded; queued
  /// events stay on disk. Returns `false` (never throws) when it could not be
  /// persisted or the client is shut down.
  @discardableResult
  public func setOptedOut(_ optedOut: Bool) -> Bool {
    control("setOptedOut", tern_client_set_opt_out(handle, optedOut ? 1 : 0))
  }

  // MARK: - Identity and stats

  /// The current anonymous id (a UUID, persisted; new after `reset()`).
  public var anonymousId: String {
    readString { tern_client_anonymous_id(handle, $0, $1, $2) }
  }

  /// The current user id, or `nil` before `identify`/`alias` and after `reset()`.
  public var userId: String? {
    let id = readString { tern_client_user_id(handle, $0, $1, $2) }
    return id.isEmpty ? nil : id
  }

  /// What the client did so far: counters, queue depth, drops by reason.
  public var stats: Stats {
    var raw = tern_stats()
    raw.struct_size = UInt32(MemoryLayout<tern_stats>.size)
    if tern_client_stats(handle, &raw) != TERN_OK { raw = tern_stats() }
    var stats = Stats(raw: raw)
    let rejected = rejectedInSwift.value
    if rejected > 0 {
      stats.droppedByReason[.invalid, default: 0] += rejected
      stats.dropped += rejected
    }
    return stats
  }

  // MARK: - Plumbing

  /// The error for a non-OK status of a call just made on this thread.
  private func error(_ what: String, _ status: tern_status) -> TernError {
    // The message belongs to this thread's last failed call on the handle, so
    // it is read right after the call, on the same thread.
    TernError(status: status, message: "\(what): " + String(cString: tern_client_last_error(handle)))
  }

  func control(_ what: String, _ status: tern_status) -> Bool {
    status == TERN_OK ? true : refusals.refuse(error(what, status))
  }

  /// An event call: validates and serialises on the Swift side (`json`, the
  /// text arguments, `options`), runs `body` with the JSON text and the C
  /// `tern_event_options` (or NULL), and turns a refusal into `false`.
  /// `strings` are the call's text arguments, checked for NUL characters (C
  /// would silently cut the text there).
  private func record(
    _ what: String, _ strings: [(String, String?)], _ options: EventOptions?,
    _ json: () throws -> String?,
    _ body: (String?, UnsafePointer<tern_event_options>?) -> tern_status
  ) -> Bool {
    let text: String?
    let prepared: PreparedOptions?
    do {
      text = try json()
      prepared = try prepare(what, strings, options)
    } catch let error as TernError {
      rejectedInSwift.increment()
      return refusals.refuse(TernError(code: error.code, message: "\(what): \(error.message)"))
    } catch {
      rejectedInSwift.increment()
      return refusals.refuse(TernError.invalid("\(what): \(error)"))
    }
    let status: tern_status
    if let options, let prepared {
      status = withOptionalCString(options.userId) { userId in
        withOptionalCString(options.anonymousId) { anonymousId in
          withOptionalCString(prepared.context) { context in
            withOptionalCString(prepared.integrations) { integrations in
              var c = tern_event_options()
              c.struct_size = UInt32(MemoryLayout<tern_event_options>.size)
              c.user_id = userId
              c.anonymous_id = anonymousId
              c.context_json = context
              c.integrations_json = integrations
              c.timestamp_ms = prepared.timestampMs
              return body(text, &c)
            }
          }
        }
      }
    } else {
      status = body(text, nil)
    }
    return status == TERN_OK ? true : refusals.refuse(error(what, status))
  }

  private func prepare(
    _ what: String, _ strings: [(String, String?)], _ options: EventOptions?
  ) throws -> PreparedOptions? {
    for (name, value) in strings { try Tern.checkNoNUL(value, name) }
    guard let options else { return nil }
    try Tern.checkNoNUL(options.userId, "options.userId")
    try Tern.checkNoNUL(options.anonymousId, "options.anonymousId")
    var prepared = PreparedOptions()
    prepared.context = try options.context.map { try JSONText.object($0, path: "context") }
    prepared.integrations = try options.integrations.map {
      try JSONText.object($0, path: "integrations")
    }
    if let timestamp = options.timestamp {
      let ms = (timestamp.timeIntervalSince1970 * 1000).rounded()
      guard ms.isFinite, ms >= 1, ms < 1e15 else {
        throw TernError.invalid("timestamp \(timestamp) is out of range")
      }
      prepared.timestampMs = Int64(ms)
    }
    return prepared
  }

  private struct PreparedOptions {
    var context: String?
    var integrations: String?
    var timestampMs: Int64 = 0
  }

  static func checkNoNUL(_ value: String?, _ name: String) throws {
    if let value, value.utf8.contains(0) {
      throw TernError.invalid("\(name) contains a NUL character")
    }
  }

  private func readString(
    _ read: (UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<Int>) -> tern_status
  ) -> String {
    var capacity = 64
    while true {
      var buffer = [CChar](repeating: 0, count: capacity)
      var length = 0
      guard read(&buffer, capacity, &length) == TERN_OK else { return "" }
      if length < capacity {
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
      }
      capacity = length + 1
    }
  }

  private func offload(_ body: @escaping @Sendable () -> Bool) async -> Bool {
    await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
      DispatchQueue.global(qos: .utility).async {
        continuation.resume(returning: body())
      }
    }
  }

  /// `seconds` in ms for `what`, or nil (reported, never fatal) when invalid.
  func milliseconds(_ seconds: TimeInterval, _ what: String) -> Int64? {
    do {
      return try Tern.milliseconds(seconds, "\(what): timeout")
    } catch let error as TernError {
      refusals.report(error)
      return nil
    } catch {
      return nil
    }
  }

  static func milliseconds(_ seconds: TimeInterval, _ name: String) throws -> Int64 {
    let ms = (seconds * 1000).rounded()
    guard ms.isFinite, ms >= 0, ms <= Double(Int64.max / 2) else {
      throw TernError.invalid("\(name) must be a finite number of seconds >= 0, not \(seconds)")
    }
    return Int64(ms)
  }
}

func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
  guard let string else { return body(nil) }
  return string.withCString { body($0) }
}

/// A thread-safe event counter.
final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var count: UInt64 = 0

  func increment() {
    lock.lock()
    count += 1
    lock.unlock()
  }

  var value: UInt64 {
    lock.lock()
    defer { lock.unlock() }
    return count
  }
}
