package dev.tern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LifecycleTest {
  @TempDir File dir;

  private static void gcUntil(java.util.function.BooleanSupplier done) throws InterruptedException {
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (!done.getAsBoolean() && System.nanoTime() < deadline) {
      System.gc();
      Thread.sleep(20);
    }
  }

  @Test
  void manyClientsClosedOrCollectedReleaseTheirNativeHandlesAndHooks() throws Exception {
    final int base = Tern.liveNativeClients();
    final int n = 24;
    List<WeakReference<RecordingTransport>> transports =
        new ArrayList<WeakReference<RecordingTransport>>();
    // Half closed with try-with-resources...
    for (int i = 0; i < n; i++) {
      RecordingTransport t = new RecordingTransport();
      transports.add(new WeakReference<RecordingTransport>(t));
      try (Tern tern = new Tern(TestSupport.options(dir, "closed" + i, t).build())) {
        tern.track("e" + i);
      }
    }
    assertEquals(base, Tern.liveNativeClients());
    // ...half simply dropped: the reaper frees them after GC.
    for (int i = 0; i < n; i++) {
      RecordingTransport t = new RecordingTransport();
      transports.add(new WeakReference<RecordingTransport>(t));
      Tern tern = new Tern(TestSupport.options(dir, "dropped" + i, t).build());
      tern.track("e" + i);
    }
    assertTrue(Tern.liveNativeClients() >= base + 1);
    gcUntil(() -> Tern.liveNativeClients() == base);
    assertEquals(base, Tern.liveNativeClients());
    // The native side released its global refs: every transport can be collected.
    gcUntil(() -> {
      for (WeakReference<RecordingTransport> w : transports) {
        if (w.get() != null) return false;
      }
      return true;
    });
    for (WeakReference<RecordingTransport> w : transports) assertNull(w.get());
  }

  @Test
  void aCollectedClientReleasesItsDatabaseForTheNextOne() throws Exception {
    final int base = Tern.liveNativeClients();
    openAndForget(new File(dir, "reopen"));
    gcUntil(() -> Tern.liveNativeClients() == base);
    try (Tern again = new Tern(TestSupport.options(new File(dir, "reopen"), "db",
             new RecordingTransport()).build())) {
      again.track("reopened");
      again.flush(5000);
    }
  }

  private static void openAndForget(File dir) {
    assertTrue(dir.mkdirs());
    new Tern(TestSupport.options(dir, "db", new RecordingTransport()).build()).track("x");
  }
}
