// Small text helpers the request handler's files share: header values,
// paths, the relay's one error shape.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

#include "json_splice.h"
#include "request_handler.h"

namespace tern::relay {

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

inline std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// {"error": code, "message": text a client can act on}
inline std::string error_body(std::string_view error, std::string_view message) {
  std::string out = "{\"error\":";
  append_json_string(&out, error);
  out += ",\"message\":";
  append_json_string(&out, message);
  out += '}';
  return out;
}

inline HttpResponse make_error(int status, std::string_view error, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = error_body(error, message);
  return r;
}

}  // namespace tern::relay
