package dev.tern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Round trips through real HTTP to tern-test-collector (tests/support), started
 * as a child process on 127.0.0.1 with an ephemeral port; its path comes from
 * the {@code tern.collector} system property (set by ctest).
 */
class CollectorRoundTripTest {
  @TempDir File dir;

  /** A running collector; stop() returns its JSON summary line. */
  static final class Collector implements AutoCloseable {
    final Process process;
    final File stdout;
    final int port;
    final File events;

    // stdout goes to a file: Process.destroy() closes the pipes, and the
    // summary is printed after the SIGTERM that destroy() sends.
    Collector(File dir, String... extra) throws Exception {
      String path = System.getProperty("tern.collector");
      assertNotNull(path, "-Dtern.collector=<path of tern-test-collector> is required");
      events = new File(dir, "events.ndjson");
      stdout = new File(dir, "collector.out");
      List<String> cmd = new ArrayList<String>(Arrays.asList(path, "--write-key", "jk",
          "--events-out", events.getPath(), "--max-seconds", "60"));
      cmd.addAll(Arrays.asList(extra));
      process = new ProcessBuilder(cmd)
          .redirectOutput(stdout)
          .redirectError(ProcessBuilder.Redirect.INHERIT)
          .start();
      String first = null;
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (System.nanoTime() < deadline && process.isAlive()) {
        List<String> lines = Files.readAllLines(stdout.toPath(), StandardCharsets.UTF_8);
        if (!lines.isEmpty() && stdoutComplete()) {
          first = lines.get(0);
          break;
        }
        Thread.sleep(5);
      }
      assertNotNull(first, "the collector did not say where it listens");
      assertTrue(first.startsWith("listening on 127.0.0.1:"), first);
      port = Integer.parseInt(first.substring("listening on 127.0.0.1:".length()).trim());
    }

    private boolean stdoutComplete() throws Exception {
      byte[] b = Files.readAllBytes(stdout.toPath());
      return b.length > 0 && b[b.length - 1] == '\n';
    }

    String url() {
      return "http://127.0.0.1:" + port;
    }

    /** Stops the collector (SIGTERM) and returns its one-line JSON summary. */
    String stop() throws Exception {
      process.destroy();
      assertTrue(process.waitFor(10, TimeUnit.SECONDS));
      assertEquals(0, process.exitValue());
      List<String> lines = Files.readAllLines(stdout.toPath(), StandardCharsets.UTF_8);
      return lines.get(lines.size() - 1);
    }

    List<String> events() throws Exception {
      return Files.readAllLines(events.toPath(), StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
      process.destroyForcibly();
    }
  }

  private static Map<String, Object> props(String k, Object v) {
    Map<String, Object> m = new HashMap<String, Object>();
    m.put(k, v);
    return m;
  }

  @Test
  void httpUrlConnectionTransportDeliversGzipBatchesToTheCollector() throws Exception {
    try (Collector c = new Collector(dir)) {
      Tern.Options options = Tern.Options.builder()
          .endpoint(c.url())
          .writeKey("jk")  // short: tests/support's base64 decoder overflows on long keys
          .storagePath(new File(dir, "http.db").getPath())
          .flushAt(1000)
          .transport(new HttpUrlConnectionTransport(2000, 5000))
          .build();
      try (Tern tern = new Tern(options)) {
        tern.identify("java-user", props("plan", "jni"));
        tern.track("Java Round Trip", props("emoji", "\ud83d\udc26"));
        tern.screen("Java Screen");
        tern.flush(10_000);
        Stats s = tern.stats();
        assertEquals(3, s.sent);
        assertTrue(s.bytesSent > 0);
      }
      String summary = c.stop();
      assertTrue(summary.contains("\"events\":3"), summary);
      assertTrue(summary.contains("\"duplicates\":0"), summary);
      List<String> events = c.events();
      assertEquals(3, events.size());
      String all = String.join("\n", events);
      assertTrue(all.contains("\"event\":\"Java Round Trip\""), all);
      assertTrue(all.contains("\ud83d\udc26"), all);
      assertTrue(all.contains("\"name\":\"Java Screen\""), all);
      assertEquals(3, RecordingTransport.count(all, "\"userId\":\"java-user\""));
    }
  }

  @Test
  void httpUrlConnectionTransportReports503AndRetryAfterAndTheEventArrivesOnce()
      throws Exception {
    try (Collector c = new Collector(dir, "--fail-first", "1", "--retry-after", "0")) {
      Tern.Options options = Tern.Options.builder()
          .endpoint(c.url())
          .writeKey("jk")
          .storagePath(new File(dir, "retry.db").getPath())
          .flushAt(1000)
          .backoffBaseMillis(1)
          .backoffMaxMillis(5)
          .transport(new HttpUrlConnectionTransport(2000, 5000))
          .build();
      try (Tern tern = new Tern(options)) {
        tern.track("Once");
        Status flushed = tern.flush(5000);
        if (flushed != Status.OK) assertEquals(Status.TRANSPORT, flushed);
        Stats s = TestSupport.waitForSent(tern, 1, 5000);
        assertEquals(1, s.sent);
        assertEquals(2, s.attempts);
      }
      String summary = c.stop();
      assertTrue(summary.contains("\"requests\":2"), summary);
      assertTrue(summary.contains("\"events\":1"), summary);
    }
  }

  @Test
  void aWrongWriteKeyIsReportedAsATransportFailure() throws Exception {
    try (Collector c = new Collector(dir)) {
      Tern.Options options = Tern.Options.builder()
          .endpoint(c.url())
          .writeKey("no")
          .storagePath(new File(dir, "auth.db").getPath())
          .transport(new HttpUrlConnectionTransport(2000, 5000))
          .build();
      try (Tern tern = new Tern(options)) {
        tern.track("Unauthorized");
        assertEquals(Status.TRANSPORT, tern.flush(5000));
        assertEquals(0, tern.stats().sent);
      }
      c.stop();
    }
  }

  @Test
  void theNativeCurlTransportAlsoRoundTrips() throws Exception {
    try (Collector c = new Collector(dir)) {
      Tern.Options options = Tern.Options.builder()
          .endpoint(c.url())
          .writeKey("jk")
          .storagePath(new File(dir, "curl.db").getPath())
          .build();
      try (Tern tern = new Tern(options)) {
        tern.track("Via Curl");
        tern.flush(10_000);
        assertEquals(1, tern.stats().sent);
      }
      String summary = c.stop();
      assertTrue(summary.contains("\"events\":1"), summary);
    }
  }
}
