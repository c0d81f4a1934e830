// tern-relay: wires a RelayConfig to the durable pipeline, the request
// handler and the HTTP server, and runs until SIGTERM/SIGINT.
//
//   tern-relay                       embedded default: 127.0.0.1:8080, ./tern-data,
//                                    a dev write key (or $TERN_WRITE_KEY)
//   tern-relay --config relay.toml   everything from the TOML file
//
// The first line on stdout is `listening on HOST:PORT` (the bound address,
// so --listen 127.0.0.1:0 is usable from scripts). Logs are JSON lines on
// stderr. SIGHUP reloads the config file (keys, limits, sinks, routes; not
// listen/TLS/threads, which a warning names when they changed); a config that
// fails to load is refused and the running one stays
// (tern_relay_config_reloads_total{result="ok|refused"} counts both). SIGTERM/SIGINT: stop
// accepting, answer requests in flight, stop the pipeline so sinks flush; what is undelivered stays
// in the spool. Exit status: 0 after a clean stop, 1 on a startup error, 2 on bad usage.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "http_server.h"
#include "request_handler.h"
#include "tern/base/version.h"
#include "tern/relay/builtin_sinks.h"
#include "tern/relay/config.h"
#include "tern/relay/durable_pipeline.h"
#include "tern/relay/log.h"
#include "tern/relay/metrics.h"
#include "tern/relay/sink_registry.h"

namespace {

using namespace tern;
using namespace tern::relay;

constexpr auto kDrainTimeout = std::chrono::seconds(10);

const char kUsage[] =
    "usage: tern-relay [--config FILE] [--listen HOST:PORT] [--data-dir DIR]\n"
    "                  [--write-key KEY]... [--help] [--version]\n"
    "\n"
    "Receives Segment-compatible event batches (POST /v1/batch, /v1/track, ...),\n"
    "spools them durably and fans them out to sinks.\n"
    "\n"
    "  --config FILE       TOML configuration (see relay/tern-relay.example.toml);\n"
    "                      reloaded on SIGHUP\n"
    "  --listen HOST:PORT  address to listen on (default 127.0.0.1:8080; port 0\n"
    "                      picks a free port); overrides the config\n"
    "  --data-dir DIR      spool and default file-sink output (default ./tern-data);\n"
    "                      overrides the config\n"
    "  --write-key KEY     accept this write key (repeatable). Without --config it\n"
    "                      defines the \"default\" source; with --config it adds keys\n"
    "                      to the first source. Default: $TERN_WRITE_KEY, else a\n"
    "                      random dev key printed at start\n"
    "  --help              this text\n"
    "  --version           the version\n"
    "\n"
    "stdout's first line is `listening on HOST:PORT`. Logs are JSON lines on stderr.\n";

struct Flags {
  std::string config_path;
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
  std::vector<std::string> write_keys;
};

// 0: run; otherwise the exit code (help/version printed, or bad usage).
int parse_flags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    auto eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto need_value = [&](const char* name) -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tern-relay: %s needs a value\n%s", name, kUsage);
        return false;
      }
      value = argv[++i];
      return true;
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return -1;
    } else if (arg == "--version") {
      std::printf("tern-relay %s\n", TERN_VERSION_STRING);
      return -1;
    } else if (arg == "--config") {
      if (!need_value("--config")) return 2;
      flags->config_path = value;
    } else if (arg == "--listen") {
      if (!need_value("--listen")) return 2;
      flags->listen = value;
    } else if (arg == "--data-dir") {
      if (!need_value("--data-dir")) return 2;
      flags->data_dir = value;
    } else if (arg == "--write-key") {
      if (!need_value("--write-key")) return 2;
      if (value.empty()) {
        std::fprintf(stderr, "tern-relay: --write-key must not be empty\n");
        return 2;
      }
      flags->write_keys.push_back(value);
    } else {
      std::fprintf(stderr, "tern-relay: unknown argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  return 0;
}

std::string random_key() {
  std::random_device rd;
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string key = "dev-";
  for (int i = 0; i < 24; ++i) key += kAlphabet[rd() % (sizeof kAlphabet - 1)];
  return key;
}

// The config from the file (or the embedded default) with the flags applied.
// `generated_key` is set when a dev key had to be made up.
Result<RelayConfig> build_config(const Flags& flags, std::string* generated_key) {
  RelayConfig config;
  if (flags.config_path.empty()) {
    std::vector<std::string> keys = flags.write_keys;
    if (keys.empty()) {
      const char* env = std::getenv("TERN_WRITE_KEY");
      if (env && *env) {
        keys.emplace_back(env);
      } else {
        if (generated_key->empty()) *generated_key = random_key();
        keys.push_back(*generated_key);
      }
    }
    config = default_config(flags.data_dir.value_or("./tern-data"), std::move(keys));
  } else {
    auto loaded = load_config_file(flags.config_path);
    if (!loaded) return loaded.status();
    config = std::move(loaded.value());
    if (flags.data_dir) config.data_dir = *flags.data_dir;
    if (!flags.write_keys.empty()) {
      if (config.sources.empty()) {
        return Status(StatusCode::kInvalidArgument,
                      "--write-key given but the config defines no source to add it to");
      }
      auto& keys = config.sources.front().write_keys;
      keys.insert(keys.end(), flags.write_keys.begin(), flags.write_keys.end());
    }
  }
  if (flags.listen) config.server.listen = *flags.listen;
  if (config.sources.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "the config defines no source (no write key would work)");
  }
  return config;
}

