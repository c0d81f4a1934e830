package dev.tern;

/**
 * Receives the SDK's log lines. Called on the SDK's threads: the caller's
 * thread for a rejected event (debug level), the client's worker thread for
 * storage and upload, and the client's "tern-errors" thread for the warning
 * about refused calls (at most one per status per minute). Implementations
 * must be thread-safe, fast, and must not call back into the {@link Tern}
 * instance that logs. Exceptions are caught and ignored.
 */
public interface Logger {
  void log(LogLevel level, String message);
}
