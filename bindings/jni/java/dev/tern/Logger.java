package dev.tern;

/**
 * Receives the SDK's log lines. Called on the SDK's threads: the caller's
 * thread for a rejected event, the client's worker thread for storage and
 * upload. Implementations must be thread-safe, fast, and must not call back
 * into the {@link Tern} instance that logs. Exceptions are caught and ignored.
 */
public interface Logger {
  void log(LogLevel level, String message);
}
