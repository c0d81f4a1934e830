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

bool Router::routes_to(std::string_view source, std::string_view type,
                       std::string_view sink) const {
  for (const auto& r : routes_) {
    if (std::find(r.sinks.begin(), r.sinks.end(), sink) != r.sinks.end() &&
        matches(r, source, type)) {
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

}  // namespace tern::relay
