package dev.tern;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConcurrencyTest {
  @TempDir File dir;

  @Test
  void eightThreadsTrackingConcurrentlyLoseNothing() throws Exception {
    final int threads = 8;
    final int perThread = 250;
    RecordingTransport t = new RecordingTransport();
    try (final Tern tern = new Tern(
             TestSupport.options(dir, "concurrent", t).maxBatchEvents(500).build())) {
      final CountDownLatch start = new CountDownLatch(1);
      final AtomicInteger failures = new AtomicInteger();
      Thread[] workers = new Thread[threads];
      for (int i = 0; i < threads; i++) {
        final int id = i;
        workers[i] = new Thread(() -> {
          try {
            start.await();
            for (int k = 0; k < perThread; k++) {
              Map<String, Object> p = new HashMap<String, Object>();
              p.put("thread", id);
              p.put("k", k);
              tern.track("concurrent", p);
            }
          } catch (Throwable e) {
            failures.incrementAndGet();
          }
        });
        workers[i].start();
      }
      start.countDown();
      for (Thread w : workers) w.join(30_000);
      assertEquals(0, failures.get());
      tern.flush(10_000);
      Stats s = tern.stats();
      assertEquals(threads * perThread, s.enqueued);
      assertEquals(threads * perThread, s.sent);
      assertEquals(threads * perThread, RecordingTransport.count(t.all(), "\"concurrent\""));
      // Each thread's events all arrived.
      for (int i = 0; i < threads; i++) {
        assertEquals(perThread, RecordingTransport.count(t.all(), "\"thread\":" + i + ","));
      }
    }
  }
}
