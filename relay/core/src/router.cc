#include "tern/relay/router.h"

#include <algorithm>

namespace tern::relay {

Router::Router(std::vector<RouteConfig> routes) : routes_(std::move(routes)), first_seq_(0) {}

Router::Router(std::vector<RouteConfig> routes, std::shared_ptr<const Router> earlier)
    : routes_(std::move(routes)),
      earlier_(std::move(earlier)),
      first_seq_(earlier_ ? std::numeric_limits<uint64_t>::max() : 0) {}

const Router& Router::at(uint64_t seq) const {
  const Router* r = this;
  while (r->earlier_ && seq < r->first_seq_.load(std::memory_order_acquire)) r = r->earlier_.get();
  return *r;
}

std::shared_ptr<const Router> Router::pruned(const std::shared_ptr<const Router>& router,
                                             uint64_t oldest_unread) {
  if (!router || !router->earlier_) return router;
  const uint64_t first = router->first_seq_.load(std::memory_order_acquire);
  std::shared_ptr<const Router> earlier =
      first <= oldest_unread ? nullptr : pruned(router->earlier_, oldest_unread);
  if (earlier == router->earlier_) return router;
  auto copy = earlier ? std::make_shared<Router>(router->routes_, std::move(earlier))
                      : std::make_shared<Router>(router->routes_);
  if (copy->earlier_) copy->begin_at(first);
  return copy;
}

std::vector<std::pair<uint64_t, const Router*>> Router::chain() const {
  std::vector<std::pair<uint64_t, const Router*>> out;
  for (const Router* r = this; r; r = r->earlier_.get()) {
    out.emplace_back(r->earlier_ ? r->first_seq_.load(std::memory_order_acquire) : 0, r);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::size_t Router::chain_length() const {
  std::size_t n = 1;
  for (const Router* r = earlier_.get(); r; r = r->earlier_.get()) ++n;
  return n;
}

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
