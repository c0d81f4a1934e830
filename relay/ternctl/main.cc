// ternctl: the command-line client of the relay's admin API
// (docs/control-plane.md, "ternctl"). Exit status: 0 success, 1 an error
// (the API's message on stderr), 2 bad usage.
//
// This file holds the command line: the options, the usage text, the checks
// of a command's arguments (validate) and run(), which finds the server and
// the token and dispatches to a command (commands.h); the HTTP client is in
// client.h.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "client.h"
#include "commands.h"
#include "tern/base/curl_global.h"
#include "tern/base/version.h"

namespace tern::ternctl {
namespace {

constexpr const char kDefaultServer[] = "http://127.0.0.1:8081";

constexpr const char kUsageText[] =
    R"(ternctl: the command-line client of tern-relay's admin API

Usage: ternctl [--server URL] [--token-file PATH] COMMAND [ARGS]

Commands:
  get sources|sinks|routes|relays|revisions [-o json]
                            list them (a table; -o json: the API's JSON)
  create source ID          create a source; prints its write key
  delete source|sink|route ID [--discard] [--force]
                            delete one (--discard: drop a sink's undelivered
                            events; --force: allow removing over half of them)
  plan -f pipeline.toml     the diff of applying the file as the whole state
  apply -f pipeline.toml [--force]
                            apply it (PUT /admin/v1/state with If-Match);
                            prints the new revision
  restore REV               commit revision REV's state as a new revision
  tap [--source ID] [--type T] [--event NAME] [--rejected] [--sample F]
      [--limit N]           the events the relay accepts, live, one JSON line
                            each (docs/tap.md); Ctrl-C ends it

Options:
  --server URL              the admin listener (default: $TERN_ADMIN_URL,
                            else http://127.0.0.1:8081)
  --token-file PATH         a file whose first line is the token (default:
                            $TERN_ADMIN_TOKEN)
  -o, --output json|table   output format of get (default: table)
  -f, --file PATH           the TOML file of plan and apply
  --page-size N             items per request of get (1..500, default 500);
                            get follows the cursor to list everything
  --ca-file PATH            CA certificates for an https server with a
                            private CA (default: the system's)
  --source ID, --type T, --event NAME
                            tap: only these (repeat, or comma-separate)
  --rejected                tap: also events the relay refused, with the reason
  --sample F                tap: show this fraction of the matching events (0..1]
  --limit N                 tap: end after N events
  -h, --help                this text
  --version                 ternctl's version

plan and apply take the pipeline of the file (sources, sinks, routes); its
process settings ([server], [limits], [spool], data_dir, ...) are ignored and
the suppressions stored on the server are kept.

Exit status: 0 success, 1 an error (the API's message on stderr), 2 bad usage.
)";

struct UsageError {
  std::string message;
};

Args parse_args(int argc, char** argv, bool* help, bool* version) {
  Args args;
  auto value = [&](int& i, const std::string& flag, const std::string& arg) -> std::string {
    std::string prefix = flag + "=";
    if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
    if (i + 1 >= argc) throw UsageError{flag + " needs a value"};
    return argv[++i];
  };
  auto is = [](const std::string& arg, const std::string& flag) {
    return arg == flag || arg.rfind(flag + "=", 0) == 0;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      *help = true;
    } else if (a == "--version") {
      *version = true;
    } else if (is(a, "--server")) {
      args.server = value(i, "--server", a);
    } else if (is(a, "--token-file")) {
      args.token_file = value(i, "--token-file", a);
    } else if (is(a, "--output")) {
      args.output = value(i, "--output", a);
    } else if (is(a, "-o")) {
      args.output = value(i, "-o", a);
    } else if (a.size() > 2 && a.rfind("-o", 0) == 0 && a[2] != '=') {
      args.output = a.substr(2);
    } else if (is(a, "--file")) {
      args.file = value(i, "--file", a);
    } else if (is(a, "-f")) {
      args.file = value(i, "-f", a);
    } else if (is(a, "--ca-file")) {
      args.ca_file = value(i, "--ca-file", a);
    } else if (is(a, "--page-size")) {
      std::string v = value(i, "--page-size", a);
      if (v.empty() || v.size() > 3 || v.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(v) < 1 || std::stoi(v) > 500)
        throw UsageError{"--page-size: a number from 1 to 500, not \"" + v + "\""};
      args.page_size = std::stoi(v);
    } else if (is(a, "--source")) {
      args.sources += (args.sources.empty() ? "" : ",") + value(i, "--source", a);
    } else if (is(a, "--type")) {
      args.types += (args.types.empty() ? "" : ",") + value(i, "--type", a);
    } else if (is(a, "--event")) {
      args.events += (args.events.empty() ? "" : ",") + value(i, "--event", a);
    } else if (a == "--rejected") {
      args.rejected = true;
    } else if (is(a, "--sample")) {
      args.sample = value(i, "--sample", a);
      char* end = nullptr;
      double f = std::strtod(args.sample.c_str(), &end);
      if (args.sample.empty() || *end != '\0' || !(f > 0 && f <= 1))
        throw UsageError{"--sample: a fraction above 0 and at most 1, not \"" + args.sample + "\""};
    } else if (is(a, "--limit")) {
      args.limit = value(i, "--limit", a);
      if (args.limit.empty() || args.limit.size() > 18 ||
          args.limit.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError{"--limit: a whole number, not \"" + args.limit + "\""};
    } else if (a == "--discard") {
      args.discard = true;
    } else if (a == "--force") {
      args.force = true;
    } else if (a.size() > 1 && a[0] == '-') {
      throw UsageError{"unknown option " + a};
    } else {
      args.positional.push_back(a);
    }
  }
  if (args.output != "json" && args.output != "table")
    throw UsageError{"-o: unknown output \"" + args.output + "\" (json or table)"};
  return args;
}

// Checks the command's arguments (before any token or network is needed).
void validate(const Args& args) {
  const auto& p = args.positional;
  if (p.empty()) throw UsageError{"no command"};
  const std::string& command = p[0];
  if (command == "get") {
    if (p.size() != 2) throw UsageError{"usage: ternctl get sources|sinks|routes|relays|revisions"};
    static const std::vector<std::string> kKinds = {"sources", "sinks", "routes", "relays",
                                                    "revisions"};
    if (std::find(kKinds.begin(), kKinds.end(), p[1]) == kKinds.end())
      throw UsageError{"get: unknown kind \"" + p[1] +
                       "\" (one of sources, sinks, routes, relays, revisions)"};
  } else if (command == "create") {
    if (p.size() != 3 || p[1] != "source") throw UsageError{"usage: ternctl create source ID"};
  } else if (command == "delete") {
    if (p.size() != 3) throw UsageError{"usage: ternctl delete source|sink|route ID"};
    if (p[1] != "source" && p[1] != "sink" && p[1] != "route")
      throw UsageError{"delete: unknown kind \"" + p[1] + "\" (one of source, sink, route)"};
  } else if (command == "plan" || command == "apply") {
    if (p.size() != 1 || args.file.empty())
      throw UsageError{"usage: ternctl " + command + " -f pipeline.toml"};
  } else if (command == "tap") {
    if (p.size() != 1) throw UsageError{"usage: ternctl tap [--source ID] [--event NAME] ..."};
  } else if (command == "restore") {
    if (p.size() != 2) throw UsageError{"usage: ternctl restore REV"};
    if (p[1].empty() || p[1].size() > 18 ||
        p[1].find_first_not_of("0123456789") != std::string::npos)
      throw UsageError{"restore: REV must be a revision number, not \"" + p[1] + "\""};
  } else {
    throw UsageError{"unknown command \"" + command + "\""};
  }
}

int run(int argc, char** argv) {
  bool help = false;
  bool version = false;
  Args args = parse_args(argc, argv, &help, &version);
  if (help) {
    std::cout << kUsageText;
    return kOk;
  }
  if (version) {
    std::cout << "ternctl " << TERN_VERSION_STRING << "\n";
    return kOk;
  }
  validate(args);
  const std::string& command = args.positional[0];

  std::string server = args.server;
  if (server.empty()) {
    const char* env = std::getenv("TERN_ADMIN_URL");
    server = env && *env ? env : kDefaultServer;
  }
  if (server.find("://") == std::string::npos) server = "http://" + server;
  std::string token;
  if (!args.token_file.empty()) {
    std::ifstream in(args.token_file);
    if (!in) {
      std::cerr << "ternctl: cannot read the token file " << args.token_file << "\n";
      return kError;
    }
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t'))
      token.pop_back();
    token.erase(0, token.find_first_not_of(" \t"));
    if (token.empty()) {
      std::cerr << "ternctl: the token file " << args.token_file << " is empty\n";
      return kError;
    }
  } else if (const char* env = std::getenv("TERN_ADMIN_TOKEN")) {
    token = env;
  }
  if (token.empty()) throw UsageError{"no token: give --token-file PATH or set TERN_ADMIN_TOKEN"};

  tern::base::curl_global_init_once();
  Client client(server, token, args.ca_file);
  if (command == "get") return cmd_get(client, args);
  if (command == "create") return cmd_create(client, args);
  if (command == "delete") return cmd_delete(client, args);
  if (command == "plan") return cmd_plan_apply(client, args, false);
  if (command == "apply") return cmd_plan_apply(client, args, true);
  if (command == "tap") return cmd_tap(client, args);
  return cmd_restore(client, args);
}

}  // namespace
}  // namespace tern::ternctl

int main(int argc, char** argv) {
  try {
    return tern::ternctl::run(argc, argv);
  } catch (const tern::ternctl::UsageError& e) {
    std::cerr << "ternctl: " << e.message << "\nRun 'ternctl --help' for usage.\n";
    return tern::ternctl::kUsage;
  } catch (const std::exception& e) {
    std::cerr << "ternctl: " << e.what() << "\n";
    return tern::ternctl::kError;
  }
}
