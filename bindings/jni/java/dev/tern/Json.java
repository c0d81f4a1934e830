package dev.tern;

import java.lang.reflect.Array;
import java.util.Calendar;
import java.util.Date;
import java.util.Map;
import java.util.TimeZone;

/**
 * Converts Java values to JSON text, in Java, so the native side receives one
 * string per event. Supported: null, String/CharSequence, Character, Boolean,
 * Number (NaN and infinities are rejected), Map (keys become strings), Iterable,
 * arrays of objects or primitives, Enum (its name) and Date (ISO-8601 UTC).
 * Anything else, a null map key or nesting deeper than {@link #MAX_DEPTH}
 * (usually a cycle) is an {@link IllegalArgumentException}. Lone UTF-16
 * surrogates, which UTF-8 cannot carry, become U+FFFD.
 */
public final class Json {
  public static final int MAX_DEPTH = 64;

  private Json() {}

  /** The JSON text of {@code value}. */
  public static String write(Object value) {
    StringBuilder sb = new StringBuilder(64);
    write(sb, value, 0);
    return sb.toString();
  }

  private static void write(StringBuilder sb, Object value, int depth) {
    if (depth > MAX_DEPTH) {
      throw new IllegalArgumentException("JSON nesting deeper than " + MAX_DEPTH + " (a cycle?)");
    }
    if (value == null) {
      sb.append("null");
    } else if (value instanceof CharSequence) {
      string(sb, value.toString());
    } else if (value instanceof Character) {
      string(sb, value.toString());
    } else if (value instanceof Boolean) {
      sb.append(((Boolean) value).booleanValue() ? "true" : "false");
    } else if (value instanceof Double || value instanceof Float) {
      double d = ((Number) value).doubleValue();
      if (Double.isNaN(d) || Double.isInfinite(d)) {
        throw new IllegalArgumentException("JSON has no NaN or Infinity: " + value);
      }
      // Java's shortest round-trip text ("3.0", "1.0E20") is valid JSON.
      sb.append(value instanceof Float ? Float.toString((Float) value) : Double.toString(d));
    } else if (value instanceof Number) {
      String text = value.toString();
      if (!isJsonNumber(text)) {
        throw new IllegalArgumentException("not a JSON number: " + text);
      }
      sb.append(text);
    } else if (value instanceof Map) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
        if (e.getKey() == null) throw new IllegalArgumentException("null key in a JSON object");
        if (!first) sb.append(',');
        first = false;
        string(sb, e.getKey().toString());
        sb.append(':');
        write(sb, e.getValue(), depth + 1);
      }
      sb.append('}');
    } else if (value instanceof Iterable) {
      sb.append('[');
      boolean first = true;
      for (Object o : (Iterable<?>) value) {
        if (!first) sb.append(',');
        first = false;
        write(sb, o, depth + 1);
      }
      sb.append(']');
    } else if (value.getClass().isArray()) {
      sb.append('[');
      int n = Array.getLength(value);
      for (int i = 0; i < n; i++) {
        if (i > 0) sb.append(',');
        write(sb, Array.get(value, i), depth + 1);
      }
      sb.append(']');
    } else if (value instanceof Enum) {
      string(sb, ((Enum<?>) value).name());
    } else if (value instanceof Date) {
      string(sb, iso8601((Date) value));
    } else {
      throw new IllegalArgumentException(
          "cannot convert " + value.getClass().getName() + " to JSON");
    }
  }

  private static boolean isJsonNumber(String s) {
    // BigDecimal/BigInteger/AtomicLong print JSON-compatible text; anything
    // else (a custom Number) is checked.
    int i = 0;
    int n = s.length();
    if (i < n && s.charAt(i) == '-') i++;
    int digits = 0;
    while (i < n && Character.isDigit(s.charAt(i))) {
      i++;
      digits++;
    }
    if (digits == 0) return false;
    if (i < n && s.charAt(i) == '.') {
      i++;
      int frac = 0;
      while (i < n && Character.isDigit(s.charAt(i))) {
        i++;
        frac++;
      }
      if (frac == 0) return false;
    }
    if (i < n && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
      i++;
      if (i < n && (s.charAt(i) == '+' || s.charAt(i) == '-')) i++;
      int exp = 0;
      while (i < n && Character.isDigit(s.charAt(i))) {
        i++;
        exp++;
      }
      if (exp == 0) return false;
    }
    return i == n;
  }

  private static final char[] HEX = "0123456789abcdef".toCharArray();

  static void string(StringBuilder sb, String s) {
    sb.append('"');
    int n = s.length();
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"':
          sb.append("\\\"");
          break;
        case '\\':
          sb.append("\\\\");
          break;
        case '\n':
          sb.append("\\n");
          break;
        case '\r':
          sb.append("\\r");
          break;
        case '\t':
          sb.append("\\t");
          break;
        case '\b':
          sb.append("\\b");
          break;
        case '\f':
          sb.append("\\f");
          break;
        default:
          if (c < 0x20) {
            sb.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xF]);
          } else if (Character.isHighSurrogate(c)) {
            if (i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
              sb.append(c).append(s.charAt(++i));
            } else {
              sb.append('\uFFFD');
            }
          } else if (Character.isLowSurrogate(c)) {
            sb.append('\uFFFD');
          } else {
            sb.append(c);
          }
      }
    }
    sb.append('"');
  }

  private static String iso8601(Date date) {
    Calendar c = Calendar.getInstance(TimeZone.getTimeZone("UTC"));
    c.setTime(date);
    return String.format(java.util.Locale.ROOT, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
        c.get(Calendar.YEAR), c.get(Calendar.MONTH) + 1, c.get(Calendar.DAY_OF_MONTH),
        c.get(Calendar.HOUR_OF_DAY), c.get(Calendar.MINUTE), c.get(Calendar.SECOND),
        c.get(Calendar.MILLISECOND));
  }
}
