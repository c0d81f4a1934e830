// tern-relay: wires a RelayConfig to the durable pipeline, the request
// handler and the HTTP server, and runs until SIGTERM/SIGINT.
//
//   tern-relay                       embedded default: 127.0.0.1:8080, ./tern-data,
//                                    a dev write key (or $TERN_WRITE_KEY)
//   tern-relay --config relay.toml   everything from the TOML file
//   tern-relay --admin-listen H:P    plus the control plane's admin API; the
//                                    pipeline then lives in <data-dir>/control/state.db
//   tern-relay --control URL --control-token-file F
//                                    managed: the pipeline follows a control relay
//
// The first line on stdout is `listening on HOST:PORT` (the bound address,
// so --listen 127.0.0.1:0 is usable from scripts); with an admin listener the
// second is `admin listening on HOST:PORT` (docs/control-plane.md). Logs are JSON lines on
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

#include <unistd.h>

#include <fstream>
#include <map>

#include "admin_api.h"
#include "control_store.h"
#include "fleet_follower.h"
#include "http_server.h"
#include "relay_applier.h"
#include "request_handler.h"
#include "tern/base/iso8601.h"
#include "tern/base/version.h"
#include "tern/relay/builtin_sinks.h"
#include "tern/relay/config.h"
#include "tern/relay/durable_pipeline.h"
#include "tern/relay/log.h"
#include "tern/relay/metrics.h"
#include "tern/relay/sink_registry.h"
#include "tern/relay/stats_history.h"
#include "tern/relay/tap.h"

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
    "\n"
    "Control plane (docs/control-plane.md):\n"
    "  --admin-listen HOST:PORT   serve the admin API /admin/v1 there (port 0 picks\n"
    "                      one); the pipeline then lives in <data-dir>/control/state.db,\n"
    "                      seeded at first start from the config (or the default)\n"
    "  --admin-token-file PATH    the bootstrap admin token (every scope). Default:\n"
    "                      $TERN_ADMIN_TOKEN, else a random token printed at start\n"
    "  --control URL       managed mode: follow the control relay at URL (its admin\n"
    "                      listener); admin writes here are refused\n"
    "  --control-token-file PATH  a token with the relay scope for --control\n"
    "  --relay-id ID       this relay's name in the fleet (default: HOSTNAME-PORT)\n"
    "  --relay-label K=V   a label reported to the control plane (repeatable)\n"
    "  --help              this text\n"
    "  --version           the version\n"
    "\n"
    "stdout's first line is `listening on HOST:PORT`. Logs are JSON lines on stderr.\n";

struct Flags {
  std::string config_path;
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
  std::vector<std::string> write_keys;
  std::optional<std::string> admin_listen;
  std::optional<std::string> admin_token_file;
  std::optional<std::string> control_url;
  std::optional<std::string> control_token_file;
  std::optional<std::string> relay_id;
  std::map<std::string, std::string> relay_labels;
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
    } else if (arg == "--admin-listen") {
      if (!need_value("--admin-listen")) return 2;
      flags->admin_listen = value;
    } else if (arg == "--admin-token-file") {
      if (!need_value("--admin-token-file")) return 2;
      flags->admin_token_file = value;
    } else if (arg == "--control") {
      if (!need_value("--control")) return 2;
      if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0) {
        std::fprintf(stderr, "tern-relay: --control needs an http:// or https:// URL, got '%s'\n",
                     value.c_str());
        return 2;
      }
      flags->control_url = value;
    } else if (arg == "--control-token-file") {
      if (!need_value("--control-token-file")) return 2;
      flags->control_token_file = value;
    } else if (arg == "--relay-id") {
      if (!need_value("--relay-id")) return 2;
      flags->relay_id = value;
    } else if (arg == "--relay-label") {
      if (!need_value("--relay-label")) return 2;
      auto eq_at = value.find('=');
      if (eq_at == std::string::npos || eq_at == 0) {
        std::fprintf(stderr, "tern-relay: --relay-label needs KEY=VALUE, got '%s'\n",
                     value.c_str());
        return 2;
      }
      flags->relay_labels[value.substr(0, eq_at)] = value.substr(eq_at + 1);
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
  if (flags.admin_listen) config.admin.listen = *flags.admin_listen;
  if (flags.admin_token_file) config.admin.token_file = *flags.admin_token_file;
  if (flags.control_url) config.control.url = *flags.control_url;
  if (flags.control_token_file) config.control.token_file = *flags.control_token_file;
  if (flags.relay_id) config.control.relay_id = *flags.relay_id;
  for (const auto& [k, v] : flags.relay_labels) config.control.labels[k] = v;
  if (!config.control.url.empty() && config.control.token_file.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "--control needs --control-token-file (a token with the relay scope)");
  }
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

std::string now_iso() { return format_iso8601_ms(std::chrono::system_clock::now()); }

