package dev.tern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
  @Test
  void scalarsBecomeJsonLiterals() {
    assertEquals("null", Json.write(null));
    assertEquals("true", Json.write(true));
    assertEquals("false", Json.write(Boolean.FALSE));
    assertEquals("42", Json.write(42));
    assertEquals("-9223372036854775808", Json.write(Long.MIN_VALUE));
    assertEquals("2.5", Json.write(2.5));
    assertEquals("0.1", Json.write(0.1f));
    assertEquals("1.0E20", Json.write(1e20));
    assertEquals("123456789012345678901234567890",
        Json.write(new BigInteger("123456789012345678901234567890")));
    assertEquals("1.50", Json.write(new BigDecimal("1.50")));
    assertEquals("\"x\"", Json.write('x'));
    assertEquals("\"GRANTED\"", Json.write(Consent.GRANTED));
    assertEquals("\"1970-01-01T00:00:01.234Z\"", Json.write(new Date(1234)));
  }

  @Test
  void stringsAreEscaped() {
    assertEquals("\"a\\\"b\\\\c\"", Json.write("a\"b\\c"));
    assertEquals("\"\\n\\r\\t\\b\\f\\u0000\\u001f\"", Json.write("\n\r\t\b\f\u0000\u001f"));
    assertEquals("\"caf\u00e9 \ud83d\ude80 </script>\"", Json.write("caf\u00e9 \ud83d\ude80 </script>"));
    // Lone surrogates cannot be encoded in UTF-8: they become U+FFFD.
    assertEquals("\"a\ufffdb\ufffd\"", Json.write("a\ud800b\udc00"));
  }

  @Test
  void nestedMapsListsAndArraysKeepTheirShape() {
    Map<String, Object> inner = new LinkedHashMap<String, Object>();
    inner.put("ok", true);
    inner.put("none", null);
    List<Object> list = new ArrayList<Object>();
    list.add(1);
    list.add("two");
    list.add(inner);
    Map<String, Object> m = new LinkedHashMap<String, Object>();
    m.put("list", list);
    m.put("ints", new int[] {1, 2, 3});
    m.put("doubles", new double[] {0.5});
    m.put("objects", new Object[] {"a", null, new long[] {}});
    m.put("bools", new boolean[] {true, false});
    m.put("set", Arrays.asList("x"));
    assertEquals("{\"list\":[1,\"two\",{\"ok\":true,\"none\":null}],\"ints\":[1,2,3],"
            + "\"doubles\":[0.5],\"objects\":[\"a\",null,[]],\"bools\":[true,false],"
            + "\"set\":[\"x\"]}",
        Json.write(m));
  }

  @Test
  void valuesJsonCannotHoldAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> Json.write(Double.NaN));
    assertThrows(IllegalArgumentException.class, () -> Json.write(Float.POSITIVE_INFINITY));
    assertThrows(IllegalArgumentException.class, () -> Json.write(new Object()));
    Map<String, Object> withNullKey = new HashMap<String, Object>();
    withNullKey.put(null, 1);
    assertThrows(IllegalArgumentException.class, () -> Json.write(withNullKey));
  }

  @Test
  void aCycleIsReportedNotAStackOverflow() {
    Map<String, Object> a = new HashMap<String, Object>();
    a.put("self", a);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.write(a));
    assertTrue(e.getMessage().contains("cycle"));
  }
}
