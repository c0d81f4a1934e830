package dev.tern;

/** How a {@link Tern#flushAsync} ended (the C API's tern_flush_result, same order). */
public enum FlushResult {
  /** Everything queued at the call was sent (or nothing was queued). */
  SENT,
  /** The deadline came first (offline, server down); the rest stays queued. */
  TIMED_OUT,
  /** Closed or shut down, or nothing may be sent (consent, opt-out, the kill switch). */
  CANCELLED;

  static FlushResult fromCode(int code) {
    FlushResult[] all = values();
    return code >= 0 && code < all.length ? all[code] : CANCELLED;
  }
}
