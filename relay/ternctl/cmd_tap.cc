// ternctl tap: the live tap (GET /admin/v1/tap, server-sent events) with
// the filters of the command line; each event printed as one JSON line on
// stdout as it comes, drop notices on stderr, and Ctrl-C (or SIGTERM) ending
// it with status 0.
#include <signal.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "client.h"
#include "commands.h"

namespace tern::ternctl {

namespace {

using Json = nlohmann::json;

std::atomic<bool> g_interrupted{false};

}  // namespace

// ternctl tap: GET /admin/v1/tap, each event's `data:` JSON printed as one
// line on stdout as it comes; drop notices on stderr; comments skipped.
int cmd_tap(const Client& client, const Args& args) {
  std::string target = "/admin/v1/tap";
  char sep = '?';
  auto param = [&](const char* name, const std::string& value) {
    if (value.empty()) return;
    target += sep;
    target += name;
    target += '=';
    target += escape(value);
    sep = '&';
  };
  param("source", args.sources);
  param("type", args.types);
  param("event", args.events);
  if (args.rejected) param("rejected", "true");
  param("sample", args.sample);
  param("limit", args.limit);

  struct sigaction sa {};
  sa.sa_handler = [](int) { g_interrupted.store(true); };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::string pending;     // an incomplete line
  std::string event_type;  // the current message's `event:` field
  auto on_line = [&](std::string_view line) {
    if (line.empty()) {  // the end of a message
      event_type.clear();
      return;
    }
    if (line.front() == ':') return;  // a comment (tap open, keep-alive)
    if (line.rfind("event:", 0) == 0) {
      std::string_view v = line.substr(6);
      if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      event_type = std::string(v);
      return;
    }
    if (line.rfind("data:", 0) != 0) return;  // id: and anything else
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (event_type == "dropped") {
      Json d = Json::parse(line, nullptr, false);
      if (d.is_object()) {
        std::cerr << "ternctl: " << d.value("dropped", 0) << " events not shown ("
                  << d.value("reason", std::string("?")) << ")\n";
      }
      return;
    }
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  };
  Response r = client.stream(
      target,
      [&](std::string_view data) {
        pending.append(data);
        std::size_t start = 0;
        for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos;
             start = nl + 1) {
          std::string_view line(pending.data() + start, nl - start);
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          on_line(line);
        }
        pending.erase(0, start);
      },
      [] { return !g_interrupted.load(); });
  if (g_interrupted.load()) return kOk;  // Ctrl-C: the viewer is done
  if (!ok_status(r)) return fail(client, r);
  return kOk;
}

}  // namespace tern::ternctl
