package dev.tern;

/**
 * A Tern call failed. {@link #status()} says why (for example
 * {@link Status#INVALID_ARGUMENT} for bad input, {@link Status#DISABLED} when the
 * user opted out); the message is the library's explanation.
 *
 * <p>Unchecked, so that event calls can be made without ceremony; catch it
 * where a dropped event matters.
 */
public class TernException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status status;

  public TernException(Status status, String message) {
    super(status.name() + ": " + message);
    this.status = status;
  }

  /** Called from the native glue with a raw status code. */
  TernException(int code, String message) {
    this(Status.fromCode(code), message);
  }

  public Status status() {
    return status;
  }
}
