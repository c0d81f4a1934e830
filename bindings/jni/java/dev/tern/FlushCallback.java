package dev.tern;

/**
 * Hears how a {@link Tern#flushAsync} ended. Called exactly once, on the
 * client's worker thread (never on the thread that called flushAsync): it must
 * return promptly and must not call {@link Tern#flush}, {@link Tern#shutdown}
 * or {@link Tern#close} on the same client. An exception it throws is ignored.
 */
public interface FlushCallback {
  void onFlushed(FlushResult result);
}
