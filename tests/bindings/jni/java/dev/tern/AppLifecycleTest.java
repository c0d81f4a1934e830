package dev.tern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.File;
import java.io.OutputStream;
import java.lang.ref.WeakReference;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The app lifecycle in the Java binding: a fake LifecycleOwner's onStart and
 * onStop reach the C calls (seen in the events a Java transport uploads and
 * in Stats), flushAsync calls back exactly once off the caller's thread, and
 * the transports speak the settings GET.
 */
class AppLifecycleTest {
  @TempDir File dir;

  /** Stands in for Android's ProcessLifecycleOwner. */
  static final class FakeLifecycleOwner implements LifecycleOwner {
    final List<Observer> observers = new ArrayList<Observer>();

    @Override
    public void addObserver(Observer observer) {
      observers.add(observer);
    }

    void start() {
      for (Observer o : observers) o.onStart();
    }

    void stop() {
      for (Observer o : observers) o.onStop();
    }
  }

  /** Records each flushAsync outcome and the thread that reported it. */
  static final class RecordingCallback implements FlushCallback {
    final AtomicInteger calls = new AtomicInteger();
    final AtomicReference<FlushResult> result = new AtomicReference<FlushResult>();
    final AtomicReference<Thread> thread = new AtomicReference<Thread>();
    final CountDownLatch done = new CountDownLatch(1);

    @Override
    public void onFlushed(FlushResult r) {
      calls.incrementAndGet();
      result.set(r);
      thread.set(Thread.currentThread());
      done.countDown();
    }
  }

  private static Stats waitForStats(Tern tern, Predicate<Stats> done) throws InterruptedException {
    long deadline = System.nanoTime() + 20_000_000_000L;
    Stats s = tern.stats();
    while (!done.test(s) && System.nanoTime() < deadline) {
      Thread.sleep(2);
      s = tern.stats();
    }
    return s;
  }

  private Tern.Options.Builder options(String name, Transport transport) {
    return TestSupport.options(dir, name, transport).fetchSettings(false);
  }

  /** The event object (flat text) in the batches that contains {@code needle}. */
  private static String eventWith(String all, String needle) {
    int hit = all.indexOf(needle);
    if (hit < 0) return null;
    int depth = 0;
    int start = hit;
    while (start > 0) {
      char c = all.charAt(--start);
      if (c == '}') depth++;
      if (c == '{') {
        if (depth == 0) break;
        depth--;
      }
    }
    int end = start;
    depth = 0;
    do {
      char c = all.charAt(end++);
      if (c == '{') depth++;
      if (c == '}') depth--;
    } while (depth > 0 && end < all.length());
    return all.substring(start, end);
  }

  @Test
  void aFakeLifecycleOwnersStartAndStopRecordOpenedAndBackgroundedAndUploadThem()
      throws Exception {
    RecordingTransport t = new RecordingTransport();
    try (Tern tern = new Tern(options("owner", t).appVersion("2.0", "200").build())) {
      FakeLifecycleOwner owner = new FakeLifecycleOwner();
      tern.attachLifecycle(owner);
      assertEquals(1, owner.observers.size());

      owner.start();
      owner.start();  // already in the foreground: nothing more
      long session = tern.sessionId();
      assertTrue(session > 0, "the first foreground starts a session");
      assertTrue(tern.track("Song Played"));
      owner.stop();

      // No explicit flush: onStop's flushAsync uploads everything.
      Stats s = waitForStats(tern, x -> x.backgroundFlushesSent >= 1);
      assertEquals(1, s.backgroundFlushesSent);
      assertEquals(3, s.lifecycleEvents);  // Installed, Opened, Backgrounded
      assertEquals(1, s.sessionsStarted);
      String all = t.all();
      assertEquals(1, RecordingTransport.count(all, "\"Application Installed\""));
      assertEquals(1, RecordingTransport.count(all, "\"Application Opened\""));
      assertEquals(1, RecordingTransport.count(all, "\"Song Played\""));
      assertEquals(1, RecordingTransport.count(all, "\"Application Backgrounded\""));
      String installed = eventWith(all, "\"Application Installed\"");
      assertTrue(installed.contains("\"version\":\"2.0\""), installed);
      assertTrue(installed.contains("\"build\":\"200\""), installed);
      String opened = eventWith(all, "\"Application Opened\"");
      assertTrue(opened.contains("\"from_background\":false"), opened);
      assertTrue(opened.contains("\"sessionId\":" + session), opened);
      assertTrue(eventWith(all, "\"Song Played\"").contains("\"sessionId\":" + session));

      // Back to the foreground within the session timeout: same session.
      owner.start();
      assertEquals(session, tern.sessionId());
      assertEquals(Status.OK, tern.flush(5000));
      String reopened = eventWith(t.all().substring(all.length()), "\"Application Opened\"");
      assertTrue(reopened.contains("\"from_background\":true"), reopened);
    }
  }

