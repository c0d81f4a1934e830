// Application lifecycle (Segment's mobile spec): which event a launch
// records. Engine::app_launched / app_foreground / app_background
// (lifecycle.cc) use it; this part is pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tern {

// What a launch of `version`/`build` records, given what the last launch
// stored (`stored_version`/`stored_build`) and whether the database is a
// queue from an SDK without lifecycle (`legacy`):
// - nothing stored, fresh database: "Application Installed" {version, build};
// - nothing stored, legacy queue: "Application Updated" with previous_* null;
// - another build stored: "Application Updated" {version, build,
//   previous_version, previous_build};
// - the same build: nothing (event empty).
struct LaunchEvent {
  std::string event;  // empty: nothing to record
  nlohmann::json properties = nlohmann::json::object();
};
LaunchEvent decide_launch(const std::optional<std::string>& stored_version,
                          const std::optional<std::string>& stored_build, bool legacy,
                          std::string_view version, std::string_view build);

}  // namespace tern