// The first line of a token file, without surrounding blanks.
Result<std::string> read_token_file(const std::string& path, const char* what) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return Status(StatusCode::kInvalidArgument,
                  std::string("cannot read the ") + what + " from " + path + ": " +
                      (in ? "the file is empty" : std::strerror(errno)));
  }
  auto first = line.find_first_not_of(" \t\r");
  auto last = line.find_last_not_of(" \t\r");
  if (first == std::string::npos) {
    return Status(StatusCode::kInvalidArgument,
                  std::string("the ") + what + " file " + path + " starts with an empty line");
  }
  return line.substr(first, last - first + 1);
}

// The control plane's part of a relay with an admin listener or a control
// relay to follow: its store and the state the pipeline starts from.
struct ControlBoot {
  std::unique_ptr<control::ControlStore> store;
  std::optional<control::State> state;  // nothing: start from the config's pipeline
};

Result<ControlBoot> boot_control(const Flags& flags, const RelayConfig& config) {
  ControlBoot boot;
  const std::string dir = config.data_dir + "/control";
  auto store = control::ControlStore::open(dir + "/state.db");
  if (!store) return store.status();
  boot.store = std::move(store.value());
  if (!config.control.url.empty()) {
    // Managed: the last snapshot applied, if there is one.
    auto cached = control::FleetFollower::load_cache(dir + "/snapshot.json");
    if (!cached) {
      log::warn("the cached control plane snapshot is unreadable; starting from the config",
                {{"path", dir + "/snapshot.json"}, {"error", cached.status().to_string()}});
    } else if (cached.value()) {
      boot.state = std::move(*cached.value());
      if (Status st = boot.store->mirror(*boot.state, now_iso()); !st) return st;
    }
    return boot;
  }
  auto head = boot.store->head();
  if (!head) return head.status();
  if (head->revision == 0) {
    // First start: the config's pipeline (or the embedded default) becomes revision 1.
    const std::string origin =
        flags.config_path.empty() ? "the embedded default" : flags.config_path;
    control::State seed = control::state_from_config(config, now_iso());
    control::AuditEntry audit;
    audit.at = now_iso();
    audit.token_id = "seed";
    audit.action = "state.seed";
    audit.resource = "state";
    audit.diff = control::diff_to_json(control::diff(control::State{}, seed));
    auto committed = boot.store->commit(0, std::move(seed), "seed", "seeded from " + origin,
                                        {std::move(audit)}, now_iso());
    if (!committed) return committed.status();
    log::info("control plane state seeded", {{"from", origin}, {"revision", committed->revision}});
    head = std::move(committed);
  }
  boot.state = std::move(head.value());
  return boot;
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
  const bool managed = !config->control.url.empty();
  const bool admin = !config->admin.listen.empty();

  // With a control plane, the pipeline comes from its state.
  ControlBoot control_boot;
  RelayConfig pipeline_config = config.value();
  if (admin || managed) {
    auto boot = boot_control(flags, config.value());
    if (!boot) {
      log::error("cannot start: control plane state", {{"error", boot.status().to_string()}});
      return 1;
    }
    control_boot = std::move(boot.value());
    if (control_boot.state) {
      std::vector<control::FieldError> errors;
      auto from_state = control::to_relay_config(*control_boot.state, config.value(), &errors);
      if (from_state) {
        pipeline_config = std::move(from_state.value());
      } else if (managed) {
        log::warn("the cached control plane snapshot does not apply here; starting from the config",
                  {{"error", from_state.status().to_string()}});
        control_boot.state.reset();
      } else {
        log::error("cannot start: the stored control plane state is invalid",
                   {{"error", from_state.status().to_string()}});
        return 1;
      }
    }
  }

  auto ingest = make_ingest_config(pipeline_config);
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
  auto pipeline = make_pipeline(pipeline_config, metrics, registry);
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

  // The control plane: the applier, the admin API and its listener, the follower.
  std::unique_ptr<control::RelayApplier> applier;
  std::unique_ptr<control::AdminApi> admin_api;
  std::unique_ptr<HttpServer> admin_server;
  // The console's live tap and short history (admin listener only).
  std::unique_ptr<TapHub> tap;
  std::unique_ptr<StatsHistory> stats;
  std::unique_ptr<control::FleetFollower> follower;
  std::string generated_admin_token;
  auto fail_start = [&](const char* what, const Status& st) {
    log::error(what, {{"error", st.to_string()}});
    if (follower) follower->stop();
    if (admin_server) admin_server->stop(std::chrono::steady_clock::now());
    server.value()->stop(std::chrono::steady_clock::now() + kDrainTimeout);
    (void)pipeline.value()->stop(std::chrono::steady_clock::now() + kDrainTimeout);
    return 1;
  };
  if (admin || managed) {
    applier = std::make_unique<control::RelayApplier>(config.value(), pipeline.value().get(),
                                                      handler.get(), &registry, &metrics);
    if (control_boot.state) {
      // The pipeline already runs this state: this only records its revision.
      if (Status st = applier->apply(*control_boot.state); !st) {
        return fail_start("cannot start: control plane state", st);
      }
    }
  }
  if (admin) {
    std::string token;
    if (!config->admin.token_file.empty()) {
      auto read = read_token_file(config->admin.token_file, "admin token");
      if (!read) return fail_start("cannot start: admin token", read.status());
      token = std::move(read.value());
    } else if (const char* env = std::getenv("TERN_ADMIN_TOKEN"); env && *env) {
      token = env;
    } else {
      generated_admin_token = control::random_secret("tat_");
      token = generated_admin_token;
    }
    control::AdminOptions admin_options;
    admin_options.control_url = config->control.url;
    admin_options.version = TERN_VERSION_STRING;
    admin_options.limits = config->limits;
    admin_api = std::make_unique<control::AdminApi>(control_boot.store.get(), applier.get(),
                                                    &metrics, admin_options);
    admin_api->set_bootstrap_token(token);
    TapOptions tap_options;
    tap_options.max_taps = config->admin.max_taps;
    tap_options.max_events_per_second = config->admin.tap_max_events_per_second;
    DurablePipeline* p = pipeline.value().get();
    tap = std::make_unique<TapHub>(
        tap_options, metrics, [p](uint64_t after) { return p->reader(after); },
        [p] { return p->state().last_seq; });
    handler->set_tap(tap.get());
    stats = std::make_unique<StatsHistory>(metrics, *p);
    stats->start();
    admin_api->set_console({tap.get(), stats.get(), p});
    HttpServerOptions admin_listener;
    admin_listener.listen = config->admin.listen;
    admin_listener.threads = 2;
    admin_listener.tls = config->server.tls;
    auto started = HttpServer::start(admin_listener, admin_api.get());
    if (!started) return fail_start("cannot start: admin server", started.status());
    admin_server = std::move(started.value());
    std::printf("admin listening on %s\n", admin_server->local_address().c_str());
  }
  if (!generated_key.empty()) std::printf("dev write key: %s\n", generated_key.c_str());
  if (!generated_admin_token.empty()) {
    std::printf("admin token: %s\n", generated_admin_token.c_str());
  }
  std::fflush(stdout);
  log::info("listening", {{"addr", address},
                          {"tls", config->server.tls.enabled},
                          {"data_dir", config->data_dir},
                          {"admin", admin_server ? admin_server->local_address() : ""},
                          {"control", config->control.url},
                          {"version", TERN_VERSION_STRING}});
  if (!generated_key.empty()) {
    log::warn(
        "no write key configured: using a generated dev key (set --write-key or TERN_WRITE_KEY)",
        {{"write_key", generated_key}});
  }
  if (!generated_admin_token.empty()) {
    log::warn(
        "no admin token configured: using a generated one, printed on stdout (set "
        "--admin-token-file or TERN_ADMIN_TOKEN)");
  }

  if (managed) {
    auto token = read_token_file(config->control.token_file, "control plane token");
    if (!token) return fail_start("cannot start: control plane token", token.status());
    control::FollowerOptions follow;
    follow.control_url = config->control.url;
    follow.token = std::move(token.value());
    follow.relay_id =
        config->control.relay_id.empty() ? default_relay_id(address) : config->control.relay_id;
    follow.labels = config->control.labels;
    follow.version = TERN_VERSION_STRING;
    follow.cache_path = config->data_dir + "/control/snapshot.json";
    control::ControlStore* store = control_boot.store.get();
    control::AdminApi* api = admin_api.get();
    follower = std::make_unique<control::FleetFollower>(
        follow, [&applier](const control::State& state) { return applier->apply(state); }, &metrics,
        [store, api](const control::State& state) {
          if (Status st = store->mirror(state, now_iso()); !st) {
            log::warn("cannot record the applied snapshot in the local store",
                      {{"error", st.to_string()}});
          }
          if (api) api->notify_committed();
        });
    if (control_boot.state) follower->booted_from(*control_boot.state);
    follower->start();
    log::info("following the control plane",
              {{"control", follow.control_url}, {"relay_id", follow.relay_id}});
  }

  ReloadCounters reload_counters(metrics);
  const RelayConfig& started = config.value();
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      if (admin || managed) {
        log::warn(
            "SIGHUP ignored: the pipeline is managed through the admin API (ternctl apply -f "
            "FILE replaces it from a file)");
        continue;
      }
      reload(flags, started, *pipeline.value(), *handler, reload_counters);
      continue;
    }
    log::info("stopping: draining requests in flight",
              {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }

  auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  if (follower) follower->stop();
  // Long polls waiting on the admin listener are cut after a second: the
  // relays behind them reconnect to whichever control relay comes next.
  if (tap) tap->close();  // ends the taps' streams, so their connections close now
  if (admin_server) admin_server->stop(std::chrono::steady_clock::now() + std::chrono::seconds(1));
  server.value()->stop(deadline);
  if (stats) stats->stop();
  Status st = pipeline.value()->stop(deadline);
  if (!st) {
    log::warn("pipeline stopped before every sink caught up; the rest stays in the spool",
              {{"status", st.to_string()}});
  }
  // The pipeline may hold answers for sessions: destroy it before the server.
  follower.reset();
  admin_api.reset();
  admin_server.reset();
  handler->set_tap(nullptr);
  tap.reset();
  stats.reset();
  pipeline.value().reset();
  server.value().reset();
  applier.reset();
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
