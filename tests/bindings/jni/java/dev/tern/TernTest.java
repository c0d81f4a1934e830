package dev.tern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TernTest {
  @TempDir File dir;

  private static Map<String, Object> props(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<String, Object>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
    return m;
  }

  @Test
  void onAndroidAClientWithoutATransportUsesHttpUrlConnection() {
    // Android's native library is built without libcurl (TERN_TRANSPORT=none).
    assertTrue(Tern.defaultTransport("Dalvik") instanceof HttpUrlConnectionTransport);
    assertEquals(null, Tern.defaultTransport(System.getProperty("java.vm.name")));
  }

  @Test
  void versionComesFromTheNativeLibrary() {
    assertEquals("0.1.0", Tern.version());
  }

  @Test
  void everyCallReachesTheTransportOnTheWorkerThread() {
    RecordingTransport t = new RecordingTransport();
    try (Tern tern = new Tern(TestSupport.options(dir, "calls", t).build())) {
      String anon = tern.anonymousId();
      assertFalse(anon.isEmpty());
      Map<String, Object> nested = props("list", new int[] {1, 2}, "map", props("deep", true),
          "none", null, "quote", "say \"hi\"\n", "emoji", "\ud83d\ude80");
      tern.track("Order Completed", props("total", 12.5, "nested", nested),
          new EventOptions().context(props("campaign", "spring")).timestamp(1700000000123L));
      tern.identify("user-42", props("plan", "pro"));
      tern.screen("Home", props("tab", 1));
      tern.page("Pricing");
      tern.page(null);
      tern.group("acme", props("employees", 10));
      tern.alias("user-43");
      tern.flush(5000);

      String all = t.all();
      assertEquals(1, RecordingTransport.count(all, "\"type\":\"track\""));
      assertEquals(1, RecordingTransport.count(all, "\"type\":\"identify\""));
      assertEquals(1, RecordingTransport.count(all, "\"type\":\"screen\""));
      assertEquals(2, RecordingTransport.count(all, "\"type\":\"page\""));
      assertEquals(1, RecordingTransport.count(all, "\"type\":\"group\""));
      assertEquals(1, RecordingTransport.count(all, "\"type\":\"alias\""));
      assertTrue(all.contains("\"total\":12.5"));
      assertTrue(all.contains("\"list\":[1,2]"));
      assertTrue(all.contains("\"map\":{\"deep\":true}"));
      assertTrue(all.contains("\"none\":null"));
      assertTrue(all.contains("\"quote\":\"say \\\"hi\\\"\\n\""));
      assertTrue(all.contains("\ud83d\ude80"));
      assertTrue(all.contains("\"campaign\":\"spring\""));
      assertTrue(all.contains("2023-11-14T22:13:20.123Z"));
      assertTrue(all.contains("\"previousId\":\"user-42\""));
      assertTrue(all.contains("\"groupId\":\"acme\""));
      assertTrue(all.contains("\"name\":\"tern-java\""));
      assertTrue(all.contains(anon));
      assertEquals("wk", t.request(0).writeKey);
      assertTrue(t.request(0).url.endsWith("/v1/batch"));
      for (String name : t.threadNames()) assertNotEquals(Thread.currentThread().getName(), name);

      assertEquals("user-43", tern.userId());
      Stats s = tern.stats();
      assertEquals(7, s.enqueued);
      assertEquals(7, s.sent);
      assertEquals(0, s.queueDepth);
      assertEquals(0, s.dropped);

      tern.reset();
      assertEquals("", tern.userId());
      assertNotEquals(anon, tern.anonymousId());
    }
  }

  @Test
  void badInputThrowsTernExceptionWithStatusInStrictModeAndIsCounted() {
    RecordingTransport t = new RecordingTransport();
    try (Tern tern = new Tern(
             TestSupport.options(dir, "bad", t).maxEventBytes(2048).strict(true).build())) {
      TernException e = assertThrows(TernException.class, () -> tern.track(null));
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertEquals(Status.INVALID_ARGUMENT,
          assertThrows(TernException.class, () -> tern.track("")).status());
      assertEquals(Status.INVALID_ARGUMENT,
          assertThrows(TernException.class, () -> tern.screen("")).status());
      assertEquals(Status.INVALID_ARGUMENT,
          assertThrows(TernException.class, () -> tern.group(null)).status());
      assertEquals(Status.INVALID_ARGUMENT,
          assertThrows(TernException.class, () -> tern.identify("")).status());
      assertEquals(Status.INVALID_ARGUMENT,
          assertThrows(TernException.class, () -> tern.alias(null)).status());
      // A lone surrogate or NUL in a name cannot cross as UTF-8.
      e = assertThrows(TernException.class, () -> tern.track("bad\ud800"));
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertTrue(e.getMessage().contains("surrogate"), e.getMessage());
      assertEquals(Status.INVALID_ARGUMENT,
          assertThrows(TernException.class, () -> tern.track("a\u0000b")).status());
      // Values JSON cannot hold.
      e = assertThrows(TernException.class, () -> tern.track("e", props("nan", Double.NaN)));
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertEquals(Status.INVALID_ARGUMENT,
          assertThrows(TernException.class, () -> tern.track("e", props("o", new Object())))
              .status());
      // Too large.
      char[] big = new char[4096];
      java.util.Arrays.fill(big, 'x');
      e = assertThrows(TernException.class, () -> tern.track("e", props("blob", new String(big))));
      assertEquals(Status.TOO_LARGE, e.status());
      assertFalse(e.getMessage().isEmpty());

      tern.track("fine", props("s", "\u0000 inside a value is escaped"));
      tern.flush(5000);
      Stats s = tern.stats();
      assertEquals(1, s.sent);
      assertEquals(1, s.dropped(DropReason.TOO_LARGE));
      assertTrue(s.dropped(DropReason.INVALID) >= 6, s.toString());
      assertTrue(t.all().contains("\\u0000 inside"));
    }
  }

  @Test
  void optionsAreValidated() {
    int live = Tern.liveNativeClients();
    TernException e = assertThrows(TernException.class,
        () -> new Tern(Tern.Options.builder().storagePath(new File(dir, "x.db").getPath()).build()));
    assertEquals(Status.INVALID_ARGUMENT, e.status());
    e = assertThrows(TernException.class,
        () -> new Tern(TestSupport.options(dir, "neg", null).flushAt(-1).build()));
    assertEquals(Status.INVALID_ARGUMENT, e.status());
    e = assertThrows(TernException.class,
        () -> new Tern(TestSupport.options(dir, "zero", null).backoffBaseMillis(0).build()));
    assertEquals(Status.INVALID_ARGUMENT, e.status());
    assertEquals(live, Tern.liveNativeClients());
  }

  @Test
  void aSecondClientOnTheSameDatabaseIsLocked() {
    try (Tern first = new Tern(TestSupport.options(dir, "same", new RecordingTransport()).build())) {
      TernException e = assertThrows(TernException.class,
          () -> new Tern(TestSupport.options(dir, "same", new RecordingTransport()).build()));
      assertEquals(Status.LOCKED, e.status());
      first.track("still fine");
    }
  }

  @Test
  void consentAndOptOutGateSending() {
    RecordingTransport t = new RecordingTransport();
    // Immediate durability: each event is on disk when track() returns, so the
    // purge below sees it (an event still in the worker's hands can escape a
    // purge; reported to the SDK).
    try (Tern tern = new Tern(TestSupport.options(dir, "consent", t)
             .defaultConsent(Consent.UNKNOWN)
             .durability(Durability.IMMEDIATE)
             .build())) {
      assertEquals(Consent.UNKNOWN, tern.consent());
      tern.track("buffered");
      assertEquals(Status.DISABLED, tern.flush(2000));
      assertEquals(0, t.requests());
      tern.setConsent(Consent.GRANTED);
      assertEquals(Consent.GRANTED, tern.consent());
      tern.flush(5000);
      assertEquals(1, RecordingTransport.count(t.all(), "\"buffered\""));

      tern.optOut(true);
      assertTrue(tern.isOptedOut());
      assertFalse(tern.track("refused"));
      tern.optOut(false);
      assertFalse(tern.isOptedOut());

      tern.setConsent(Consent.UNKNOWN);
      tern.track("purged");
      tern.setConsent(Consent.DENIED);
      assertFalse(tern.track("denied"));
      Stats s = tern.stats();
      assertEquals(1, s.dropped(DropReason.OPT_OUT));
      assertEquals(2, s.dropped(DropReason.CONSENT_DENIED));
      assertEquals(0, s.queueDepth);
    }
  }

  @Test
  void a503ThenA200DeliversTheEventOnce() throws Exception {
    RecordingTransport t = new RecordingTransport(503, 200);
    try (Tern tern = new Tern(TestSupport.options(dir, "retry", t).build())) {
      tern.track("Retried");
      Status flushed = tern.flush(5000);
      if (flushed != Status.OK) assertEquals(Status.TRANSPORT, flushed);
      Stats s = TestSupport.waitForSent(tern, 1, 5000);
      assertEquals(1, s.sent);
      assertEquals(2, t.requests());
      assertEquals(1, s.retried);
      List<String> bodies = t.bodies();
      String id0 = bodies.get(0).replaceAll("(?s).*\"messageId\":\"([^\"]+)\".*", "$1");
      String id1 = bodies.get(1).replaceAll("(?s).*\"messageId\":\"([^\"]+)\".*", "$1");
      assertEquals(id0, id1);
    }
  }

  @Test
  void aTransportThatThrowsIsAFailedAttemptThatIsRetried() throws Exception {
    RecordingTransport t = new RecordingTransport(200);
    t.throwOnce = new IllegalStateException("boom");
    try (Tern tern = new Tern(TestSupport.options(dir, "throws", t).build())) {
      tern.track("Survives");
      Status flushed = tern.flush(5000);
      if (flushed != Status.OK) assertEquals(Status.TRANSPORT, flushed);
      assertEquals(1, TestSupport.waitForSent(tern, 1, 5000).sent);
      assertEquals(2, t.requests());
    }
  }

  @Test
  void loggerAndContextProviderAreCalled() {
    final List<String> lines = Collections.synchronizedList(new ArrayList<String>());
    Logger logger = (level, message) -> lines.add(level + " " + message);
    ContextProvider provider = () -> {
      Map<String, Object> app = new HashMap<String, Object>();
      app.put("name", "java-test-app");
      Map<String, Object> ctx = new HashMap<String, Object>();
      ctx.put("app", app);
      return ctx;
    };
    RecordingTransport t = new RecordingTransport(500, 200);
    try (Tern tern = new Tern(TestSupport.options(dir, "hooks", t)
             .logger(logger, LogLevel.DEBUG)
             .contextProvider(provider)
             .build())) {
      tern.track("with-context");
      tern.flush(5000);  // the 500 is retried by the worker
      assertEquals(1, TestSupport.waitForSent(tern, 1, 5000).sent);
      assertTrue(t.all().contains("java-test-app"));
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    assertFalse(lines.isEmpty());
  }

  @Test
  void closedClientsRefuseEventsAndCloseIsIdempotent() {
    Tern tern = new Tern(TestSupport.options(dir, "closed", new RecordingTransport()).build());
    assertEquals(Status.OK, tern.shutdown(2000));
    assertFalse(tern.track("late"));
    tern.close();
    tern.close();
    assertFalse(tern.track("x"));
    assertEquals(Status.SHUTDOWN, tern.flush(100));
    assertEquals(Status.SHUTDOWN, tern.shutdown(100));
    assertEquals(2, tern.stats().dropped(DropReason.SHUTDOWN));
    assertEquals(Status.SHUTDOWN, assertThrows(TernException.class, tern::userId).status());
  }

  @Test
  void theQueueAndIdentitySurviveARestart() {
    RecordingTransport t = new RecordingTransport();
    Tern.Options options =
        TestSupport.options(dir, "restart", t).defaultConsent(Consent.UNKNOWN).build();
    try (Tern tern = new Tern(options)) {
      tern.identify("persisted");
      tern.track("kept");
    }
    assertEquals(0, t.requests());
    try (Tern tern = new Tern(options)) {
      assertEquals("persisted", tern.userId());
      tern.setConsent(Consent.GRANTED);
      tern.flush(5000);
      assertEquals(1, RecordingTransport.count(t.all(), "\"kept\""));
    }
  }
}
