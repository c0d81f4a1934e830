#include "tern/relay/router.h"

#include <algorithm>

namespace tern::relay {

Router::Router(std::vector<RouteConfig> routes) : routes_(std::move(routes)) {}

bool Router::matches(const RouteConfig& r, std::string_view source, std::string_view type) {
  auto in = [](const std::vector<std::string>& list, std::string_view v) {
    return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
  };
  return in(r.sources, source) && in(r.types, type);
}

bool Router::routes_to(std::string_view source, std::string_view type, std::string_view sink) const {
  for (const auto& r : routes_) {
    if (std::find(r.sinks.begin(), r.sinks.end(), sink) != r.sinks.end() && matches(r, source, type)) {
      return true;
    }
  }
  return false;
}

bool Router::routed_anywhere(std::string_view source, std::string_view type) const {
  for (const auto& r : routes_) {
    if (!r.sinks.empty() && matches(r, source, type)) return true;
  }
  return false;
}

std::vector<std::string> Router::sinks_for(std::string_view source, std::string_view type) const {
  std::vector<std::string> out;
  for (const auto& r : routes_) {
    if (!matches(r, source, type)) continue;
    out.insert(out.end(), r.sinks.begin(), r.sinks.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

std::size_t skip_ws(std::string_view s, std::size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// s[i] is '"'. Returns the index just past the closing quote (npos if none).
std::size_t skip_string(std::string_view s, std::size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// Skips one value starting at s[i]; returns the index just past it.
std::size_t skip_value(std::string_view s, std::size_t i) {
  if (i >= s.size()) return std::string_view::npos;
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        if (i == std::string_view::npos) return i;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return std::string_view::npos;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
         s[i] != '\t' && s[i] != '\r') {
    ++i;
  }
  return i;
}

}  // namespace

std::string event_type(std::string_view s) {
  constexpr auto npos = std::string_view::npos;
  std::size_t i = skip_ws(s, 0);
  if (i >= s.size() || s[i] != '{') return {};
  ++i;
  for (;;) {
    i = skip_ws(s, i);
    if (i >= s.size() || s[i] != '"') return {};
    std::size_t key_end = skip_string(s, i);
    if (key_end == npos) return {};
    std::string_view key = s.substr(i + 1, key_end - i - 2);
    i = skip_ws(s, key_end);
    if (i >= s.size() || s[i] != ':') return {};
    i = skip_ws(s, i + 1);
    if (key == "type") {
      if (i >= s.size() || s[i] != '"') return {};
      std::size_t end = skip_string(s, i);
      if (end == npos) return {};
      return std::string(s.substr(i + 1, end - i - 2));
    }
    i = skip_value(s, i);
    if (i == npos) return {};
    i = skip_ws(s, i);
    if (i >= s.size() || s[i] != ',') return {};
    ++i;
  }
}

}  // namespace tern::relay
