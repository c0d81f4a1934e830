package dev.tern;

/**
 * Hears about every refused call that is an error (set with
 * {@link Tern.Options.Builder#errorHandler}): an event with a value that is not
 * JSON, too large, a full queue, a call after close, a storage failure. Opt-out
 * and denied consent are not errors and never reach it.
 *
 * <p>Called on a background thread owned by the client, never on the thread
 * that made the call and never while the client holds a lock, one call at a
 * time, in order. It may call into the client. Exceptions it throws are
 * caught and ignored. When refusals arrive faster than it handles them, the
 * ones past a bounded backlog are not passed on (they are still counted in
 * {@link Tern#stats()}).
 */
public interface ErrorHandler {
  /** {@code error.status()} says why; the message says what to fix. */
  void onError(TernException error);
}
