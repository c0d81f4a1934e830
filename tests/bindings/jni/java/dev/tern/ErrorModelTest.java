package dev.tern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The error model: event calls never throw (unless strict), refusals are
 * counted, logged at most once per status per minute and passed to the error
 * handler off the caller's thread; flush and shutdown return a Status.
 */
class ErrorModelTest {
  @TempDir File dir;

  /** An error handler that records each call and the thread it ran on. */
  static final class Recorder implements ErrorHandler {
    final LinkedBlockingQueue<TernException> errors = new LinkedBlockingQueue<TernException>();
    final List<String> threads = Collections.synchronizedList(new ArrayList<String>());

    @Override
    public void onError(TernException error) {
      threads.add(Thread.currentThread().getName());
      errors.add(error);
    }

    /** The next {@code n} errors handed over (bounded wait). */
    List<TernException> take(int n) throws InterruptedException {
      List<TernException> out = new ArrayList<TernException>();
      for (int i = 0; i < n; i++) {
        TernException e = errors.poll(10, TimeUnit.SECONDS);
        if (e == null) throw new AssertionError("only " + i + " of " + n + " errors arrived");
        out.add(e);
      }
      return out;
    }
  }

  /** A logger that keeps its lines. */
  static final class Lines implements Logger {
    final List<String> lines = Collections.synchronizedList(new ArrayList<String>());

    @Override
    public void log(LogLevel level, String message) {
      if (message.startsWith("call refused")) lines.add(level + " " + message);
    }

    List<String> snapshot() {
      synchronized (lines) {
        return new ArrayList<String>(lines);
      }
    }
  }

  private static Map<String, Object> props(Object... kv) {
    Map<String, Object> m = new HashMap<String, Object>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
    return m;
  }

  /** Makes each of the six event calls with {@code values} as its map (alias: its context). */
  private static List<Boolean> everyEventCall(Tern tern, Map<String, Object> values) {
    return Arrays.asList(
        tern.track("Event", values),
        tern.identify("user", values),
        tern.screen("Screen", values),
        tern.page("Page", values),
        tern.group("group", values),
        tern.alias("alias", values == null ? null : new EventOptions().context(values)));
  }

  private static final List<Boolean> ALL_REFUSED = Arrays.asList(false, false, false, false,
      false, false);

  private static String blob() {
    char[] big = new char[4096];
    Arrays.fill(big, 'x');
    return new String(big);
  }

  // Proves that nothing before it reached the handler: the handler runs in
  // order, so the first error it receives is this one.
  private static void assertNextErrorIsAMarker(Tern tern, Recorder handler)
      throws InterruptedException {
    assertFalse(tern.track("marker", props("nan", Double.NaN)));
    TernException first = handler.take(1).get(0);
    assertEquals(Status.INVALID_ARGUMENT, first.status());
  }

  @Test
  void everyEventCallAfterOptOutReturnsFalseAndIsCountedAsOptOutOnly() throws Exception {
    Recorder handler = new Recorder();
    try (Tern tern = new Tern(
             TestSupport.options(dir, "optout", new RecordingTransport())
                 .errorHandler(handler).build())) {
      assertTrue(tern.optOut(true));
      assertEquals(ALL_REFUSED, everyEventCall(tern, props("k", 1)));
      Stats s = tern.stats();
      assertEquals(6, s.dropped(DropReason.OPT_OUT));
      assertEquals(0, s.enqueued);
      assertNextErrorIsAMarker(tern, handler);
    }
  }

  @Test
  void everyEventCallWithDeniedConsentReturnsFalseAndIsCountedAsConsentDenied()
      throws Exception {
    Recorder handler = new Recorder();
    try (Tern tern = new Tern(
             TestSupport.options(dir, "denied", new RecordingTransport())
                 .errorHandler(handler).build())) {
      assertTrue(tern.setConsent(Consent.DENIED));
      assertEquals(ALL_REFUSED, everyEventCall(tern, props("k", 1)));
      assertEquals(6, tern.stats().dropped(DropReason.CONSENT_DENIED));
      assertNextErrorIsAMarker(tern, handler);
    }
  }

