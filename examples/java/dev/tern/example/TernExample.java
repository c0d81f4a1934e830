package dev.tern.example;

import dev.tern.HttpUrlConnectionTransport;
import dev.tern.Stats;
import dev.tern.Tern;
import dev.tern.Status;
import dev.tern.TernException;
import java.util.HashMap;
import java.util.Map;

/**
 * Sends a few events through the Tern Java binding.
 *
 * <pre>
 * tern-example-java --endpoint URL --write-key KEY --db PATH [--count N] [--native-http]
 * </pre>
 *
 * It identifies a user, tracks N "Example Event" events and a screen view,
 * flushes, prints the stats, and exits 0 when every event was delivered.
 * Uploads go through {@link HttpUrlConnectionTransport} (as on Android), or
 * through the native libcurl transport with {@code --native-http}.
 */
public final class TernExample {
  private TernExample() {}

  private static void usage() {
    System.err.println("usage: tern-example-java --endpoint URL --write-key KEY --db PATH"
        + " [--count N] [--native-http]");
  }

  public static void main(String[] args) {
    String endpoint = null;
    String writeKey = null;
    String db = null;
    int count = 3;
    boolean nativeHttp = false;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      boolean hasValue = i + 1 < args.length;
      if (a.equals("--endpoint") && hasValue) {
        endpoint = args[++i];
      } else if (a.equals("--write-key") && hasValue) {
        writeKey = args[++i];
      } else if (a.equals("--db") && hasValue) {
        db = args[++i];
      } else if (a.equals("--count") && hasValue) {
        count = Integer.parseInt(args[++i]);
      } else if (a.equals("--native-http")) {
        nativeHttp = true;
      } else {
        usage();
        System.exit(2);
      }
    }
    if (endpoint == null || writeKey == null || db == null || count < 0) {
      usage();
      System.exit(2);
    }

    Tern.Options.Builder options = Tern.Options.builder()
        .endpoint(endpoint)
        .writeKey(writeKey)
        .storagePath(db)
        .libraryName("tern-example-java");
    if (!nativeHttp) options.transport(new HttpUrlConnectionTransport());

    // try-with-resources: close() shuts the client down and frees the native handle.
    try (Tern tern = new Tern(options.build())) {
      Map<String, Object> traits = new HashMap<String, Object>();
      traits.put("plan", "free");
      tern.identify("example-user", traits);
      for (int i = 0; i < count; i++) {
        Map<String, Object> props = new HashMap<String, Object>();
        props.put("index", i);
        props.put("source", "java");
        props.put("tags", new String[] {"example", "jni"});
        tern.track("Example Event", props);
      }
      tern.screen("Example Screen");
      // flush() reports its outcome (OK, or TRANSPORT while offline) instead of throwing.
      Status flushed = tern.flush(10_000);
      Stats stats = tern.stats();
      System.out.println("flush: " + flushed + ", " + stats);
      System.exit(stats.queueDepth == 0 ? 0 : 1);
    } catch (TernException e) {
      // Only construction throws: a bad endpoint, write key or storage path.
      System.err.println("tern-example-java: " + e.getMessage());
      System.exit(1);
    }
  }
}
