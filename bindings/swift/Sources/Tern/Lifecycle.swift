import Foundation
internal import CTern

#if canImport(UIKit) && !os(watchOS)
  import UIKit
#endif

// The application lifecycle: the C API's lifecycle calls and flush_async, the
// observer that forwards the operating system's notifications to them
// (`Configuration.trackLifecycle`), and the background-task seam that keeps
// the process alive while the background flush runs.

extension Tern {
  /// How a `flushAsync` ended (the C API's `tern_flush_result`).
  public enum FlushResult: Int32, Sendable, CaseIterable {
    /// Everything queued at the call was sent (or nothing was queued).
    case sent = 0
    /// The deadline came first (offline, server down); the rest stays queued.
    case timedOut = 1
    /// Shut down, or nothing may be sent (consent, opt-out, the kill switch).
    case cancelled = 2
  }

  /// The notifications `trackLifecycle` observes on `NotificationCenter.default`:
  /// UIApplication's (`UIApplication.didEnterBackgroundNotification` and so on;
  /// these names have the same raw values, so they are the same notifications,
  /// spelled out because some UIKit SDKs isolate UIKit's constants to the main
  /// actor). Where there is no UIKit (Linux, macOS), a host or a test posts them.
  public enum ApplicationNotification {
    public static let didFinishLaunching = Notification.Name(
      "UIApplicationDidFinishLaunchingNotification")
    public static let willEnterForeground = Notification.Name(
      "UIApplicationWillEnterForegroundNotification")
    public static let didBecomeActive = Notification.Name("UIApplicationDidBecomeActiveNotification")
    public static let didEnterBackground = Notification.Name(
      "UIApplicationDidEnterBackgroundNotification")
  }

  // MARK: - Lifecycle calls

  /// The process started: "Application Installed" on the first launch ever,
  /// "Application Updated" when `build` differs from the stored one (stored
  /// with the event, in one transaction), nothing otherwise. Once per process
  /// (later calls are ignored). It does not mean the app is visible: a
  /// process launched in the background (a push, a background fetch) starts
  /// no session. `url` and `referrer` go into the next "Application Opened".
  /// With `trackLifecycle` on, the client calls it itself. Never throws.
  @discardableResult
  public func appLaunched(
    version: String, build: String, url: String? = nil, referrer: String? = nil
  ) -> Bool {
    do {
      try Tern.checkNoNUL(version, "version")
      try Tern.checkNoNUL(build, "build")
      try Tern.checkNoNUL(url, "url")
      try Tern.checkNoNUL(referrer, "referrer")
    } catch let error as TernError {
      return refusals.refuse(TernError(code: error.code, message: "appLaunched: \(error.message)"))
    } catch {
      return refusals.refuse(TernError.invalid("appLaunched: \(error)"))
    }
    let status = withOptionalCString(url) { url in
      withOptionalCString(referrer) { referrer in
        tern_client_app_launched(handle, version, build, url, referrer)
      }
    }
    return control("appLaunched", status)
  }

  /// The app came to the foreground: "Application Opened" (from_background
  /// false the first time after launch), continuing or starting a session,
  /// and a settings fetch when one is due. Idempotent in the foreground.
  @discardableResult
  public func appForeground() -> Bool {
    control("appForeground", tern_client_app_foreground(handle))
  }

  /// The app went to the background: "Application Backgrounded"; the
  /// session's timeout runs from here. Idempotent in the background.
  @discardableResult
  public func appBackground() -> Bool {
    control("appBackground", tern_client_app_background(handle))
  }

  /// The current session's id (its start in ms since the epoch, as in
  /// `context.sessionId`), or nil when there is none.
  public var sessionId: Int64? {
    var id: Int64 = 0
    guard tern_client_session_id(handle, &id) == TERN_OK, id != 0 else { return nil }
    return id
  }

  /// Uploads what is queued now without blocking the caller: the worker sends
  /// until everything queued at the call is sent or `deadline` seconds pass,
  /// then calls `completion` exactly once, on the worker thread (it must
  /// return promptly). Nothing on the calling thread touches disk or network,
  /// so the main thread may call it. Returns `true` when started; `false`
  /// (never throws; `completion` is then never called) for an invalid
  /// deadline or a shut down client.
  @discardableResult
  public func flushAsync(
    deadline: TimeInterval, completion: @escaping @Sendable (FlushResult) -> Void
  ) -> Bool {
    guard let ms = milliseconds(deadline, "flushAsync") else { return false }
    let box = Unmanaged.passRetained(FlushBox(completion)).toOpaque()
    let status = tern_client_flush_async(
      handle, ms,
      { result, userData in
        guard let userData else { return }
        // The one call: it owns the box from here.
        let box = Unmanaged<FlushBox>.fromOpaque(userData).takeRetainedValue()
        box.completion(FlushResult(rawValue: Int32(truncatingIfNeeded: result.rawValue)) ?? .cancelled)
      }, box)
    if status != TERN_OK {
      Unmanaged<FlushBox>.fromOpaque(box).release()  // never called: release it here
      return control("flushAsync", status)
    }
    return true
  }
}

/// The `user_data` of one flush_async: retained until its one callback.
final class FlushBox {
  let completion: @Sendable (Tern.FlushResult) -> Void
  init(_ completion: @escaping @Sendable (Tern.FlushResult) -> Void) { self.completion = completion }
}

// MARK: - Background tasks

