package dev.tern;

import java.util.Map;

/**
 * The JNI surface: static natives over the C API (registered by
 * libtern_jni.so's JNI_OnLoad) and the static dispatch methods the native
 * callbacks call on the worker thread. Package-private: {@link Tern} is the API.
 *
 * <p>Every client native takes its {@code Tern} owner as a parameter: the local
 * reference keeps the owner reachable for the duration of the call, so the GC
 * reaper can never free a handle while a call is using it.
 *
 * <p>The event and control natives (events, flush, shutdown, reset, the
 * consent and opt-out setters) return the C status code and never throw; the
 * others throw {@link TernException} with the C status and message.
 */
final class NativeBridge {
  private NativeBridge() {}

  static {
    Tern.ensureLoaded();
  }

  // String option keys (mirrored in tern_jni.cc).
  static final int S_ENDPOINT = 0;
  static final int S_WRITE_KEY = 1;
  static final int S_STORAGE_PATH = 2;
  static final int S_LIBRARY_NAME = 3;
  static final int S_LIBRARY_VERSION = 4;
  static final int S_HTTP_CA_BUNDLE = 5;
  static final int S_HTTP_USER_AGENT = 6;
  static final int S_SETTINGS_ENDPOINT = 7;

  // Numeric option keys (mirrored in tern_jni.cc).
  static final int N_FLUSH_AT = 0;
  static final int N_FLUSH_INTERVAL_MS = 1;
  static final int N_MAX_EVENT_BYTES = 2;
  static final int N_MAX_BATCH_BYTES = 3;
  static final int N_MAX_BATCH_EVENTS = 4;
  static final int N_MAX_QUEUE_EVENTS = 5;
  static final int N_MAX_QUEUE_BYTES = 6;
  static final int N_MAX_EVENT_AGE_S = 7;
  static final int N_DURABILITY = 8;
  static final int N_COMMIT_WINDOW_MS = 9;
  static final int N_COMMIT_MAX_EVENTS = 10;
  static final int N_MAX_PENDING_EVENTS = 11;
  static final int N_BACKOFF_BASE_MS = 12;
  static final int N_BACKOFF_MAX_MS = 13;
  static final int N_MAX_BATCH_AGE_S = 14;
  static final int N_MAX_ATTEMPTS = 15;
  static final int N_GZIP = 16;
  static final int N_DEFAULT_CONSENT = 17;
  static final int N_HTTP_CONNECT_TIMEOUT_MS = 18;
  static final int N_HTTP_REQUEST_TIMEOUT_MS = 19;
  static final int N_HTTP_VERIFY_TLS = 20;
  static final int N_TRACK_SESSIONS = 21;
  static final int N_SESSION_TIMEOUT_MS = 22;
  static final int N_SESSION_EVENTS = 23;
  static final int N_FETCH_SETTINGS = 24;

  // Event types (tern::MessageType order).
  static final int TRACK = 0;
  static final int IDENTIFY = 1;
  static final int SCREEN = 2;
  static final int PAGE = 3;
  static final int GROUP = 4;
  static final int ALIAS = 5;

  static native String version();

  /** Clients created through JNI and not yet destroyed (for leak tests). */
  static native int liveClients();

  static native long optionsNew();

  static native void optionsFree(long options);

  static native void optionsSetString(long options, int key, String value);

  static native void optionsSetLong(long options, int key, long value);

  static native void optionsSetLogger(long options, Logger logger, int minLevel);

  static native void optionsSetTransport(long options, Transport transport);

  static native void optionsSetContextProvider(long options, ContextProvider provider);

  static native long clientCreate(long options);

  static native void clientDestroy(long client);

  /**
   * Added to the status {@link #event} returns when the glue refused the
   * event before the C API saw it (a string that cannot cross as UTF-8); the
   * C API did not count it, and {@link #glueError} has the message.
   */
  static final int GLUE_REFUSED = 0x100;

  /** Returns the C status (0: accepted), or GLUE_REFUSED | status. */
  static native int event(Object owner, long client, int type, String subject, String json,
      String userId, String anonymousId, String contextJson, String integrationsJson,
      long timestampMillis);

  /** The message of this thread's last event refused with GLUE_REFUSED. */
  static native String glueError();

  /** The message of this thread's last failed call on {@code client}. */
  static native String lastError(Object owner, long client);

  static native int flush(Object owner, long client, long timeoutMillis);

  static native int reset(Object owner, long client);

  static native int shutdown(Object owner, long client, long timeoutMillis);

  static native int setConsent(Object owner, long client, int consent);

  static native int consent(Object owner, long client);

  static native int setOptOut(Object owner, long client, boolean optedOut);

  static native boolean optedOut(Object owner, long client);

  static native String anonymousId(Object owner, long client);

  static native String userId(Object owner, long client);

  static native long[] stats(Object owner, long client);

  // Lifecycle natives return the C status, as the control natives do.
  static native int appLaunched(Object owner, long client, String version, String build,
      String url, String referrer);

  static native int appForeground(Object owner, long client);

  static native int appBackground(Object owner, long client);

  /** The session id (ms since the epoch), or 0 when there is none. */
  static native long sessionId(Object owner, long client);

  /**
   * Starts tern_client_flush_async; on 0 (started) the native side holds
   * {@code callback} until it calls {@link #dispatchFlushed} exactly once on
   * the worker thread; otherwise it holds nothing and never calls it.
   */
  static native int flushAsync(Object owner, long client, long deadlineMillis,
      FlushCallback callback);

  /** Fills the native tern_http_response during a dispatchSend. */
  static native void responseSet(long response, int statusCode, String retryAfter, byte[] body,
      String error, String etag);

  // --- Called from native code, on SDK threads ------------------------------

  static void dispatchLog(Logger logger, int level, String message) {
    try {
      logger.log(LogLevel.fromCode(level), message);
    } catch (Throwable ignored) {
      // A logger must not throw; a lost log line is the safe outcome.
    }
  }

  static void dispatchSend(Transport transport, long response, String method, String url,
      String writeKey, byte[] body, boolean gzip, String contentType, String ifNoneMatch) {
    Transport.Response r;
    try {
      r = transport.send(
          new Transport.Request(method, url, writeKey, body, gzip, contentType, ifNoneMatch));
      if (r == null) r = Transport.Response.failure("transport returned null");
    } catch (Throwable t) {
      r = Transport.Response.failure("transport threw " + t);
    }
    int status = r.statusCode;
    if (status != 0 && (status < 100 || status > 599)) {
      r = Transport.Response.failure("transport reported HTTP status " + status);
      status = 0;
    }
    responseSet(response, status, r.retryAfter, r.body, r.error, r.etag);
  }

  static void dispatchFlushed(FlushCallback callback, int result) {
    try {
      callback.onFlushed(FlushResult.fromCode(result));
    } catch (Throwable ignored) {
      // The worker thread must go on; the callback's failure is its own.
    }
  }

  static String dispatchContext(ContextProvider provider) {
    try {
      Map<String, Object> context = provider.context();
      return context == null ? null : Json.write(context);
    } catch (Throwable t) {
      return null;
    }
  }
}
