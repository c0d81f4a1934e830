package dev.tern;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A scripted Transport: answers the i-th request with statuses[i] (the last repeats). */
final class RecordingTransport implements Transport {
  private final int[] statuses;
  private final List<String> bodies = new ArrayList<String>();
  private final List<String> threads = new ArrayList<String>();
  private final List<Request> requests = new ArrayList<Request>();
  volatile RuntimeException throwOnce;

  RecordingTransport(int... statuses) {
    this.statuses = statuses.length == 0 ? new int[] {200} : statuses;
  }

  @Override
  public Response send(Request request) {
    int i;
    synchronized (this) {
      i = bodies.size();
      bodies.add(request.gzip ? "<gzip>" : new String(request.body, StandardCharsets.UTF_8));
      threads.add(Thread.currentThread().getName());
      requests.add(request);
    }
    RuntimeException t = throwOnce;
    if (t != null) {
      throwOnce = null;
      throw t;
    }
    int status = statuses[Math.min(i, statuses.length - 1)];
    if (status == 0) return Response.failure("scripted connection failure");
    return new Response(status, status == 503 ? "0" : null, "{}".getBytes(StandardCharsets.UTF_8),
        null);
  }

  synchronized int requests() {
    return bodies.size();
  }

  synchronized Request request(int i) {
    return requests.get(i);
  }

  synchronized List<String> bodies() {
    return new ArrayList<String>(bodies);
  }

  synchronized List<String> threadNames() {
    return new ArrayList<String>(threads);
  }

  synchronized String all() {
    StringBuilder sb = new StringBuilder();
    for (String b : bodies) sb.append(b).append('\n');
    return sb.toString();
  }

  static int count(String haystack, String needle) {
    int n = 0;
    for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length())) {
      n++;
    }
    return n;
  }
}
