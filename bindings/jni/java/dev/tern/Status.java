package dev.tern;

/**
 * Outcome of a Tern call. The codes are those of the C API's {@code tern_status}:
 * fixed forever, new ones only appended.
 */
public enum Status {
  OK(0),
  INVALID_ARGUMENT(1),
  TOO_LARGE(2),
  QUEUE_FULL(3),
  STORAGE(4),
  LOCKED(5),
  CORRUPT(6),
  TIMEOUT(7),
  SHUTDOWN(8),
  DISABLED(9),
  TRANSPORT(10),
  INTERNAL(11),
  NOT_FOUND(12),
  UNAVAILABLE(13);

  private final int code;

  Status(int code) {
    this.code = code;
  }

  /** The stable numeric code. */
  public int code() {
    return code;
  }

  /** The status for a numeric code; {@link #INTERNAL} for a code this version does not know. */
  public static Status fromCode(int code) {
    for (Status s : values()) {
      if (s.code == code) return s;
    }
    return INTERNAL;
  }
}