  @Test
  void anUnconvertibleValueIsCountedLoggedOnceAndHandedToTheHandlerOffTheCallersThread()
      throws Exception {
    Recorder handler = new Recorder();
    Lines logger = new Lines();
    final AtomicReference<Tern> client = new AtomicReference<Tern>();
    final AtomicLong seenByHandler = new AtomicLong(-1);
    ErrorHandler callsBack = error -> {
      // The handler may call into the client: no lock of the caller's is held.
      seenByHandler.set(client.get().stats().dropped(DropReason.INVALID));
      handler.onError(error);
    };
    try (Tern tern = new Tern(TestSupport.options(dir, "nan", new RecordingTransport())
                                  .errorHandler(callsBack)
                                  .logger(logger, LogLevel.WARN)
                                  .build())) {
      client.set(tern);
      assertEquals(ALL_REFUSED, everyEventCall(tern, props("nan", Double.NaN)));
      assertFalse(tern.track("Object", props("o", new Object())));
      List<TernException> errors = handler.take(7);
      for (TernException e : errors) assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertTrue(errors.get(0).getMessage().contains("NaN"), errors.get(0).getMessage());
      assertTrue(errors.get(0).getMessage().contains("track"), errors.get(0).getMessage());
      for (String name : handler.threads) {
        assertNotEquals(Thread.currentThread().getName(), name);
      }
      assertTrue(seenByHandler.get() >= 1);
      Stats s = tern.stats();
      assertEquals(7, s.dropped(DropReason.INVALID));
      assertEquals(7, s.dropped);
      assertEquals(0, s.enqueued);
      assertEquals(1, logger.snapshot().size(), logger.snapshot().toString());
      assertTrue(logger.snapshot().get(0).startsWith("WARN call refused: INVALID_ARGUMENT"));
    }
  }

  @Test
  void aStringThatCannotCrossAsUtf8IsCountedByTheBinding() throws Exception {
    Recorder handler = new Recorder();
    try (Tern tern = new Tern(TestSupport.options(dir, "surrogate", new RecordingTransport())
                                  .errorHandler(handler).build())) {
      assertFalse(tern.track("bad\ud800"));
      assertFalse(tern.identify("a\u0000b"));
      List<TernException> errors = handler.take(2);
      assertTrue(errors.get(0).getMessage().contains("surrogate"), errors.get(0).getMessage());
      assertEquals(2, tern.stats().dropped(DropReason.INVALID));
    }
  }

  @Test
  void anOversizeEventIsRefusedWithTooLargeForEveryEventCall() throws Exception {
    Recorder handler = new Recorder();
    try (Tern tern = new Tern(TestSupport.options(dir, "big", new RecordingTransport())
                                  .maxEventBytes(2048)
                                  .errorHandler(handler)
                                  .build())) {
      assertEquals(ALL_REFUSED, everyEventCall(tern, props("blob", blob())));
      for (TernException e : handler.take(6)) assertEquals(Status.TOO_LARGE, e.status());
      assertEquals(6, tern.stats().dropped(DropReason.TOO_LARGE));
    }
  }

  @Test
  void everyCallAfterCloseReturnsWithoutThrowingAndIsCounted() throws Exception {
    Recorder handler = new Recorder();
    Tern tern = new Tern(TestSupport.options(dir, "afterclose", new RecordingTransport())
                             .errorHandler(handler).build());
    assertTrue(tern.track("before"));
    tern.close();
    assertEquals(ALL_REFUSED, everyEventCall(tern, props("k", 1)));
    assertFalse(tern.setConsent(Consent.GRANTED));
    assertFalse(tern.optOut(true));
    assertFalse(tern.reset());
    assertEquals(Status.SHUTDOWN, tern.flush(1000));
    assertEquals(Status.SHUTDOWN, tern.shutdown(1000));
    for (TernException e : handler.take(9)) assertEquals(Status.SHUTDOWN, e.status());
    Stats s = tern.stats();
    assertEquals(1, s.enqueued);
    assertEquals(6, s.dropped(DropReason.SHUTDOWN));
    assertEquals(6, s.dropped);
  }

  @Test
  void manyThreadsTrackingWhileTheClientClosesNeverThrowAndEveryCallIsAccountedFor()
      throws Exception {
    final int threads = 8;
    Recorder handler = new Recorder();
    final Tern tern = new Tern(TestSupport.options(dir, "closing", new RecordingTransport())
                                   .errorHandler(handler).build());
    final CountDownLatch started = new CountDownLatch(threads);
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicLong accepted = new AtomicLong();
    final AtomicLong refused = new AtomicLong();
    final AtomicReference<Throwable> thrown = new AtomicReference<Throwable>();
    Thread[] workers = new Thread[threads];
    for (int i = 0; i < threads; i++) {
      workers[i] = new Thread(() -> {
        started.countDown();
        long refusedHere = 0;
        try {
          // Keep calling until close() is over and a few calls were refused.
          while (!stop.get() || refusedHere < 10) {
            if (tern.track("during close", props("k", 1))) {
              accepted.incrementAndGet();
            } else {
              refused.incrementAndGet();
              refusedHere++;
            }
          }
        } catch (Throwable t) {
          thrown.set(t);
        }
      });
      workers[i].start();
    }
    started.await();
    while (accepted.get() < 100) Thread.yield();
    tern.close();
    stop.set(true);
    for (Thread w : workers) w.join(30_000);
    assertEquals(null, thrown.get());
    Stats s = tern.stats();
    assertEquals(accepted.get(), s.enqueued);
    assertEquals(refused.get(), s.dropped(DropReason.SHUTDOWN));
    assertTrue(refused.get() >= threads * 10);
  }

