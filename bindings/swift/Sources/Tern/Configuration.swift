import Foundation

extension Tern {
  /// How events are stored before the call returns.
  public enum Durability: Int32, Sendable, CaseIterable {
    /// Committed within the commit window (default, ≤ 20 ms or 256 events).
    case groupCommit = 0
    /// Committed to SQLite before the event call returns (slower).
    case immediate = 1
  }

  /// The user's consent to analytics.
  public enum Consent: Int32, Sendable, CaseIterable {
    /// Events are stored but not sent.
    case unknown = 0
    /// Events are sent.
    case granted = 1
    /// Queued events are purged; new events are refused.
    case denied = 2
  }

  /// Severity of a log line from the SDK.
  public enum LogLevel: Int32, Sendable, CaseIterable, Comparable {
    case debug = 0, info = 1, warn = 2, error = 3

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
  }

  /// Receives the SDK's log lines. Called on any SDK thread (the caller's for a
  /// rejected event at debug level, the worker's for storage and upload, the
  /// client's error queue for the warning about refused calls, at most one
  /// per status per minute); it must be thread-safe and must not call back
  /// into the client that logs.
  public typealias LogHandler = @Sendable (LogLevel, String) -> Void

  /// Hears about every refused call that is an error (a value that is not
  /// JSON, too large, queue full, after shutdown, a storage failure; never
  /// opt-out or denied consent). Called on a serial queue of the client's,
  /// never on the thread that made the call and never while the client holds
  /// a lock; it may call into the client. Past a backlog of 1024 unhandled
  /// refusals the others are only counted.
  public typealias ErrorHandler = @Sendable (TernError) -> Void

  /// Everything a client is created with. `writeKey` and `storagePath` are
  /// required; every optional left `nil` keeps the SDK's default
  /// (sdk/include/tern/config.h). Durations are in seconds.
  public struct Configuration: Sendable {
    /// The source's write key (sent as the HTTP Basic user name).
    public var writeKey: String
    /// The Segment-compatible endpoint, e.g. "https://relay.example.com".
    public var endpoint: String
    /// The SQLite database file that buffers events (created if missing).
    /// One client per file: a second opener gets `TernError.Code.locked`.
    public var storagePath: String

    /// Upload when this many events are queued (SDK default 20).
    public var flushAt: Int?
    /// Upload at least this often while events are queued.
    public var flushInterval: TimeInterval?
    public var maxEventBytes: Int?
    public var maxBatchBytes: Int?
    public var maxBatchEvents: Int?
    /// Disk caps: past them the oldest events are dropped (and counted).
    public var maxQueueEvents: Int?
    public var maxQueueBytes: Int?
    public var maxEventAge: TimeInterval?
    public var durability: Durability?
    public var commitWindow: TimeInterval?
    public var commitMaxEvents: Int?
    /// Events handed to the worker but not yet stored; past this, event calls
    /// fail with `queueFull`.
    public var maxPendingEvents: Int?
    /// Retry backoff: full jitter from `backoffBase` doubling to `backoffMax`.
    public var backoffBase: TimeInterval?
    public var backoffMax: TimeInterval?
    /// A batch is dropped after this age or this many attempts.
    public var maxBatchAge: TimeInterval?
    public var maxAttempts: Int?
    /// Gzip request bodies (default true).
    public var gzip: Bool?
    /// Consent used until one is set and persisted (SDK default: granted).
    public var defaultConsent: Consent?
    /// `context.library.name` of every event.
    public var libraryName: String = "tern-swift"
    /// `context.library.version`; `nil`: the SDK's version.
    public var libraryVersion: String?

    /// Settings of the built-in libcurl transport (used when `transport` is nil).
    public var httpConnectTimeout: TimeInterval?
    public var httpRequestTimeout: TimeInterval?
    /// Verify the TLS peer and host (default true). Turn off only for local tests.
    public var httpVerifyTLS: Bool?
    public var httpCABundle: String?
    public var httpUserAgent: String?

    /// Who performs the HTTP requests: `nil` is the library's built-in libcurl
    /// transport; `URLSessionTransport()` uses the system's HTTP stack (the
    /// default on Apple platforms, where libcurl is not part of the OS).
    public var transport: (any TernTransport)?
    /// Facts about the app and device merged into every event's `context`.
    /// Defaults to `FoundationContextProvider()`; `nil` keeps the C++ core's
    /// own POSIX facts (os, locale and timezone from the system).
    public var contextProvider: (any TernContextProvider)? = FoundationContextProvider()
    /// Receives log lines at `logLevel` and above; `nil` logs warnings and
    /// errors to stderr (the SDK default).
    public var logHandler: LogHandler?
    public var logLevel: LogLevel = .warn
    /// Receives every refused call that is an error (see `ErrorHandler`).
    /// Such refusals are also logged, at most once per status per minute.
    public var errorHandler: ErrorHandler?
    /// Strict mode (default off), for tests and debug builds, like Android's
    /// StrictMode: every refused call, opt-out and denied consent included,
    /// stops the process with the refusal's message instead of returning
    /// `false` (the event calls do not throw, so they cannot report it any
    /// other way). Leave it off in production.
    public var strict: Bool = false
    /// Follow the app's lifecycle (default true): observe the application
    /// notifications (`Tern.ApplicationNotification`) and call `appLaunched`
    /// (didFinishLaunching, or before the first foreground),
    /// `appForeground` (willEnterForeground, didBecomeActive) and
    /// `appBackground` + `flushAsync` in a background task
    /// (didEnterBackground). Off: the app calls them itself, or not at all.
    public var trackLifecycle: Bool = true
    /// The version and build `appLaunched` compares with the stored ones;
    /// nil: the main bundle's CFBundleShortVersionString / CFBundleVersion
    /// ("" when absent).
    public var appVersion: String?
    public var appBuild: String?
    /// How long the upload when going to the background may run (default
    /// 25 s, inside the ~30 s iOS grants a background task).
    public var backgroundFlushDeadline: TimeInterval = 25
    /// The background-task API the background upload runs in: UIApplication's
    /// on iOS and tvOS; nil elsewhere (the upload runs without one).
    public var backgroundTasks: (any TernBackgroundTasks)?
    /// Sessions (SDK default on): events carry `context.sessionId` (the
    /// session's start in ms since the epoch) and a session's first event
    /// `context.sessionStart`.
    public var trackSessions: Bool?
    /// Time in the background or idle after which a new session starts
    /// (SDK default 300 s).
    public var sessionTimeout: TimeInterval?
    /// Also record "Session Started" / "Session Ended" (SDK default off).
    public var sessionEvents: Bool?
    /// Fetch the settings the relay serves at launch and on foreground (SDK
    /// default on), from `<settingsEndpoint>/v1/projects/<writeKey>/settings`.
    public var fetchSettings: Bool?
    /// nil: the endpoint.
    public var settingsEndpoint: String?
    /// The log throttle's monotonic clock in nanoseconds (tests).
    var monotonicClock: (@Sendable () -> UInt64)?
    /// Strict mode: called with each refusal instead of stopping the process (tests).
    var strictHook: (@Sendable (TernError) -> Void)?

    public init(writeKey: String, endpoint: String, storagePath: String) {
      self.writeKey = writeKey
      self.endpoint = endpoint
      self.storagePath = storagePath
      #if canImport(Darwin)
        self.transport = URLSessionTransport()
      #endif
      #if canImport(UIKit) && !os(watchOS)
        self.backgroundTasks = UIApplicationBackgroundTasks()
      #endif
    }
  }
}
