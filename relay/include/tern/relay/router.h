// Router: which sinks an event goes to, from its source and its "type"
// (config.h RouteConfig). An event goes to the union of the sinks of every
// route it matches; a route's empty `sources` / `types` match everything.
//
// Immutable once built (but for the one-time begin_at), so it is shared
// (shared_ptr<const Router>) by the pipeline and every sink runner and
// swapped whole on reload.
//
// Routing is decided when an event is accepted: a reload chains the new
// routes in front of the old ones, which keep judging the events committed
// before the reload (at(seq) picks the router of an event's time), so an
// event reaches the sinks it was routed to when it was accepted, whatever
// the routes became by the time a sink reads it.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tern/relay/config.h"

namespace tern::relay {

class Router {
 public:
  // Routes for every event.
  explicit Router(std::vector<RouteConfig> routes);
  // Routes for the events committed from begin_at()'s sequence number on;
  // until begin_at() is called, and for earlier events, `earlier` judges.
  Router(std::vector<RouteConfig> routes, std::shared_ptr<const Router> earlier);

  // Sets the first sequence number this router judges; called once, while
  // no commit can be published (Spool::at_commit_point), so no reader sees
  // an event past the boundary before the boundary is set.
  void begin_at(uint64_t first_seq) const {
    first_seq_.store(first_seq, std::memory_order_release);
  }
  // The router that judges the event with sequence number `seq`.
  const Router& at(uint64_t seq) const;
  // This chain without the routers that only judge events before
  // `oldest_unread` (every sink has read past them).
  static std::shared_ptr<const Router> pruned(const std::shared_ptr<const Router>& router,
                                              uint64_t oldest_unread);
  std::size_t chain_length() const;
  // The chain's routers, oldest first, each with the first sequence number
  // it judges (0 for the oldest): for judging a run of events in sequence
  // order with one forward pass (at() walks from the newest for each event).
  std::vector<std::pair<uint64_t, const Router*>> chain() const;
  const std::vector<RouteConfig>& routes() const { return routes_; }

  bool routes_to(std::string_view source, std::string_view type, std::string_view sink) const;
  // Does the event go to any sink? (No allocation; the submit hot path.)
  bool routed_anywhere(std::string_view source, std::string_view type) const;
  // Sink names, sorted, without duplicates. Empty: the event goes nowhere.
  std::vector<std::string> sinks_for(std::string_view source, std::string_view type) const;

 private:
  static bool matches(const RouteConfig& r, std::string_view source, std::string_view type);
  std::vector<RouteConfig> routes_;
  std::shared_ptr<const Router> earlier_;
  // A chained router judges nothing of its own until begin_at().
  mutable std::atomic<uint64_t> first_seq_;
};

}  // namespace tern::relay