  @Test
  void anOfflineFlushReturnsTheTransportStatusInsteadOfThrowing() {
    for (boolean strict : new boolean[] {false, true}) {
      RecordingTransport offline = new RecordingTransport(0);
      try (Tern tern = new Tern(
               TestSupport.options(dir, "offline" + strict, offline).strict(strict).build())) {
        assertTrue(tern.track("queued"));
        assertEquals(Status.TRANSPORT, tern.flush(2000));
        assertEquals(1, tern.stats().queueDepth);
        assertEquals(Status.OK, tern.shutdown(2000));
      }
    }
  }

  @Test
  void strictModeThrowsForEachRefusal() {
    Tern.Options.Builder options = TestSupport.options(dir, "strict", new RecordingTransport())
        .maxEventBytes(2048).strict(true);
    Tern tern = new Tern(options.build());
    // Opt-out and denied consent: DISABLED.
    assertTrue(tern.optOut(true));
    assertEveryEventCallThrows(tern, props("k", 1), Status.DISABLED);
    assertTrue(tern.optOut(false));
    assertTrue(tern.setConsent(Consent.DENIED));
    assertEveryEventCallThrows(tern, props("k", 1), Status.DISABLED);
    assertTrue(tern.setConsent(Consent.GRANTED));
    // A value that is not JSON, an oversize event.
    assertEveryEventCallThrows(tern, props("nan", Double.NaN), Status.INVALID_ARGUMENT);
    assertEveryEventCallThrows(tern, props("blob", blob()), Status.TOO_LARGE);
    assertEquals(Status.INVALID_ARGUMENT,
        assertThrows(TernException.class, () -> tern.setConsent(null)).status());
    // After close.
    tern.close();
    assertEveryEventCallThrows(tern, props("k", 1), Status.SHUTDOWN);
    assertEquals(Status.SHUTDOWN,
        assertThrows(TernException.class, () -> tern.optOut(true)).status());
    assertEquals(Status.SHUTDOWN, assertThrows(TernException.class, tern::reset).status());
    // Counted all the same.
    Stats s = tern.stats();
    assertEquals(6, s.dropped(DropReason.OPT_OUT));
    assertEquals(6, s.dropped(DropReason.CONSENT_DENIED));
    assertEquals(6, s.dropped(DropReason.INVALID));
    assertEquals(6, s.dropped(DropReason.TOO_LARGE));
    assertEquals(6, s.dropped(DropReason.SHUTDOWN));
  }

  private static void assertEveryEventCallThrows(Tern tern, Map<String, Object> values,
      Status expected) {
    assertEquals(expected,
        assertThrows(TernException.class, () -> tern.track("Event", values)).status());
    assertEquals(expected,
        assertThrows(TernException.class, () -> tern.identify("user", values)).status());
    assertEquals(expected,
        assertThrows(TernException.class, () -> tern.screen("Screen", values)).status());
    assertEquals(expected,
        assertThrows(TernException.class, () -> tern.page("Page", values)).status());
    assertEquals(expected,
        assertThrows(TernException.class, () -> tern.group("group", values)).status());
    assertEquals(expected, assertThrows(TernException.class,
        () -> tern.alias("alias", new EventOptions().context(values))).status());
  }

