package dev.tern;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.Charset;

/**
 * A {@link Transport} over {@link HttpURLConnection} (POST for batches, GET
 * with If-None-Match for settings, reporting the ETag): the platform HTTP stack
 * on Android (with its proxy, TLS and certificate settings) and on any JVM.
 * The platform pools keep-alive connections; this class reads every response
 * to its end so that the connection can be reused.
 *
 * <p>Thread-safe and stateless apart from its settings; the SDK calls it from
 * the client's worker thread only.
 */
public final class HttpUrlConnectionTransport implements Transport {
  /** Response bodies are kept up to this size (they only carry rejection lists). */
  static final int MAX_RESPONSE_BODY = 64 * 1024;

  private static final Charset UTF_8 = Charset.forName("UTF-8");

  private final int connectTimeoutMillis;
  private final int readTimeoutMillis;
  private final String userAgent;

  /** 10 s connect and 30 s read timeouts. */
  public HttpUrlConnectionTransport() {
    this(10_000, 30_000);
  }

  public HttpUrlConnectionTransport(int connectTimeoutMillis, int readTimeoutMillis) {
    this(connectTimeoutMillis, readTimeoutMillis, "tern-java/" + safeVersion());
  }

  public HttpUrlConnectionTransport(int connectTimeoutMillis, int readTimeoutMillis,
      String userAgent) {
    this.connectTimeoutMillis = connectTimeoutMillis;
    this.readTimeoutMillis = readTimeoutMillis;
    this.userAgent = userAgent;
  }

  private static String safeVersion() {
    try {
      return Tern.version();
    } catch (Throwable t) {
      return "unknown";
    }
  }

  @Override
  public Response send(Request request) {
    HttpURLConnection connection = null;
    try {
      boolean get = "GET".equals(request.method);
      connection = (HttpURLConnection) new URL(request.url).openConnection();
      connection.setRequestMethod(get ? "GET" : "POST");
      connection.setDoOutput(!get);
      // The SDK keeps the settings and their ETag itself: the platform's
      // HTTP cache must not answer a conditional GET for the server.
      connection.setUseCaches(false);
      connection.setInstanceFollowRedirects(false);
      connection.setConnectTimeout(connectTimeoutMillis);
      connection.setReadTimeout(readTimeoutMillis);
      if (!get) {
        connection.setFixedLengthStreamingMode(request.body.length);
        connection.setRequestProperty("Content-Type", request.contentType);
        if (request.gzip) connection.setRequestProperty("Content-Encoding", "gzip");
      } else {
        connection.setRequestProperty("Accept", "application/json");
        if (request.ifNoneMatch != null) {
          connection.setRequestProperty("If-None-Match", request.ifNoneMatch);
        }
      }
      connection.setRequestProperty("Authorization",
          "Basic " + base64((request.writeKey + ":").getBytes(UTF_8)));
      if (userAgent != null) connection.setRequestProperty("User-Agent", userAgent);

      if (!get) {
        OutputStream out = connection.getOutputStream();
        try {
          out.write(request.body);
        } finally {
          out.close();
        }
      }
      int status = connection.getResponseCode();
      if (status < 0) return Response.failure("not a valid HTTP response");
      String retryAfter = connection.getHeaderField("Retry-After");
      String etag = connection.getHeaderField("ETag");
      InputStream in = status >= 400 ? connection.getErrorStream()
          : status == 304 || status == 204 ? null
                                           : connection.getInputStream();
      byte[] body = in == null ? null : readCapped(in);
      return new Response(status, retryAfter, body, null, etag);
    } catch (IOException | RuntimeException e) {
      if (connection != null) connection.disconnect();
      String message = e.getMessage();
      return Response.failure(e.getClass().getSimpleName() + (message != null ? ": " + message : ""));
    }
  }

  // Reads up to MAX_RESPONSE_BODY bytes and drains the rest (bounded) so the
  // connection can go back to the pool.
  private static byte[] readCapped(InputStream in) throws IOException {
    try {
      ByteArrayOutputStream kept = new ByteArrayOutputStream();
      byte[] buffer = new byte[8192];
      long drained = 0;
      int n;
      while ((n = in.read(buffer)) != -1) {
        int room = MAX_RESPONSE_BODY - kept.size();
        if (room > 0) kept.write(buffer, 0, Math.min(room, n));
        drained += n;
        if (drained > 16L * MAX_RESPONSE_BODY) break;  // a huge body: give up the connection
      }
      return kept.toByteArray();
    } finally {
      in.close();
    }
  }

  private static final char[] B64 =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".toCharArray();

  // java.util.Base64 needs Android API 26; this runs everywhere.
  static String base64(byte[] data) {
    StringBuilder sb = new StringBuilder((data.length + 2) / 3 * 4);
    for (int i = 0; i < data.length; i += 3) {
      int b0 = data[i] & 0xFF;
      int b1 = i + 1 < data.length ? data[i + 1] & 0xFF : 0;
      int b2 = i + 2 < data.length ? data[i + 2] & 0xFF : 0;
      sb.append(B64[b0 >> 2]);
      sb.append(B64[((b0 & 3) << 4) | (b1 >> 4)]);
      sb.append(i + 1 < data.length ? B64[((b1 & 0xF) << 2) | (b2 >> 6)] : '=');
      sb.append(i + 2 < data.length ? B64[b2 & 0x3F] : '=');
    }
    return sb.toString();
  }
}
