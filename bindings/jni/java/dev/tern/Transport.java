package dev.tern;

/**
 * Performs one HTTP request for a client: POST {@link Request#body} to
 * {@link Request#url}. Queueing, retry, backoff and the isolation of rejected
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
    public final String url;
    /** Sent as the HTTP Basic user name, with an empty password. */
    public final String writeKey;
    public final byte[] body;
    public final boolean gzip;
    public final String contentType;

    public Request(String url, String writeKey, byte[] body, boolean gzip, String contentType) {
      this.url = url;
      this.writeKey = writeKey;
      this.body = body;
      this.gzip = gzip;
      this.contentType = contentType;
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

    public Response(int statusCode, String retryAfter, byte[] body, String error) {
      this.statusCode = statusCode;
      this.retryAfter = retryAfter;
      this.body = body;
      this.error = error;
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
