package dev.tern;

/** The user's tracking consent; persisted by the client. */
public enum Consent {
  /** Events are stored but not sent. */
  UNKNOWN,
  /** Events are sent. */
  GRANTED,
  /** Queued events are purged and new events are refused. */
  DENIED;

  static Consent fromCode(int code) {
    return code >= 0 && code < values().length ? values()[code] : UNKNOWN;
  }
}