void apply_log_level(const RelayConfig& config) {
  log::Level level;
  if (log::parse_level(config.log.level, &level)) log::set_level(level);
}

// The outcome of SIGHUPs, counted in tern_relay_config_reloads_total.
struct ReloadCounters {
  explicit ReloadCounters(Metrics& metrics)
      : ok(metrics.counter("tern_relay_config_reloads_total", "result=\"ok\"",
                           "SIGHUP config reloads, by result (refused: the running config stays)")),
        refused(metrics.counter("tern_relay_config_reloads_total", "result=\"refused\"")) {}
  Counter& ok;
  Counter& refused;
};

// SIGHUP: load, validate and apply a new config, or keep the running one.
// `started`: the config the relay started with (what the restart-only
// settings still are).
void reload(const Flags& flags, const RelayConfig& started, DurablePipeline& pipeline,
            RequestHandler& handler, ReloadCounters& counters) {
  if (flags.config_path.empty()) {
    log::warn("SIGHUP ignored: no --config file to reload");
    return;
  }
  auto refuse = [&](const Status& st) {
    counters.refused.inc();
    log::error("config reload refused; the running config stays",
               {{"path", flags.config_path}, {"error", st.to_string()}});
  };
  std::string unused;
  auto next = build_config(flags, &unused);
  if (!next) return refuse(next.status());
  auto ingest = make_ingest_config(next.value());
  if (!ingest) return refuse(ingest.status());
  Status st = pipeline.reload(next.value());
  if (!st) return refuse(st);
  handler.reload(std::move(ingest.value()));
  apply_log_level(next.value());
  for (const std::string& key : settings_needing_restart(started, next.value())) {
    log::warn(
        "config reload: this setting changed but applies only after a restart; the running value "
        "stays",
        {{"path", flags.config_path}, {"setting", key}});
  }
  counters.ok.inc();
  log::info("config reloaded", {{"path", flags.config_path},
                                {"sources", static_cast<int64_t>(next->sources.size())},
                                {"sinks", static_cast<int64_t>(next->sinks.size())}});
}

int run(const Flags& flags) {
  // Signals are taken synchronously by this thread (sigwait); every thread
  // started from here on inherits the mask, so none is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string generated_key;
  auto config = build_config(flags, &generated_key);
  if (!config) {
    log::error("cannot start: bad configuration", {{"error", config.status().to_string()}});
    return 1;
  }
  apply_log_level(config.value());

  auto ingest = make_ingest_config(config.value());
  if (!ingest) {
    log::error("cannot start: bad configuration", {{"error", ingest.status().to_string()}});
    return 1;
  }

  Metrics metrics;
  SinkRegistry registry;
  if (Status st = register_builtin_sinks(registry); !st) {
    log::error("cannot start: sink registry", {{"error", st.to_string()}});
    return 1;
  }
  auto pipeline = make_pipeline(config.value(), metrics, registry);
  if (!pipeline) {
    log::error("cannot start: pipeline", {{"error", pipeline.status().to_string()}});
    return 1;
  }
  auto handler =
      std::make_unique<RequestHandler>(std::move(ingest.value()), pipeline.value().get(), &metrics);

  HttpServerOptions options;
  options.listen = config->server.listen;
  options.threads = config->server.threads;
  options.tls = config->server.tls;
  auto server = HttpServer::start(options, handler.get());
  if (!server) {
    log::error("cannot start: server", {{"error", server.status().to_string()}});
    (void)pipeline.value()->stop(std::chrono::steady_clock::now() + kDrainTimeout);
    return 1;
  }

  const std::string& address = server.value()->local_address();
  std::printf("listening on %s\n", address.c_str());
  if (!generated_key.empty()) std::printf("dev write key: %s\n", generated_key.c_str());
  std::fflush(stdout);
  log::info("listening", {{"addr", address},
                          {"tls", config->server.tls.enabled},
                          {"data_dir", config->data_dir},
                          {"version", TERN_VERSION_STRING}});
  if (!generated_key.empty()) {
    log::warn(
        "no write key configured: using a generated dev key (set --write-key or TERN_WRITE_KEY)",
        {{"write_key", generated_key}});
  }

  ReloadCounters reload_counters(metrics);
  const RelayConfig& started = config.value();
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload(flags, started, *pipeline.value(), *handler, reload_counters);
      continue;
    }
    log::info("stopping: draining requests in flight",
              {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }

  auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  server.value()->stop(deadline);
  Status st = pipeline.value()->stop(deadline);
  if (!st) {
    log::warn("pipeline stopped before every sink caught up; the rest stays in the spool",
              {{"status", st.to_string()}});
  }
  // The pipeline may hold answers for sessions: destroy it before the server.
  pipeline.value().reset();
  server.value().reset();
  handler.reset();
  log::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  int rc = parse_flags(argc, argv, &flags);
  if (rc < 0) return 0;
  if (rc > 0) return rc;
  return run(flags);
}
