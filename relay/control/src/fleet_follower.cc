#include "fleet_follower.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "tern/base/curl_global.h"
#include "tern/base/file.h"
#include "tern/relay/log.h"

namespace tern::relay::control {
namespace {

using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;
using std::chrono::milliseconds;

constexpr milliseconds kConnectTimeout{5'000};
constexpr milliseconds kReportTimeout{10'000};
// A long poll may take `wait` plus this before it counts as failed.
constexpr milliseconds kLongPollSlack{15'000};
// The age gauge's refresh period (it must be right when scraped).
constexpr milliseconds kTick{500};
constexpr std::size_t kMaxBody = 64u << 20;  // a snapshot larger than this is refused
constexpr std::size_t kMaxErrorText = 300;

struct Response {
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::string body;
  bool too_large = false;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  if (r->body.size() + size * n > kMaxBody) {
    r->too_large = true;
    return 0;  // aborts the transfer
  }
  r->body.append(data, size * n);
  return size * n;
}

std::string one_line(std::string s) {
  if (s.size() > kMaxErrorText) s.resize(kMaxErrorText);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

// The API's error message ({"error": {"message": ...}}), else the body's start.
std::string api_message(const Response& r) {
  Json doc = Json::parse(r.body, nullptr, false);
  if (!doc.is_discarded() && doc.is_object() && doc.contains("error")) {
    const Json& e = doc["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string())
      return e["message"].get<std::string>();
    if (e.is_string()) return e.get<std::string>();
  }
  return one_line(r.body);
}

// Writes `text` to `path` durably: a temp file in the same directory (mode
// 0600: the snapshot holds secrets in clear), fsync, rename, fsync of the dir.
Status write_file_durably(const std::string& path, const std::string& text) {
  std::string dir = base::parent_dir(path);
  Status st = base::make_dirs(dir);
  if (!st) return st;
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("open " + tmp + ": " + std::strerror(errno));
  st = base::write_all(fd, text.data(), text.size());
  if (!st) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  if (::fsync(fd) != 0) {
    st = Status::IOError("fsync " + tmp + ": " + std::strerror(errno));
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  if (::close(fd) != 0) {
    st = Status::IOError("close " + tmp + ": " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status::IOError("rename " + tmp + " to " + path + ": " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return st;
  }
  return base::sync_dir(dir);
}

}  // namespace

struct FleetFollower::Impl {
  FollowerOptions opt;
  std::function<Status(const State&)> apply;
  std::function<void(const State&)> on_applied;
  Gauge* revision_gauge = nullptr;
  Gauge* age_gauge = nullptr;

  std::thread worker;
  std::thread ticker;
  std::atomic<bool> stopping{false};
  std::mutex mu;  // guards confirmed_at, running_revision, the cv waits
  std::condition_variable cv;
  SteadyClock::time_point confirmed_at = SteadyClock::now();
  int64_t running_revision = 0;

  CURLM* multi = nullptr;
  std::mt19937_64 rng{std::random_device{}()};

  // Owned by the worker thread.
  int64_t failed_revision = 0;  // the newest revision that failed to apply
  std::string report_status = "ok";
  Json report_errors = Json::array();
  SteadyClock::time_point last_report{};
  bool reported_once = false;
  int failures = 0;          // consecutive failed polls, for the backoff
  std::string link_problem;  // what is wrong with the link now ("" when fine)
  std::string report_problem;

  Impl(FollowerOptions o, std::function<Status(const State&)> a, Metrics* metrics,
       std::function<void(const State&)> done)
      : opt(std::move(o)), apply(std::move(a)), on_applied(std::move(done)) {
    while (!opt.control_url.empty() && opt.control_url.back() == '/') opt.control_url.pop_back();
    if (metrics) {
      revision_gauge = &metrics->gauge("tern_relay_config_revision", {},
                                       "The control plane revision this relay runs (0: none).");
      age_gauge = &metrics->gauge(
          "tern_relay_config_age_seconds", {},
          "Seconds since the running revision was fetched or confirmed current by the control "
          "plane.");
    }
  }

  ~Impl() {
    if (multi) curl_multi_cleanup(multi);
  }

  void set_running(int64_t revision) {
    {
      std::lock_guard<std::mutex> lock(mu);
      running_revision = revision;
    }
    if (revision_gauge) revision_gauge->set(revision);
  }

  int64_t running() {
    std::lock_guard<std::mutex> lock(mu);
    return running_revision;
  }

  // The running revision is current as of now: the age restarts, and the
  // cache file's mtime records it for the next boot.
  void confirm() {
    {
      std::lock_guard<std::mutex> lock(mu);
      confirmed_at = SteadyClock::now();
    }
    update_age();
    if (!opt.cache_path.empty()) (void)::utimensat(AT_FDCWD, opt.cache_path.c_str(), nullptr, 0);
  }

  void update_age() {
    if (!age_gauge) return;
    std::lock_guard<std::mutex> lock(mu);
    auto age = std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - confirmed_at);
    age_gauge->set(std::max<int64_t>(0, age.count()));
  }

  void tick_loop() {
    log::set_thread_name("tern-fleet-tick");
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping.load()) {
      lock.unlock();
      update_age();
      lock.lock();
      cv.wait_for(lock, kTick, [this] { return stopping.load(); });
    }
  }

  // Waits `d` or until stop(). False when stopping.
  bool sleep_for(milliseconds d) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, d, [this] { return stopping.load(); });
    return !stopping.load();
  }

  milliseconds backoff() {
    int shift = std::min(failures - 1, 20);
    auto base = opt.backoff_base.count() > 0 ? opt.backoff_base : milliseconds(1);
    int64_t d = std::min<int64_t>(base.count() << std::max(shift, 0), opt.backoff_max.count());
    // Equal jitter: [d/2, d], so a fleet that lost its control plane together
    // does not come back in step.
    std::uniform_int_distribution<int64_t> dist(d / 2, d);
    return milliseconds(dist(rng));
  }

  std::string url(const std::string& path) const { return opt.control_url + path; }

  // One request through the multi handle, so that stop() (curl_multi_wakeup)
  // interrupts it at once.
  Response perform(const std::string& method, const std::string& target,
                   const std::vector<std::string>& headers, const std::string& body,
                   milliseconds timeout) {
    Response r;
    CURL* easy = curl_easy_init();
    if (!easy) {
      r.curl = CURLE_FAILED_INIT;
      r.curl_error = "curl_easy_init failed";
      return r;
    }
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_slist* list = nullptr;
    std::string auth = "Authorization: Bearer " + opt.token;
    list = curl_slist_append(list, auth.c_str());
    list = curl_slist_append(list, "Accept: application/json");
    list = curl_slist_append(list, "Expect:");
    for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
    std::string user_agent = "tern-relay/" + opt.version;
    curl_easy_setopt(easy, CURLOPT_URL, url(target).c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(kConnectTimeout.count()));
    curl_easy_setopt(easy, CURLOPT_USERAGENT, user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // gzip when the server offers it
    if (!opt.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, opt.ca_file.c_str());
    if (method == "POST") {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }

    r.curl = CURLE_ABORTED_BY_CALLBACK;
    if (curl_multi_add_handle(multi, easy) == CURLM_OK) {
      bool done = false;
      while (!done && !stopping.load()) {
        int running = 0;
        if (curl_multi_perform(multi, &running) != CURLM_OK) break;
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
          if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
            r.curl = msg->data.result;
            done = true;
          }
        }
        if (done || running == 0) break;
        if (curl_multi_poll(multi, nullptr, 0, 1000, nullptr) != CURLM_OK) break;
      }
      curl_multi_remove_handle(multi, easy);
      if (!done && stopping.load()) r.curl_error = "stopped";
    }
    if (r.curl == CURLE_OK) {
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
    } else if (r.curl_error.empty()) {
      r.curl_error = r.too_large
                         ? "the answer is larger than " + std::to_string(kMaxBody) + " bytes"
                         : (errbuf[0] ? errbuf : curl_easy_strerror(r.curl));
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(easy);
    return r;
  }

  void link_ok() {
    failures = 0;
    if (!link_problem.empty()) {
      log::info("control plane reachable again", {{"control", opt.control_url}});
      link_problem.clear();
    }
  }

  // Logs only when the kind of problem changes, not on every retry.
  void link_failed(const std::string& problem) {
    ++failures;
    if (problem != link_problem) {
      log::warn("control plane unreachable; serving the last applied revision",
                {{"control", opt.control_url},
                 {"error", problem},
                 {"revision", running()},
                 {"retrying", true}});
      link_problem = problem;
    }
  }

  void report() {
    Json labels = Json::object();
    for (const auto& [k, v] : opt.labels) labels[k] = v;
    Json doc = {{"relay_id", opt.relay_id},    {"applied_revision", running()},
                {"status", report_status},     {"errors", report_errors},
                {"labels", std::move(labels)}, {"version", opt.version}};
    Response r = perform("POST", "/admin/v1/fleet/reports", {"Content-Type: application/json"},
                         doc.dump(), kReportTimeout);
    if (stopping.load()) return;
    std::string problem;
    if (r.curl != CURLE_OK) {
      problem = r.curl_error;
    } else if (r.status < 200 || r.status >= 300) {
      problem = "HTTP " + std::to_string(r.status) + ": " + api_message(r);
    }
    if (problem.empty()) {
      last_report = SteadyClock::now();
      reported_once = true;
      if (!report_problem.empty()) log::info("fleet report accepted again", {});
    } else if (problem != report_problem) {
      log::warn("fleet report failed", {{"control", opt.control_url}, {"error", problem}});
    }
    report_problem = problem;
  }

  // Heartbeat: the control plane's last_seen stays fresh while long polls
  // answer 304.
  void maybe_report() {
    auto period = std::chrono::duration_cast<milliseconds>(opt.wait);
    if (period < milliseconds(1000)) period = milliseconds(1000);
    if (!reported_once || SteadyClock::now() - last_report >= period) report();
  }

  // Applies the 200 answer's snapshot. Returns false for a body that is not a
  // snapshot (counted as a link failure by the caller).
  bool handle_snapshot(const Response& r, std::string* problem) {
    Json doc = Json::parse(r.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("revision") ||
        !doc["revision"].is_number_integer() || !doc.contains("state")) {
      *problem = "the snapshot answer is not {\"revision\": N, \"state\": {...}}";
      return false;
    }
    int64_t revision = doc["revision"].get<int64_t>();
    if (revision == running()) {
      confirm();
      return true;
    }
    if (revision == failed_revision) return true;  // reported already; wait for a newer one
    Result<State> parsed = State::from_json(doc["state"]);
    Status st;
    State state;
    if (!parsed) {
      st = parsed.status();
    } else {
      state = std::move(parsed.value());
      state.revision = revision;
      try {
        st = apply(state);
      } catch (const std::exception& e) {
        st = Status::Internal(std::string("applying the snapshot threw: ") + e.what());
      }
    }
    if (!st) {
      failed_revision = revision;
      report_status = "error";
      report_errors = Json::array({st.message()});
      log::error("cannot apply the control plane's revision; the previous one keeps running",
                 {{"revision", revision}, {"running", running()}, {"error", st.message()}});
      report();
      return true;
    }
    set_running(revision);
    failed_revision = 0;
    report_status = "ok";
    report_errors = Json::array();
    if (!opt.cache_path.empty()) {
      Json cache = {{"revision", revision}, {"state", doc["state"]}};
      Status cst = write_file_durably(opt.cache_path, cache.dump());
      if (!cst) {
        log::error("cannot write the snapshot cache; a restart would boot an older pipeline",
                   {{"path", opt.cache_path}, {"error", cst.message()}});
        report_errors = Json::array({"applied, but the cache was not written: " + cst.message()});
      }
    }
    confirm();
    log::info("applied the control plane's revision", {{"revision", revision}});
    if (on_applied) on_applied(state);
    report();
    return true;
  }

  void run() {
    log::set_thread_name("tern-fleet");
    std::string escaped_id;
    if (char* e = curl_easy_escape(nullptr, opt.relay_id.c_str(),
                                   static_cast<int>(opt.relay_id.size()))) {
      escaped_id = e;
      curl_free(e);
    }
    std::string target = "/admin/v1/fleet/snapshot?relay_id=" + escaped_id +
                         "&wait=" + std::to_string(opt.wait.count()) + "s";
    auto timeout = std::chrono::duration_cast<milliseconds>(opt.wait) + kLongPollSlack;
    while (!stopping.load()) {
      maybe_report();
      if (stopping.load()) break;
      // After a failed apply, the failed revision: the control plane answers
      // 304 until a newer one commits, instead of the same snapshot again.
      int64_t known = failed_revision != 0 ? failed_revision : running();
      std::vector<std::string> headers;
      if (known > 0) headers.push_back("If-None-Match: \"" + std::to_string(known) + "\"");
      Response r = perform("GET", target, headers, {}, timeout);
      if (stopping.load()) break;
      std::string problem;
      if (r.curl != CURLE_OK) {
        problem = r.curl_error;
      } else if (r.status == 304) {
        confirm();
      } else if (r.status == 200) {
        int64_t before_failed = failed_revision;
        if (!handle_snapshot(r, &problem)) {
          // problem set
        } else if (failed_revision != 0 && failed_revision == before_failed) {
          // A control plane that answers 200 again for a revision that failed
          // here: do not spin on it.
          if (!sleep_for(opt.backoff_base)) break;
        }
      } else if (r.status == 401 || r.status == 403) {
        problem = "HTTP " + std::to_string(r.status) +
                  " (check --control-token-file: a token with the relay scope): " + api_message(r);
      } else {
        problem = "HTTP " + std::to_string(r.status) + ": " + api_message(r);
      }
      if (problem.empty()) {
        link_ok();
        continue;
      }
      link_failed(problem);
      if (!sleep_for(backoff())) break;
    }
  }
};

FleetFollower::FleetFollower(FollowerOptions options, std::function<Status(const State&)> apply,
                             Metrics* metrics, std::function<void(const State&)> on_applied)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(apply), metrics,
                                   std::move(on_applied))) {}

FleetFollower::~FleetFollower() { stop(); }

Result<std::optional<State>> FleetFollower::load_cache(const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) {
    if (errno == ENOENT) return std::optional<State>();
    return Status::IOError("stat " + path + ": " + std::strerror(errno));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read " + path);
  Json doc = Json::parse(text.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return Status::Corruption(path + ": not a JSON snapshot");
  if (!doc.contains("revision") || !doc["revision"].is_number_integer() || !doc.contains("state") ||
      !doc["state"].is_object())
    return Status::Corruption(path + ": not a snapshot ({\"revision\": N, \"state\": {...}})");
  Result<State> state = State::from_json(doc["state"]);
  if (!state) return Status::Corruption(path + ": " + state.status().message());
  state->revision = doc["revision"].get<int64_t>();
  return std::optional<State>(std::move(state.value()));
}

void FleetFollower::booted_from(const State& state) {
  impl_->set_running(state.revision);
  // The age goes on from when the cache was last confirmed (its mtime).
  auto reference = SteadyClock::now();
  struct stat sb;
  if (!impl_->opt.cache_path.empty() && ::stat(impl_->opt.cache_path.c_str(), &sb) == 0) {
    auto mtime = SystemClock::from_time_t(sb.st_mtim.tv_sec) +
                 std::chrono::duration_cast<SystemClock::duration>(
                     std::chrono::nanoseconds(sb.st_mtim.tv_nsec));
    auto age = SystemClock::now() - mtime;
    if (age > SystemClock::duration::zero())
      reference -= std::chrono::duration_cast<SteadyClock::duration>(age);
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->confirmed_at = reference;
  }
  impl_->update_age();
}

void FleetFollower::start() {
  if (impl_->worker.joinable()) return;
  base::curl_global_init_once();
  impl_->multi = curl_multi_init();
  impl_->stopping.store(false);
  impl_->update_age();
  impl_->ticker = std::thread([this] { impl_->tick_loop(); });
  impl_->worker = std::thread([this] { impl_->run(); });
}

void FleetFollower::stop() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping.store(true);
  }
  impl_->cv.notify_all();
  if (impl_->multi) curl_multi_wakeup(impl_->multi);
  if (impl_->worker.joinable()) impl_->worker.join();
  if (impl_->ticker.joinable()) impl_->ticker.join();
}

}  // namespace tern::relay::control
