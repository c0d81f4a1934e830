import Foundation
internal import CTern

extension Tern {
  /// Copies `configuration` into C options, naming the setting that was refused.
  static func apply(_ configuration: Configuration, to options: OpaquePointer) throws {
    func set(_ name: String, _ value: Any, _ status: tern_status) throws {
      guard status == TERN_OK else {
        throw TernError(
          status: status, message: "Configuration.\(name): \(value) is not a valid value")
      }
    }
    func count(_ name: String, _ value: Int?, _ setter: (OpaquePointer, UInt64) -> tern_status)
      throws
    {
      guard let value else { return }
      guard value > 0 else {
        throw TernError.invalid("Configuration.\(name): \(value) must be greater than 0")
      }
      try set(name, value, setter(options, UInt64(value)))
    }
    func duration(
      _ name: String, _ value: TimeInterval?, scale: Double,
      _ setter: (OpaquePointer, Int64) -> tern_status
    ) throws {
      guard let value else { return }
      let scaled = (value * scale).rounded()
      guard scaled.isFinite, scaled >= 0, scaled <= Double(Int64.max / 2) else {
        throw TernError.invalid("Configuration.\(name): \(value) s is not a valid duration")
      }
      try set(name, value, setter(options, Int64(scaled)))
    }
    func text(_ name: String, _ value: String?, _ setter: (OpaquePointer, UnsafePointer<CChar>) -> tern_status)
      throws
    {
      guard let value else { return }
      try checkNoNUL(value, "Configuration.\(name)")
      try set(name, "\"\(value)\"", value.withCString { setter(options, $0) })
    }

    let c = configuration
    guard !c.writeKey.isEmpty else {
      throw TernError.invalid("Configuration.writeKey is required")
    }
    guard !c.storagePath.isEmpty else {
      throw TernError.invalid("Configuration.storagePath is required")
    }
    guard Tern.isHTTPURL(c.endpoint) else {
      throw TernError.invalid(
        "Configuration.endpoint \"\(c.endpoint)\" is not an http:// or https:// URL with a host"
          + " (for example \"https://relay.example.com\")")
    }
    try text("writeKey", c.writeKey, tern_options_set_write_key)
    try text("endpoint", c.endpoint, tern_options_set_endpoint)
    try text("storagePath", c.storagePath, tern_options_set_storage_path)
    try count("flushAt", c.flushAt, tern_options_set_flush_at)
    try duration("flushInterval", c.flushInterval, scale: 1000, tern_options_set_flush_interval_ms)
    try count("maxEventBytes", c.maxEventBytes, tern_options_set_max_event_bytes)
    try count("maxBatchBytes", c.maxBatchBytes, tern_options_set_max_batch_bytes)
    try count("maxBatchEvents", c.maxBatchEvents, tern_options_set_max_batch_events)
    try count("maxQueueEvents", c.maxQueueEvents, tern_options_set_max_queue_events)
    try count("maxQueueBytes", c.maxQueueBytes, tern_options_set_max_queue_bytes)
    try duration("maxEventAge", c.maxEventAge, scale: 1, tern_options_set_max_event_age_s)
    if let durability = c.durability {
      try set(
        "durability", durability,
        tern_options_set_durability(
          options, tern_durability(rawValue: .init(truncatingIfNeeded: durability.rawValue))))
    }
    try duration("commitWindow", c.commitWindow, scale: 1000, tern_options_set_commit_window_ms)
    try count("commitMaxEvents", c.commitMaxEvents, tern_options_set_commit_max_events)
    try count("maxPendingEvents", c.maxPendingEvents, tern_options_set_max_pending_events)
    try duration("backoffBase", c.backoffBase, scale: 1000, tern_options_set_backoff_base_ms)
    try duration("backoffMax", c.backoffMax, scale: 1000, tern_options_set_backoff_max_ms)
    try duration("maxBatchAge", c.maxBatchAge, scale: 1, tern_options_set_max_batch_age_s)
    if let attempts = c.maxAttempts {
      guard attempts > 0, attempts <= Int(Int32.max) else {
        throw TernError.invalid("Configuration.maxAttempts: \(attempts) must be in 1...\(Int32.max)")
      }
      try set("maxAttempts", attempts, tern_options_set_max_attempts(options, Int32(attempts)))
    }
    if let gzip = c.gzip {
      try set("gzip", gzip, tern_options_set_gzip(options, gzip ? 1 : 0))
    }
    if let consent = c.defaultConsent {
      try set(
        "defaultConsent", consent,
        tern_options_set_default_consent(
          options, tern_consent(rawValue: .init(truncatingIfNeeded: consent.rawValue))))
    }
    try text("libraryName", c.libraryName, tern_options_set_library_name)
    try text("libraryVersion", c.libraryVersion, tern_options_set_library_version)
    try duration(
      "httpConnectTimeout", c.httpConnectTimeout, scale: 1000,
      tern_options_set_http_connect_timeout_ms)
    try duration(
      "httpRequestTimeout", c.httpRequestTimeout, scale: 1000,
      tern_options_set_http_request_timeout_ms)
    if let verify = c.httpVerifyTLS {
      try set("httpVerifyTLS", verify, tern_options_set_http_verify_tls(options, verify ? 1 : 0))
    }
    try text("httpCABundle", c.httpCABundle, tern_options_set_http_ca_bundle)
    try text("httpUserAgent", c.httpUserAgent, tern_options_set_http_user_agent)
    if let enabled = c.trackSessions {
      try set("trackSessions", enabled, tern_options_set_track_sessions(options, enabled ? 1 : 0))
    }
    try duration("sessionTimeout", c.sessionTimeout, scale: 1000, tern_options_set_session_timeout_ms)
    if let enabled = c.sessionEvents {
      try set("sessionEvents", enabled, tern_options_set_session_events(options, enabled ? 1 : 0))
    }
    if let enabled = c.fetchSettings {
      try set("fetchSettings", enabled, tern_options_set_fetch_settings(options, enabled ? 1 : 0))
    }
    try text("settingsEndpoint", c.settingsEndpoint, tern_options_set_settings_endpoint)
    guard c.backgroundFlushDeadline.isFinite, c.backgroundFlushDeadline >= 0 else {
      throw TernError.invalid(
        "Configuration.backgroundFlushDeadline: \(c.backgroundFlushDeadline) s is not a valid duration")
    }

    if let handler = c.logHandler {
      try set("logHandler", "handler", installLogger(handler, level: c.logLevel, on: options))
    }
    if let provider = c.contextProvider {
      try set("contextProvider", provider, installContextProvider(provider, on: options))
    }
    if let transport = c.transport {
      try set("transport", transport, installTransport(transport, on: options))
    }
  }
}

extension Tern {
  /// Whether `text` is an absolute http(s) URL with a host: a wrong endpoint
  /// is a configuration error found at creation, not a stream of failed uploads.
  static func isHTTPURL(_ text: String) -> Bool {
    let lower = text.lowercased()
    guard let scheme = ["http://", "https://"].first(where: { lower.hasPrefix($0) }) else {
      return false
    }
    let rest = text.dropFirst(scheme.count)
    let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    return !host.isEmpty && !text.contains(where: { $0.isWhitespace })
  }
}
