package dev.tern;

/** What a client did, as of the {@link Tern#stats()} call. Immutable. */
public final class Stats {
  /** Accepted by the event calls. */
  public final long enqueued;
  /** Committed to the on-device store. */
  public final long stored;
  /** Acknowledged by the server (2xx). */
  public final long sent;
  /** Upload attempts that failed and will be retried. */
  public final long retried;
  /** Upload attempts (requests) made. */
  public final long attempts;
  /** Successful requests. */
  public final long batchesSent;
  /** Events dropped, for every reason. */
  public final long dropped;
  /** Events in the store, not yet sent. */
  public final long queueDepth;
  /** Their size in bytes. */
  public final long queueBytes;
  /** Events handed to the worker, not yet stored. */
  public final long pending;
  /** Request bodies put on the wire (after gzip), all attempts. */
  public final long bytesSent;
  /** Times a corrupt database was moved aside. */
  public final long corruptDbRecoveries;
  /** Application Installed/Updated/Opened/Backgrounded events recorded. */
  public final long lifecycleEvents;
  /** Sessions started. */
  public final long sessionsStarted;
  /** Settings answers (200) applied. */
  public final long settingsFetched;
  /** Settings answers 304 (the copy held is current). */
  public final long settingsNotModified;
  /** Failed or malformed settings fetches (the last good copy stays). */
  public final long settingsFailed;
  /** Events not recorded because their session is sampled out. */
  public final long sampledOut;
  /** Events not captured while the settings' kill switch was on. */
  public final long killSwitchRefused;
  /** {@link Tern#flushAsync} outcomes. */
  public final long backgroundFlushesSent;
  public final long backgroundFlushesTimedOut;
  public final long backgroundFlushesCancelled;

  private final long[] droppedByReason;

  // Layout of the array the native glue fills (see tern_jni.cc): FIELDS
  // counters, the drop reasons, then the lifecycle counters.
  static final int FIELDS = 12;
  static final int REASON_SLOTS = 32;
  static final int LIFECYCLE_FIELDS = 10;
  static final int LENGTH = FIELDS + REASON_SLOTS + LIFECYCLE_FIELDS;

  Stats(long[] v) {
    enqueued = v[0];
    stored = v[1];
    sent = v[2];
    retried = v[3];
    attempts = v[4];
    batchesSent = v[5];
    dropped = v[6];
    queueDepth = v[7];
    queueBytes = v[8];
    pending = v[9];
    bytesSent = v[10];
    corruptDbRecoveries = v[11];
    droppedByReason = new long[REASON_SLOTS];
    System.arraycopy(v, FIELDS, droppedByReason, 0, REASON_SLOTS);
    int l = FIELDS + REASON_SLOTS;
    lifecycleEvents = v[l];
    sessionsStarted = v[l + 1];
    settingsFetched = v[l + 2];
    settingsNotModified = v[l + 3];
    settingsFailed = v[l + 4];
    sampledOut = v[l + 5];
    killSwitchRefused = v[l + 6];
    backgroundFlushesSent = v[l + 7];
    backgroundFlushesTimedOut = v[l + 8];
    backgroundFlushesCancelled = v[l + 9];
  }

  /** Events dropped for {@code reason}. */
  public long dropped(DropReason reason) {
    return droppedByReason[reason.ordinal()];
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    sb.append("Stats{enqueued=").append(enqueued)
        .append(", stored=").append(stored)
        .append(", sent=").append(sent)
        .append(", retried=").append(retried)
        .append(", attempts=").append(attempts)
        .append(", batchesSent=").append(batchesSent)
        .append(", dropped=").append(dropped)
        .append(", queueDepth=").append(queueDepth)
        .append(", queueBytes=").append(queueBytes)
        .append(", pending=").append(pending)
        .append(", bytesSent=").append(bytesSent)
        .append(", lifecycleEvents=").append(lifecycleEvents)
        .append(", sessionsStarted=").append(sessionsStarted)
        .append(", settingsFetched=").append(settingsFetched)
        .append(", settingsNotModified=").append(settingsNotModified)
        .append(", settingsFailed=").append(settingsFailed)
        .append(", sampledOut=").append(sampledOut)
        .append(", killSwitchRefused=").append(killSwitchRefused)
        .append(", backgroundFlushes.sent=").append(backgroundFlushesSent)
        .append(", backgroundFlushes.timedOut=").append(backgroundFlushesTimedOut)
        .append(", backgroundFlushes.cancelled=").append(backgroundFlushesCancelled);
    for (DropReason r : DropReason.values()) {
      if (dropped(r) != 0) sb.append(", dropped.").append(r.name()).append('=').append(dropped(r));
    }
    return sb.append('}').toString();
  }
}
