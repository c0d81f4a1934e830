package dev.tern;

/**
 * Performs one HTTP request for a client: POST {@link Request#body} to
 * {@link Request#url} (batches), or GET it with {@link Request#ifNoneMatch}
 * (the settings the relay serves; report the answer's ETag). Queueing, retry, backoff and the isolation of rejected
 * events stay in the SDK; a transport only reports what came back.
 *
 * <p>Called only on the client's worker thread, one request at a time per
 * client. It may block, but should return within its own timeouts. A network
 * failure is reported as status 0 with an error text (an exception thrown by
 * {@link #send} is treated the same way). It must not call into the client.
 *
 * <p>{@link HttpUrlConnectionTransport} is the implementation for Android and
 * plain JVMs.
 */
public interface Transport {

  /** One request. The body is gzip-compressed when {@link #gzip} is true. */
  final class Request {
    /** "POST" (a batch, with a body) or "GET" (settings; the body is empty). */
    public final String method;
    public final String url;
    /** Sent as the HTTP Basic user name, with an empty password. */
    public final String writeKey;
    public final byte[] body;
    public final boolean gzip;
    public final String contentType;
    /** Sent as If-None-Match when not null (a GET of settings already held). */
    public final String ifNoneMatch;

    /** A POST. */
    public Request(String url, String writeKey, byte[] body, boolean gzip, String contentType) {
      this("POST", url, writeKey, body, gzip, contentType, null);
    }

    public Request(String method, String url, String writeKey, byte[] body, boolean gzip,
        String contentType, String ifNoneMatch) {
      this.method = method;
      this.url = url;
      this.writeKey = writeKey;
      this.body = body;
      this.gzip = gzip;
      this.contentType = contentType;
      this.ifNoneMatch = ifNoneMatch;
    }
  }

  /** What came back. */
  final class Response {
    /** The HTTP status, or 0 when there was no HTTP answer. */
    public final int statusCode;
    /** The raw Retry-After header (delta seconds or an HTTP date), or null. */
    public final String retryAfter;
    /** The response body (may be truncated or null). */
    public final byte[] body;
    /** Why there was no answer, when statusCode is 0. */
    public final String error;
    /** The ETag header, or null (the settings fetch sends it back as If-None-Match). */
    public final String etag;

    public Response(int statusCode, String retryAfter, byte[] body, String error) {
      this(statusCode, retryAfter, body, error, null);
    }

    public Response(int statusCode, String retryAfter, byte[] body, String error, String etag) {
      this.statusCode = statusCode;
      this.retryAfter = retryAfter;
      this.body = body;
      this.error = error;
      this.etag = etag;
    }

    public static Response of(int statusCode) {
      return new Response(statusCode, null, null, null);
    }

    public static Response failure(String error) {
      return new Response(0, null, null, error);
    }
  }

  Response send(Request request);
}
