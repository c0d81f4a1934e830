// StatsHistory (stats_history.h). A stub until the history is built.
#include "tern/relay/stats_history.h"

namespace tern::relay {

struct StatsHistory::Impl {};

StatsHistory::StatsHistory(Metrics&, const DurablePipeline&, std::chrono::seconds)
    : impl_(std::make_unique<Impl>()) {}
StatsHistory::~StatsHistory() = default;
void StatsHistory::start() {}
void StatsHistory::stop() {}
void StatsHistory::sample_now() {}
std::string StatsHistory::overview_json() const { return "{}"; }

}  // namespace tern::relay