  @Test
  void onStopReturnsWhileItsUploadIsStillInFlight() throws Exception {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    Transport blocking = new Transport() {
      @Override
      public Response send(Request request) {
        entered.countDown();
        try {
          release.await(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return Response.of(200);
      }
    };
    try (Tern tern = new Tern(options("inflight", blocking).build())) {
      FakeLifecycleOwner owner = new FakeLifecycleOwner();
      tern.attachLifecycle(owner);
      owner.start();
      tern.track("Before Background");
      owner.stop();  // the "main thread": must come back without the upload
      assertTrue(entered.await(20, TimeUnit.SECONDS), "the background flush reached the transport");
      assertEquals(0, tern.stats().backgroundFlushesSent, "onStop returned before the upload ended");
      release.countDown();
      Stats s = waitForStats(tern, x -> x.backgroundFlushesSent >= 1);
      assertEquals(1, s.backgroundFlushesSent);
    } finally {
      release.countDown();
    }
  }

  @Test
  void flushAsyncCallsBackExactlyOnceOnTheWorkerThread() throws Exception {
    RecordingTransport t = new RecordingTransport();
    RecordingCallback cb = new RecordingCallback();
    try (Tern tern = new Tern(options("async", t).build())) {
      tern.track("One");
      tern.track("Two");
      assertTrue(tern.flushAsync(10_000, cb));
      assertTrue(cb.done.await(20, TimeUnit.SECONDS));
      assertEquals(FlushResult.SENT, cb.result.get());
      assertNotEquals(Thread.currentThread(), cb.thread.get());
      assertEquals(2, tern.stats().sent);
      assertEquals(1, tern.stats().backgroundFlushesSent);
      // shutdown joins the worker: a second call would have come by now.
      assertEquals(Status.OK, tern.shutdown(5000));
    }
    assertEquals(1, cb.calls.get());
  }

  @Test
  void flushAsyncTimesOutWhileTheServerFailsAndKeepsTheEvents() throws Exception {
    RecordingTransport t = new RecordingTransport(503);
    RecordingCallback cb = new RecordingCallback();
    // Slow retries and no attempt budget: the event stays queued until the
    // deadline (a budget spent within it would drop the event, and a flush
    // with nothing left to send is SENT).
    try (Tern tern = new Tern(options("timeout", t)
             .backoffBaseMillis(50).backoffMaxMillis(100).maxAttempts(1_000_000).build())) {
      tern.track("Stuck");
      assertTrue(tern.flushAsync(200, cb));
      assertTrue(cb.done.await(20, TimeUnit.SECONDS));
      assertEquals(FlushResult.TIMED_OUT, cb.result.get());
      Stats s = tern.stats();
      assertEquals(1, s.backgroundFlushesTimedOut);
      assertEquals(1, s.queueDepth);
      assertEquals(0, s.dropped);
    }
    assertEquals(1, cb.calls.get());
  }

  @Test
  void aRefusedFlushAsyncNeverCallsBackAndLetsItsCallbackGo() throws Exception {
    Tern tern = new Tern(options("refused", new RecordingTransport()).build());
    RecordingCallback refused = new RecordingCallback();
    assertFalse(tern.flushAsync(-1, refused));
    assertFalse(tern.flushAsync(10, null));
    tern.close();
    assertFalse(tern.flushAsync(10, refused));
    assertEquals(0, refused.calls.get());

    // Neither a refused callback nor a finished one stays referenced from
    // native code (its global reference is released).
    WeakReference<FlushCallback> gone = refusedThenDropped(new File(dir, "weak"));
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (gone.get() != null && System.nanoTime() < deadline) {
      System.gc();
      Thread.sleep(20);
    }
    assertNull(gone.get());
  }

  private static WeakReference<FlushCallback> refusedThenDropped(File dir) throws Exception {
    assertTrue(dir.mkdirs());
    RecordingCallback cb = new RecordingCallback();
    try (Tern tern = new Tern(TestSupport.options(dir, "db", new RecordingTransport())
             .fetchSettings(false).build())) {
      tern.track("x");
      assertTrue(tern.flushAsync(10_000, cb));
      assertTrue(cb.done.await(20, TimeUnit.SECONDS));
    }
    return new WeakReference<FlushCallback>(cb);
  }

  @Test
  void withTrackLifecycleOffTheOwnerIsIgnoredAndNoLaunchIsRecorded() throws Exception {
    RecordingTransport t = new RecordingTransport();
    try (Tern tern = new Tern(
             options("off", t).trackLifecycle(false).appVersion("1.0", "1").build())) {
      FakeLifecycleOwner owner = new FakeLifecycleOwner();
      tern.attachLifecycle(owner);
      assertEquals(0, owner.observers.size());
      tern.track("Manual");
      assertEquals(Status.OK, tern.flush(5000));
      assertEquals(0, tern.stats().lifecycleEvents);
      assertFalse(t.all().contains("Application Installed"));
      // The app may still call them itself.
      assertTrue(tern.appLaunched("1.0", "1"));
      assertTrue(tern.appForeground());
      assertTrue(tern.appBackground());
      assertEquals(Status.OK, tern.flush(5000));
      assertEquals(3, tern.stats().lifecycleEvents);
    }
  }

  @Test
  void settingsAreFetchedWithAGetThroughTheJavaTransport() throws Exception {
    final List<Transport.Request> gets = new ArrayList<Transport.Request>();
    Transport settings = new Transport() {
      @Override
      public Response send(Request request) {
        if (!"GET".equals(request.method)) return Response.of(200);
        synchronized (gets) {
          gets.add(request);
        }
        byte[] body = ("{\"integrations\":{\"Segment.io\":{\"apiKey\":\"wk\"}},\"tern\":"
            + "{\"enabled\":true,\"sampleRate\":1,\"flushAt\":20,\"flushIntervalMs\":30000,"
            + "\"sessionTimeoutMs\":300000,\"ttlSeconds\":86400}}").getBytes(StandardCharsets.UTF_8);
        return new Response(200, null, body, null, "\"v1\"");
      }
    };
    try (Tern tern = new Tern(TestSupport.options(dir, "settings", settings)
             .appVersion("1.0", "1").build())) {
      Stats s = waitForStats(tern, x -> x.settingsFetched >= 1);
      assertEquals(1, s.settingsFetched);
      assertEquals(0, s.settingsFailed);
      synchronized (gets) {
        assertEquals(1, gets.size());
        Transport.Request r = gets.get(0);
        assertTrue(r.url.endsWith("/v1/projects/wk/settings"), r.url);
        assertEquals("wk", r.writeKey);
        assertNull(r.ifNoneMatch);
        assertEquals(0, r.body.length);
      }
    }
  }

  @Test
  void httpUrlConnectionTransportSendsIfNoneMatchAndReportsTheEtag() throws Exception {
    final List<String> seen = new ArrayList<String>();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/v1/projects/wk/settings", (HttpExchange x) -> {
      String inm = x.getRequestHeaders().getFirst("If-None-Match");
      synchronized (seen) {
        seen.add(x.getRequestMethod() + " " + inm + " "
            + x.getRequestHeaders().getFirst("Authorization"));
      }
      x.getResponseHeaders().add("ETag", "\"v1\"");
      if ("\"v1\"".equals(inm)) {
        x.sendResponseHeaders(304, -1);
      } else {
        byte[] body = "{\"tern\":{\"enabled\":true}}".getBytes(StandardCharsets.UTF_8);
        x.sendResponseHeaders(200, body.length);
        try (OutputStream out = x.getResponseBody()) {
          out.write(body);
        }
      }
      x.close();
    });
    server.start();
    try {
      String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1/projects/wk/settings";
      HttpUrlConnectionTransport transport = new HttpUrlConnectionTransport(5000, 5000);
      Transport.Response first = transport.send(
          new Transport.Request("GET", url, "wk", new byte[0], false, "application/json", null));
      assertEquals(200, first.statusCode, first.error);
      assertEquals("\"v1\"", first.etag);
      assertEquals("{\"tern\":{\"enabled\":true}}", new String(first.body, StandardCharsets.UTF_8));
      Transport.Response second = transport.send(new Transport.Request(
          "GET", url, "wk", new byte[0], false, "application/json", "\"v1\""));
      assertEquals(304, second.statusCode, second.error);
      synchronized (seen) {
        assertEquals(2, seen.size());
        assertEquals("GET null Basic d2s6", seen.get(0));  // base64("wk:")
        assertEquals("GET \"v1\" Basic d2s6", seen.get(1));
      }
    } finally {
      server.stop(0);
    }
  }
}
