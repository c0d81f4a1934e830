package dev.tern;

import java.util.Map;

/** Optional per-call settings for the event calls. All fields may be left unset. */
public final class EventOptions {
  String userId;
  String anonymousId;
  Map<String, ?> context;
  Map<String, ?> integrations;
  long timestampMillis;

  /** Overrides the stored user id for this one event. */
  public EventOptions userId(String userId) {
    this.userId = userId;
    return this;
  }

  /** Overrides the stored anonymous id for this one event. */
  public EventOptions anonymousId(String anonymousId) {
    this.anonymousId = anonymousId;
    return this;
  }

  /** Merged over the platform context (top-level keys replace). */
  public EventOptions context(Map<String, ?> context) {
    this.context = context;
    return this;
  }

  /** The Segment {@code integrations} object. */
  public EventOptions integrations(Map<String, ?> integrations) {
    this.integrations = integrations;
    return this;
  }

  /** Device time of the event in ms since the Unix epoch (default: now). */
  public EventOptions timestamp(long millisSinceEpoch) {
    this.timestampMillis = millisSinceEpoch;
    return this;
  }
}
