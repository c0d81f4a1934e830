// libtern_jni's strings: real UTF-8 on the C side, UTF-16 on the Java side
// (not JNI's "modified UTF-8"; see tern_jni.cc's top comment).
#include <jni.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tern_jni_internal.h"

namespace tern::jni {

// Java UTF-16 -> UTF-8. Returns false (with `error` set) for a lone surrogate
// or, when `allow_nul` is false, an embedded U+0000 (C strings cannot carry it).
bool to_utf8(JNIEnv* env, jstring s, std::string& out, const char*& error, bool allow_nul) {
  out.clear();
  const jsize n = env->GetStringLength(s);
  const jchar* chars = env->GetStringChars(s, nullptr);
  if (chars == nullptr) {
    error = "out of memory";
    return false;
  }
  out.reserve(static_cast<std::size_t>(n) + 8);
  bool ok = true;
  for (jsize i = 0; i < n && ok; ++i) {
    uint32_t c = chars[i];
    if (c >= 0xD800 && c <= 0xDBFF) {
      if (i + 1 < n && chars[i + 1] >= 0xDC00 && chars[i + 1] <= 0xDFFF) {
        c = 0x10000 + ((c - 0xD800) << 10) + (chars[i + 1] - 0xDC00);
        ++i;
      } else {
        ok = false;
        error = "contains a lone UTF-16 surrogate";
        break;
      }
    } else if (c >= 0xDC00 && c <= 0xDFFF) {
      ok = false;
      error = "contains a lone UTF-16 surrogate";
      break;
    } else if (c == 0 && !allow_nul) {
      ok = false;
      error = "contains U+0000";
      break;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  env->ReleaseStringChars(s, chars);
  return ok;
}

// UTF-8 -> Java string; malformed bytes become U+FFFD. Null on OOM (with a
// pending OutOfMemoryError).
jstring from_utf8(JNIEnv* env, const char* s, std::size_t len) {
  std::vector<jchar> u;
  u.reserve(len);
  const auto* p = reinterpret_cast<const unsigned char*>(s);
  std::size_t i = 0;
  while (i < len) {
    unsigned char c = p[i];
    uint32_t cp = 0xFFFD;
    std::size_t n = 1;
    if (c < 0x80) {
      cp = c;
    } else {
      std::size_t extra = (c & 0xE0) == 0xC0   ? 1
                          : (c & 0xF0) == 0xE0 ? 2
                          : (c & 0xF8) == 0xF0 ? 3
                                               : 0;
      if (extra != 0 && i + extra < len) {  // bytes i+1 .. i+extra exist
        uint32_t v = c & (0x3F >> extra);
        bool good = true;
        for (std::size_t k = 1; good && k <= extra; ++k) {
          if ((p[i + k] & 0xC0) != 0x80)
            good = false;
          else
            v = (v << 6) | (p[i + k] & 0x3F);
        }
        static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (good && v >= kMin[extra] && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF)) {
          cp = v;
          n = extra + 1;
        }
      }
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u.push_back(static_cast<jchar>(0xD800 + (cp >> 10)));
      u.push_back(static_cast<jchar>(0xDC00 + (cp & 0x3FF)));
    } else {
      u.push_back(static_cast<jchar>(cp));
    }
    i += n;
  }
  static const jchar kEmpty = 0;
  return env->NewString(u.empty() ? &kEmpty : u.data(), static_cast<jsize>(u.size()));
}

}  // namespace tern::jni