/// The operating system's background-task API, as the background flush uses
/// it: on iOS and tvOS `UIApplicationBackgroundTasks` (UIApplication's
/// `beginBackgroundTask`/`endBackgroundTask`), elsewhere a host's own or none.
/// Tern ends every task it begins exactly once: when the flush completes or
/// when `expirationHandler` runs, whichever comes first.
public protocol TernBackgroundTasks: Sendable {
  /// Begins a task; `expirationHandler` runs (on any thread) when the system
  /// is about to end the process's background time. Returns the task's
  /// identifier, or nil when no task could be started.
  func beginBackgroundTask(name: String, expirationHandler: @escaping @Sendable () -> Void) -> Int?
  /// Ends a task `beginBackgroundTask` returned. Called from any thread.
  func endBackgroundTask(_ identifier: Int)
}

#if canImport(UIKit) && !os(watchOS)
  /// `TernBackgroundTasks` over `UIApplication.shared` (the default on iOS and tvOS).
  public final class UIApplicationBackgroundTasks: TernBackgroundTasks {
    public init() {}

    public func beginBackgroundTask(
      name: String, expirationHandler: @escaping @Sendable () -> Void
    ) -> Int? {
      // didEnterBackground is posted on the main thread, where this runs.
      let begin: @MainActor () -> Int? = {
        let id = UIApplication.shared.beginBackgroundTask(
          withName: name, expirationHandler: expirationHandler)
        return id == .invalid ? nil : id.rawValue
      }
      if Thread.isMainThread { return MainActor.assumeIsolated(begin) }
      return DispatchQueue.main.sync { MainActor.assumeIsolated(begin) }
    }

    /// Called from the worker thread (the flush's completion) or the
    /// expiration handler; UIKit's own call is made on the main thread.
    public func endBackgroundTask(_ identifier: Int) {
      let id = UIBackgroundTaskIdentifier(rawValue: identifier)
      if Thread.isMainThread {
        MainActor.assumeIsolated { UIApplication.shared.endBackgroundTask(id) }
      } else {
        DispatchQueue.main.async {
          MainActor.assumeIsolated { UIApplication.shared.endBackgroundTask(id) }
        }
      }
    }
  }
#endif

/// Ends one background task exactly once, whichever of the flush's completion
/// and the expiration handler asks first (either may come before `begun`).
final class BackgroundTaskEnder: @unchecked Sendable {
  private let tasks: any TernBackgroundTasks
  private let lock = NSLock()
  private var identifier: Int?
  private var begun = false
  private var endAsked = false
  private var ended = false

  init(_ tasks: any TernBackgroundTasks) { self.tasks = tasks }

  /// The task `beginBackgroundTask` returned (nil: none to end).
  func begun(_ identifier: Int?) {
    lock.lock()
    self.identifier = identifier
    begun = true
    let endNow = endAsked && !ended && identifier != nil
    if endNow { ended = true }
    lock.unlock()
    if endNow, let identifier { tasks.endBackgroundTask(identifier) }
  }

  func end() {
    lock.lock()
    endAsked = true
    let endNow = begun && !ended && identifier != nil
    if endNow { ended = true }
    let identifier = self.identifier
    lock.unlock()
    if endNow, let identifier { tasks.endBackgroundTask(identifier) }
  }
}

// MARK: - The observer

/// Forwards the application notifications to a client (see
/// `Configuration.trackLifecycle`). Holds the client weakly; removes its
/// observers when released with the client.
final class LifecycleObserver: @unchecked Sendable {
  private let center: NotificationCenter
  private var tokens: [NSObjectProtocol] = []
  private weak var client: Tern?
  private let version: String
  private let build: String
  private let tasks: (any TernBackgroundTasks)?
  private let deadline: TimeInterval
  private let lock = NSLock()
  private var launchRecorded = false

  init(client: Tern, configuration c: Tern.Configuration, center: NotificationCenter = .default) {
    self.center = center
    self.client = client
    let info = Bundle.main.infoDictionary
    version = c.appVersion ?? (info?["CFBundleShortVersionString"] as? String) ?? ""
    build = c.appBuild ?? (info?["CFBundleVersion"] as? String) ?? ""
    tasks = c.backgroundTasks
    deadline = c.backgroundFlushDeadline
  }

  /// Registers the observers (after init, so that the closures may capture self).
  func start() {
    typealias N = Tern.ApplicationNotification
    let observe: (Notification.Name, @escaping @Sendable (LifecycleObserver) -> Void) -> Void = {
      name, action in
      let token = self.center.addObserver(forName: name, object: nil, queue: nil) {
        [weak self] _ in
        if let self { action(self) }
      }
      self.tokens.append(token)
    }
    observe(N.didFinishLaunching) { $0.launch() }
    observe(N.willEnterForeground) { $0.foreground() }
    observe(N.didBecomeActive) { $0.foreground() }
    observe(N.didEnterBackground) { $0.background() }
  }

  deinit {
    for token in tokens { center.removeObserver(token) }
  }

  /// didFinishLaunching; also before the first foreground, for a client
  /// created after the launch notification was posted.
  private func launch() {
    lock.lock()
    let first = !launchRecorded
    launchRecorded = true
    lock.unlock()
    if first { client?.appLaunched(version: version, build: build) }
  }

  private func foreground() {
    launch()
    client?.appForeground()
  }

  /// appBackground, then the upload, inside a background task when the
  /// platform has them; nothing here waits for the upload.
  private func background() {
    guard let client else { return }
    client.appBackground()
    guard let tasks else {
      client.flushAsync(deadline: deadline) { _ in }
      return
    }
    let ender = BackgroundTaskEnder(tasks)
    let id = tasks.beginBackgroundTask(name: "dev.tern.flush") { ender.end() }
    ender.begun(id)
    if !client.flushAsync(deadline: deadline, completion: { _ in ender.end() }) {
      ender.end()  // refused: the completion will never come
    }
  }
}
