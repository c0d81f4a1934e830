// AdminApi: the control plane's REST API (/admin/v1/..., docs/control-plane.md,
// contract: relay/control/openapi.json), as an HttpHandler with no I/O of its
// own: authentication and scopes, the resources, revisions with ETag /
// If-Match, dry runs, audit, lists with cursors, the fleet's snapshot long
// poll and reports. Every mutation is validated, applied through the Applier
// and committed to the ControlStore, in that order, under one lock.
//
// Threads: handle() is called from the admin server's I/O threads; long polls
// are answered from the API's own timer thread or from the committing thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "admin_console.h"
#include "applier.h"
#include "control_store.h"
#include "http_message.h"
#include "tern/relay/metrics.h"

namespace tern::relay::control {

struct AdminOptions {
  // Managed mode: every mutation answers 409 managed_by_control_plane naming it.
  std::string control_url;
  std::string version;  // this relay's, for the relays list and logs
  LimitsConfig limits;  // the admin listener's size limits and timeouts
  // Failed authentications allowed per client address per minute before 429
  // (0: no limit).
  int auth_failures_per_minute = 10;
  std::chrono::seconds max_wait{60};  // cap of the snapshot long poll's ?wait=
};

class AdminApi : public HttpHandler {
 public:
  // `store`, `applier` and `metrics` must outlive the API.
  AdminApi(ControlStore* store, Applier* applier, Metrics* metrics, AdminOptions options);
  ~AdminApi() override;  // answers pending long polls (304) and joins the timer thread

  // The bootstrap token (every scope), kept in memory as its hash.
  void set_bootstrap_token(const std::string& token);

  void handle(HttpRequest request, RequestScratch& scratch, Respond respond) override;
  HttpResponse server_limit(ServerLimit limit, std::string_view path) override;
  LimitsConfig limits() const override;

  // A managed relay's follower calls this after mirroring a snapshot into the
  // store, so local readers and long polls see it.
  void notify_committed();

  // The tap, the overview's history and the pipeline the console reads
  // (admin_console.h). Call before the listener starts.
  void set_console(ConsoleServices services);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::relay::control
