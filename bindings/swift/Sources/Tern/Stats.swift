internal import CTern

extension Tern {
  /// Why an event was dropped (the C API's `tern_drop_reason`; values are
  /// fixed, new ones are appended).
  public struct DropReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Rejected by an event call: bad name, JSON, UTF-8.
    public static let invalid = DropReason(rawValue: 0)
    public static let tooLarge = DropReason(rawValue: 1)
    public static let queueFull = DropReason(rawValue: 2)
    /// The oldest were dropped past the disk caps.
    public static let capEvents = DropReason(rawValue: 3)
    public static let capBytes = DropReason(rawValue: 4)
    public static let capAge = DropReason(rawValue: 5)
    public static let serverRejected = DropReason(rawValue: 6)
    public static let retryBudget = DropReason(rawValue: 7)
    public static let storageError = DropReason(rawValue: 8)
    public static let corruptDB = DropReason(rawValue: 9)
    public static let consentDenied = DropReason(rawValue: 10)
    public static let optOut = DropReason(rawValue: 11)
    public static let plugin = DropReason(rawValue: 12)
    public static let shutdown = DropReason(rawValue: 13)

    /// The library's name of the reason ("invalid", "too_large", ...), as in
    /// the relay's metrics.
    public var description: String {
      String(cString: tern_drop_reason_str(tern_drop_reason(rawValue: .init(truncatingIfNeeded: rawValue))))
    }
  }

  /// A snapshot of a client's counters (`tern_stats`).
  public struct Stats: Sendable, Equatable {
    /// Accepted by the event calls.
    public var enqueued: UInt64
    /// Committed to the store.
    public var stored: UInt64
    /// Acknowledged by the server (2xx).
    public var sent: UInt64
    /// Upload attempts that failed and will be retried.
    public var retried: UInt64
    /// Upload attempts (requests) made.
    public var attempts: UInt64
    /// Successful requests.
    public var batchesSent: UInt64
    /// Every dropped event; the sum of `droppedByReason`.
    public var dropped: UInt64
    /// Events in the store, not yet sent, and their size in bytes.
    public var queueDepth: UInt64
    public var queueBytes: UInt64
    /// Handed to the worker, not yet stored.
    public var pending: UInt64
    /// Request bodies on the wire, all attempts.
    public var bytesSent: UInt64
    public var corruptDBRecoveries: UInt64
    /// Application Installed/Updated/Opened/Backgrounded events recorded.
    public var lifecycleEvents: UInt64
    public var sessionsStarted: UInt64
    /// Settings answers: applied (200), not modified (304), failed or
    /// malformed (the last good copy stays).
    public var settingsFetched: UInt64
    public var settingsNotModified: UInt64
    public var settingsFailed: UInt64
    /// Events not recorded because their session is sampled out.
    public var sampledOut: UInt64
    /// Events not captured while the settings' kill switch was on.
    public var killSwitchRefused: UInt64
    /// `flushAsync` outcomes.
    public var backgroundFlushesSent: UInt64
    public var backgroundFlushesTimedOut: UInt64
    public var backgroundFlushesCancelled: UInt64
    /// Drop counts by reason; reasons with no drops are absent.
    public var droppedByReason: [DropReason: UInt64]

    /// Drops for one reason (0 when none).
    public func dropped(_ reason: DropReason) -> UInt64 { droppedByReason[reason] ?? 0 }

    init(raw: tern_stats) {
      enqueued = raw.enqueued
      stored = raw.stored
      sent = raw.sent
      retried = raw.retried
      attempts = raw.attempts
      batchesSent = raw.batches_sent
      dropped = raw.dropped
      queueDepth = raw.queue_depth
      queueBytes = raw.queue_bytes
      pending = raw.pending
      bytesSent = raw.bytes_sent
      corruptDBRecoveries = raw.corrupt_db_recoveries
      lifecycleEvents = raw.lifecycle_events
      sessionsStarted = raw.sessions_started
      settingsFetched = raw.settings_fetched
      settingsNotModified = raw.settings_not_modified
      settingsFailed = raw.settings_failed
      sampledOut = raw.sampled_out
      killSwitchRefused = raw.kill_switch_refused
      backgroundFlushesSent = raw.background_flushes_sent
      backgroundFlushesTimedOut = raw.background_flushes_timed_out
      backgroundFlushesCancelled = raw.background_flushes_cancelled
      var byReason: [DropReason: UInt64] = [:]
      withUnsafeBytes(of: raw.dropped_by_reason) { bytes in
        for (index, count) in bytes.bindMemory(to: UInt64.self).enumerated() where count > 0 {
          byReason[DropReason(rawValue: index)] = count
        }
      }
      droppedByReason = byReason
    }
  }
}
