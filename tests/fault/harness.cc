#include "harness.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "relay_process.h"

namespace tern::fault {

using namespace std::chrono_literals;

bool Child::start(const std::vector<std::string>& argv, const fs::path& log_file,
                  bool want_listen_line) {
  address.clear();
  tern::testing::ChildProcess::Options options;
  options.log_file = log_file.string();
  options.pipe_stdout = want_listen_line;
  if (!process_.start(argv, options)) {
    error = process_.error();
    return false;
  }
  if (!want_listen_line) return true;
  return tern::testing::read_listening_address(process_, 30s, log_file.string(), &address, &error);
}

std::string relay_config(const fs::path& data_dir, const RelayOptions& o) {
  std::ostringstream c;
  c << "data_dir = \"" << data_dir.string() << "\"\n"
    << "[server]\nlisten = \"127.0.0.1:0\"\nthreads = 2\n"
    << "[limits]\nmax_batch_bytes = \"" << o.max_batch_bytes << "\"\nread_timeout = \"5s\"\n"
    << "[spool]\nmax_bytes = \"" << o.spool_max_bytes
    << "\"\ncommit_window = \"1ms\"\nretry_after_seconds = 1\n"
    << "[log]\nlevel = \"warn\"\n"
    << "[[sources]]\nid = \"fault\"\nwrite_keys = [\"" << o.write_key
    << "\"]\nack_mode = \"local\"\n"
    << "rate_limit_eps = " << o.rate_limit_eps << "\nrate_limit_burst = " << o.rate_limit_burst
    << "\n"
    << "dedup_window = \"" << o.dedup_window << "\"\n"
    << "[[sinks]]\nname = \"file\"\ntype = \"file\"\nbatch_linger = \"5ms\"\nbackoff_base = "
       "\"50ms\"\n"
    << "backoff_max = \"300ms\"\ndir = \"" << (data_dir / "events").string() << "\"\ngzip = false\n"
    << "max_age = \"" << o.file_max_age << "\"\n";
  return c.str();
}

double metric_sum(const std::string& host_port, const std::string& name) {
  std::istringstream in(http_get(host_port, "/metrics"));
  std::string line;
  double sum = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    if (space != std::string::npos && line.compare(0, name.size(), name) == 0)
      sum += std::atof(line.c_str() + space + 1);
  }
  return sum;
}

std::map<std::string, double> relay_drop_metrics(const std::string& host_port) {
  std::map<std::string, double> out;
  std::istringstream in(http_get(host_port, "/metrics"));
  std::string line;
  static const char* kDropWords[] = {"rejected",      "deduplicated", "lost",     "refused",
                                     "dead_lettered", "limit_hits",   "unrouted", "corrupt"};
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    std::string name = line.substr(0, space);
    bool wanted = false;
    for (const char* w : kDropWords) wanted = wanted || name.find(w) != std::string::npos;
    if (!wanted) continue;
    double v = std::atof(line.c_str() + space + 1);
    if (v != 0) out[name] = v;
  }
  return out;
}

SinkContents read_sink(const std::vector<fs::path>& dirs) {
  SinkContents s;
  for (const fs::path& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path());
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        // A file being written may end in a partial line; it is complete on the next read.
        nlohmann::json e = nlohmann::json::parse(line, nullptr, false);
        if (e.is_discarded()) {
          ++s.unparseable_lines;
          continue;
        }
        std::string fid;
        if (e.contains("properties") && e["properties"].is_object() &&
            e["properties"].contains("fid") && e["properties"]["fid"].is_string()) {
          fid = e["properties"]["fid"].get<std::string>();
        }
        ++s.count_by_fid[fid];
        if (e.contains("messageId") && e["messageId"].is_string()) {
          s.message_ids_by_fid[fid].insert(e["messageId"].get<std::string>());
        }
        s.events.push_back(std::move(e));
      }
    }
  }
  return s;
}

std::set<std::string> read_ids(const fs::path& file) {
  std::set<std::string> ids;
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t start = 0, nl;
  while ((nl = text.find('\n', start)) != std::string::npos) {  // a line without '\n' is torn
    if (nl > start) ids.insert(text.substr(start, nl - start));
    start = nl + 1;
  }
  return ids;
}

void reconcile(const std::set<std::string>& accepted, const SinkContents& sink, Outcome* out) {
  out->accepted = accepted.size();
  out->delivered = out->missing = out->duplicates = out->unexpected = 0;
  for (const std::string& id : accepted) {
    auto it = sink.count_by_fid.find(id);
    if (it == sink.count_by_fid.end()) {
      ++out->missing;
    } else {
      ++out->delivered;
      out->duplicates += static_cast<uint64_t>(it->second - 1);
    }
  }
  for (const auto& [fid, n] : sink.count_by_fid) {
    if (!accepted.count(fid)) out->unexpected += static_cast<uint64_t>(n);
  }
}

void add_sdk_drops(const nlohmann::json& stats, std::map<std::string, uint64_t>* out) {
  if (!stats.is_object() || !stats.contains("dropped_by_reason")) return;
  for (const auto& [reason, n] : stats["dropped_by_reason"].items()) {
    if (n.is_number_unsigned() && n.get<uint64_t>() > 0) (*out)[reason] += n.get<uint64_t>();
  }
}

nlohmann::json Outcome::to_json() const {
  return nlohmann::json{{"scenario", scenario},
                        {"sent", sent},
                        {"accepted", accepted},
                        {"delivered", delivered},
                        {"duplicates", duplicates},
                        {"duplicate_bound", duplicate_bound},
                        {"missing", missing},
                        {"unexpected", unexpected},
                        {"explained", explained},
                        {"sdk_dropped", sdk_dropped},
                        {"relay_dropped", relay_dropped},
                        {"faults", faults},
                        {"seconds", seconds},
                        {"note", note}};
}

void write_outcome(const Outcome& o) {
  fs::path dir = FAULT_RESULTS_DIR;
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream f(dir / (o.scenario + ".json"));
  f << o.to_json().dump(2) << "\n";
}

}  // namespace tern::fault
