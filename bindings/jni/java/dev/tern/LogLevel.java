package dev.tern;

/** Severity of a {@link Logger} message. */
public enum LogLevel {
  DEBUG,
  INFO,
  WARN,
  ERROR;

  static LogLevel fromCode(int code) {
    return code >= 0 && code < values().length ? values()[code] : ERROR;
  }
}
