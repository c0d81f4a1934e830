// What the admin listener serves for the console (docs/console.md): the live
// tap, the overview's short history, the dead letters, and the page itself.
// admin_api.cc routes to these after authenticating (the page's files need
// no token: they hold no data).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "admin_http.h"
#include "http_message.h"
#include "tern/relay/durable_pipeline.h"
#include "tern/relay/stats_history.h"
#include "tern/relay/tap.h"

namespace tern::relay::control {

// What main.cc hands the admin API; any may be null (the operation then
// answers 503 unavailable naming what is missing).
struct ConsoleServices {
  TapHub* tap = nullptr;
  const StatsHistory* stats = nullptr;
  const DurablePipeline* pipeline = nullptr;  // sinks' dead-letter paths
};

// GET /admin/v1/tap?source=&type=&event=&rejected=&sample=&limit=
// (comma-separated lists): 200 text/event-stream whose body is the tap
// (tap.h), 429 tap_limit when every tap slot is taken, 422 invalid_field
// for a bad query value (as every admin query parameter).
HttpResponse tap_response(TapHub* hub, const admin::Query& query);

// GET /admin/v1/overview: StatsHistory::overview_json().
HttpResponse overview_response(const StatsHistory* stats);

// GET /admin/v1/sinks/{name}/dead-letters?limit=N (default 50, at most
// 1000): the newest lines of the sink's dead-letter file, newest first:
// {"sink":"archive","path":"...","items":[{"seq":7,"source":"web",
//  "reason":"...","event":{...}}, ...]}. 404 for a sink the pipeline does
// not run; an absent file is an empty list. Reads only the file's tail.
HttpResponse dead_letters_response(const DurablePipeline* pipeline, const std::string& sink,
                                   const admin::Query& query);

// The page's files, compiled in from relay/console/: "/" (index.html) and
// "/console/<file>". nullopt when `path` is none of them. Every answer
// carries the Content-Security-Policy allowing only the page's own origin.
std::optional<HttpResponse> console_file(std::string_view path);

}  // namespace tern::relay::control