  @Test
  void refusalsAreLoggedAtMostOncePerStatusPerMinute() throws Exception {
    Recorder handler = new Recorder();
    Lines logger = new Lines();
    final AtomicLong now = new AtomicLong(1_000_000_000L);
    try (Tern tern = new Tern(TestSupport.options(dir, "throttle", new RecordingTransport())
                                  .maxEventBytes(2048)
                                  .errorHandler(handler)
                                  .logger(logger, LogLevel.WARN)
                                  .ticker(now::get)
                                  .build())) {
      Map<String, Object> nan = props("nan", Double.NaN);
      for (int i = 0; i < 5; i++) assertFalse(tern.track("e", nan));
      assertFalse(tern.track("e", props("blob", blob())));  // another status: its own line
      handler.take(6);  // the handler runs after the log line of the same refusal
      assertEquals(2, logger.snapshot().size(), logger.snapshot().toString());

      now.addAndGet(TimeUnit.SECONDS.toNanos(59));
      assertFalse(tern.track("e", nan));
      handler.take(1);
      assertEquals(2, logger.snapshot().size(), logger.snapshot().toString());

      now.addAndGet(TimeUnit.SECONDS.toNanos(1));
      assertFalse(tern.track("e", nan));
      handler.take(1);
      List<String> lines = logger.snapshot();
      assertEquals(3, lines.size(), lines.toString());
      assertTrue(lines.get(2).contains("and 5 more like it"), lines.get(2));
      assertEquals(8, tern.stats().dropped);
    }
  }

  @Test
  void aTrackCallReturnsAtItsUsualCostWhileTheWorkerIsBlockedInAnUpload() throws Exception {
    final CountDownLatch inUpload = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    Transport blocking = request -> {
      inUpload.countDown();
      try {
        release.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return Transport.Response.of(200);
    };
    try (Tern tern = new Tern(TestSupport.options(dir, "blocked", blocking).flushAt(1).build())) {
      try {
        assertTrue(tern.track("first"));
        assertTrue(inUpload.await(10, TimeUnit.SECONDS), "the upload never started");
        Map<String, Object> p = props("screen", "Home", "index", 1);
        final int n = 2000;
        long[] nanos = new long[n];
        for (int i = 0; i < n; i++) {
          long t0 = System.nanoTime();
          boolean accepted = tern.track("while blocked", p);
          nanos[i] = System.nanoTime() - t0;
          assertTrue(accepted);
        }
        Arrays.sort(nanos);
        long p50 = nanos[n / 2];
        assertTrue(p50 < TimeUnit.MILLISECONDS.toNanos(1), "p50 " + p50 + " ns");
      } finally {
        release.countDown();
      }
      assertEquals(Status.OK, tern.flush(10_000));
      assertEquals(2001, tern.stats().sent);
    }
  }

  @Test
  void constructionStillThrowsForAWrongEndpointOrAnUnusableStoragePathSayingWhatToFix() {
    for (String endpoint : new String[] {"relay.example.com", "ftp://relay.example.com",
             "https://", "https:// relay.example.com"}) {
      TernException e = assertThrows(TernException.class,
          () -> new Tern(TestSupport.options(dir, "endpoint", null).endpoint(endpoint).build()));
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertTrue(e.getMessage().contains("endpoint \"" + endpoint + "\""), e.getMessage());
    }
    String missing = new File(dir, "missing/dir/events.db").getPath();
    TernException e = assertThrows(TernException.class, () -> new Tern(
        TestSupport.options(dir, "unused", null).storagePath(missing).build()));
    assertTrue(e.status() == Status.STORAGE || e.status() == Status.INVALID_ARGUMENT,
        e.toString());
    assertTrue(e.getMessage().contains(missing), e.getMessage());
    try (Tern tern = new Tern(TestSupport.options(dir, "fine", null)
             .endpoint("HTTPS://relay.example.com:8443/base").build())) {
      assertTrue(tern.track("accepted"));
    }
  }

  @Test
  void aFullHandOffQueueRefusesWithQueueFullWithoutBlockingOrThrowing() throws Exception {
    final CountDownLatch inUpload = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    Transport blocking = request -> {
      inUpload.countDown();
      try {
        release.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return Transport.Response.of(200);
    };
    Recorder handler = new Recorder();
    try (Tern tern = new Tern(TestSupport.options(dir, "full", blocking)
                                  .flushAt(1)
                                  .maxPendingEvents(2)
                                  .errorHandler(handler)
                                  .build())) {
      try {
        assertTrue(tern.track("first"));
        assertTrue(inUpload.await(10, TimeUnit.SECONDS), "the upload never started");
        // The worker is stuck in the upload: the hand-off queue fills up.
        int accepted = 0;
        for (int i = 0; i < 10; i++) {
          if (tern.track("more")) accepted++;
        }
        assertEquals(2, accepted);
        for (TernException e : handler.take(8)) assertEquals(Status.QUEUE_FULL, e.status());
        assertEquals(8, tern.stats().dropped(DropReason.QUEUE_FULL));
      } finally {
        release.countDown();
      }
    }
  }
}
