import Foundation

/// What a client does with a refused call (the error model described on
/// `Tern`): in strict mode it stops the process (or calls the test hook);
/// otherwise it logs at most once per status per minute and passes the
/// refusal to the error handler, both on a serial queue of its own.
final class Refusals: @unchecked Sendable {
  static let logInterval: UInt64 = 60 * 1_000_000_000

  let strict: Bool
  private let handler: Tern.ErrorHandler?
  private let logHandler: Tern.LogHandler?
  private let logLevel: Tern.LogLevel
  private let clock: @Sendable () -> UInt64
  private let queue = DispatchQueue(label: "dev.tern.errors", qos: .utility)
  private let lock = NSLock()
  /// Per status code: when the last line was logged, and the refusals since.
  private var lastLogged: [Int32: UInt64] = [:]
  private var suppressed: [Int32: UInt64] = [:]
  /// Refusals queued for the handler and not handled yet (bounded).
  private var backlog = 0
  private static let maxBacklog = 1024
  /// Strict mode: called instead of stopping the process (tests).
  private let strictHook: (@Sendable (TernError) -> Void)?

  init(configuration c: Tern.Configuration) {
    strict = c.strict
    handler = c.errorHandler
    logHandler = c.logHandler
    logLevel = c.logHandler != nil ? c.logLevel : .warn
    clock = c.monotonicClock ?? { DispatchTime.now().uptimeNanoseconds }
    strictHook = c.strictHook
  }

  /// A call was refused with `error`: stops the process in strict mode (the
  /// calls that report it cannot throw); otherwise reports it, unless it is
  /// `.disabled` (opt-out and denied consent are not errors). Returns false.
  func refuse(_ error: TernError) -> Bool {
    if strict {
      if let strictHook {
        strictHook(error)
        return false
      }
      fatalError("Tern (strict mode) refused a call: \(error)")
    }
    if error.code != .disabled { report(error) }
    return false
  }

  /// Logs (throttled) and hands `error` to the error handler, off this thread.
  func report(_ error: TernError) {
    let now = clock()
    lock.lock()
    var log = false
    var since: UInt64 = 0
    let key = error.code.rawValue
    if let last = lastLogged[key], now &- last < Refusals.logInterval {
      suppressed[key, default: 0] += 1
    } else {
      log = true
      lastLogged[key] = now
      since = suppressed.removeValue(forKey: key) ?? 0
    }
    let enqueue = (log || handler != nil) && backlog < Refusals.maxBacklog
    if enqueue { backlog += 1 }
    lock.unlock()
    guard enqueue else { return }
    let handler = self.handler
    let log_ = log
    let since_ = since
    queue.async { [self] in
      let log = log_
      let since = since_
      if log {
        var line = "call refused: \(error.code): \(error.message)"
        if since > 0 { line += " (and \(since) more like it in the last minute)" }
        write(line)
      }
      handler?(error)
      lock.lock()
      backlog -= 1
      lock.unlock()
    }
  }

  private func write(_ line: String) {
    guard Tern.LogLevel.warn >= logLevel else { return }
    if let logHandler {
      logHandler(.warn, line)
    } else {
      FileHandle.standardError.write(Data("tern: WARN \(line)\n".utf8))
    }
  }

  /// Runs after every refusal reported so far was logged and handled (tests).
  func sync() { queue.sync {} }
}
