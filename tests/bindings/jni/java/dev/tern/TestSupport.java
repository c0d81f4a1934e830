package dev.tern;

import java.io.File;

/** Options for hermetic tests: a temp database, no gzip, explicit flushes, ms backoff. */
final class TestSupport {
  private TestSupport() {}

  static Tern.Options.Builder options(File dir, String name, Transport transport) {
    Tern.Options.Builder b = Tern.Options.builder()
        .writeKey("wk")
        .storagePath(new File(dir, name + ".db").getPath())
        .gzip(false)
        .flushAt(1000)
        .flushIntervalMillis(60_000)
        .backoffBaseMillis(1)
        .backoffMaxMillis(5)
        .commitWindowMillis(1);
    if (transport != null) b.transport(transport);
    return b;
  }

  /** Polls until stats().sent reaches {@code sent} (bounded); returns the last stats. */
  static Stats waitForSent(Tern tern, long sent, long timeoutMillis) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    Stats s = tern.stats();
    while (s.sent < sent && System.nanoTime() < deadline) {
      Thread.sleep(2);
      s = tern.stats();
    }
    return s;
  }
}
