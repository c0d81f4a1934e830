// Router: which sinks an event goes to, from its source and its "type"
// (config.h RouteConfig). An event goes to the union of the sinks of every
// route it matches; a route's empty `sources` / `types` match everything.
//
// Immutable once built, so it is shared (shared_ptr<const Router>) by the
// pipeline and every sink runner and swapped whole on reload.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tern/relay/config.h"

namespace tern::relay {

class Router {
 public:
  explicit Router(std::vector<RouteConfig> routes);

  bool routes_to(std::string_view source, std::string_view type, std::string_view sink) const;
  // Does the event go to any sink? (No allocation; the submit hot path.)
  bool routed_anywhere(std::string_view source, std::string_view type) const;
  // Sink names, sorted, without duplicates. Empty: the event goes nowhere.
  std::vector<std::string> sinks_for(std::string_view source, std::string_view type) const;

 private:
  static bool matches(const RouteConfig& r, std::string_view source, std::string_view type);
  std::vector<RouteConfig> routes_;
};

}  // namespace tern::relay
