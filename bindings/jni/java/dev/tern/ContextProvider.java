package dev.tern;

import java.util.Map;

/**
 * Facts about the app, device and OS that the platform knows, with Segment
 * keys, for example {@code {"app": {"name": "x", "version": "1.2"}, "os": {...}}}.
 * Called once per client while it starts (on the thread creating it or on the
 * worker thread); the result is cached and added to every event as its
 * {@code context}. Must not throw (an exception means "no facts").
 */
public interface ContextProvider {
  Map<String, Object> context();
}
