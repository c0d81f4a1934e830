// fault-report: prints the fault suite's table from the per-scenario JSON
// files (<dir>/*.json) and fails when a scenario lost an accepted event
// without a drop counter or went over its duplicate bound.
//
//   fault-report RESULTS_DIR [--markdown]
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using nlohmann::json;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fault-report RESULTS_DIR [--markdown]\n");
    return 2;
  }
  bool markdown = argc > 2 && std::string(argv[2]) == "--markdown";
  std::vector<json> rows;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(argv[1], ec)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    json j = json::parse(in, nullptr, false);
    if (!j.is_discarded()) rows.push_back(std::move(j));
  }
  if (rows.empty()) {
    std::fprintf(stderr, "fault-report: no results in %s (run the fault scenarios first)\n",
                 argv[1]);
    return 1;
  }
  std::sort(rows.begin(), rows.end(),
            [](const json& a, const json& b) { return a["scenario"] < b["scenario"]; });
  auto joined = [](const json& obj) {
    std::string s;
    for (const auto& [k, v] : obj.items()) {
      if (!s.empty()) s += ", ";
      s += k + "=" +
           (v.is_number_float() ? std::to_string(static_cast<long long>(v.get<double>()))
                                : v.dump());
    }
    return s.empty() ? std::string("-") : s;
  };
  const char* fmt = markdown ? "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n"
                             : "%-50s %6s %8s %9s %10s %7s %10s  %s  |  %s  |  %s\n";
  std::printf(fmt, "scenario", "sent", "accepted", "delivered", "dups/bound", "missing", "seconds",
              "SDK dropped by reason", "relay drop counters", "faults injected");
  if (markdown)
    std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |\n");
  int failures = 0;
  for (const json& r : rows) {
    uint64_t missing = r.value("missing", 0ull), explained = r.value("explained", 0ull);
    uint64_t dups = r.value("duplicates", 0ull), bound = r.value("duplicate_bound", 0ull);
    bool ok = missing <= explained && dups <= bound;
    if (!ok) ++failures;
    std::string name = r.value("scenario", "?") + (ok ? "" : " (FAILED)");
    std::string db = std::to_string(dups) + "/" + std::to_string(bound);
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", r.value("seconds", 0.0));
    std::printf(fmt, name.c_str(), std::to_string(r.value("sent", 0ull)).c_str(),
                std::to_string(r.value("accepted", 0ull)).c_str(),
                std::to_string(r.value("delivered", 0ull)).c_str(), db.c_str(),
                std::to_string(missing).c_str(), secs, joined(r["sdk_dropped"]).c_str(),
                joined(r["relay_dropped"]).c_str(), joined(r["faults"]).c_str());
  }
  std::printf("%zu scenarios, %d failed\n", rows.size(), failures);
  return failures == 0 ? 0 : 1;
}
