package dev.tern;

/** Why an event was dropped; indexes {@link Stats#dropped(DropReason)}. Order is fixed. */
public enum DropReason {
  INVALID,
  TOO_LARGE,
  QUEUE_FULL,
  CAP_EVENTS,
  CAP_BYTES,
  CAP_AGE,
  SERVER_REJECTED,
  RETRY_BUDGET,
  STORAGE_ERROR,
  CORRUPT_DB,
  CONSENT_DENIED,
  OPT_OUT,
  PLUGIN,
  SHUTDOWN
}
