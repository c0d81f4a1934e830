#include "fakes.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "tern/base/gzip.h"

namespace tern::testing {

// ---------------------------------------------------------------- ManualClock

ManualClock::ManualClock()
    : wall_(std::chrono::system_clock::time_point(std::chrono::milliseconds(1'780'000'000'000))),
      mono_(std::chrono::steady_clock::time_point(std::chrono::hours(1000))) {}

std::chrono::system_clock::time_point ManualClock::wall() {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_;
}

std::chrono::steady_clock::time_point ManualClock::monotonic() {
  std::lock_guard<std::mutex> lock(mu_);
  return mono_;
}

void ManualClock::on_worker_wait(std::chrono::steady_clock::time_point now,
                                 std::chrono::steady_clock::time_point deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  // A pass that read the time before an advance() is stale: it does not count.
  if (now != mono_ || deadline <= mono_) return;
  ++idle_reports_;
  cv_.notify_all();
}

bool ManualClock::wait_for_worker_idle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = idle_reports_ + 2;
  return cv_.wait_for(lock, timeout, [&] { return idle_reports_ >= target; });
}

void ManualClock::shift_wall(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  wall_ += d;
}

void ManualClock::advance(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  wall_ += d;
  mono_ += d;
}

// ---------------------------------------------------------------- MemoryStore

Status MemoryStore::append(const std::vector<std::string>& bodies, int64_t created_ms) {
  if (fail_appends_) return Status(StatusCode::kIOError, "database or disk is full (injected)");
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& b : bodies) {
    StoredEvent e;
    e.id = next_id_++;
    e.body = b;
    e.created_ms = created_ms;
    bytes_ += b.size();
    events_.emplace(e.id, std::move(e));
  }
  return Status::ok();
}

Status MemoryStore::append_and_put(const std::vector<std::string>& bodies, int64_t created_ms,
                                   const std::vector<std::pair<std::string, std::string>>& pairs) {
  if (fail_appends_) return Status(StatusCode::kIOError, "database or disk is full (injected)");
  std::lock_guard<std::mutex> lock(mu_);  // both under one lock: one "transaction"
  for (const auto& b : bodies) {
    StoredEvent e;
    e.id = next_id_++;
    e.body = b;
    e.created_ms = created_ms;
    bytes_ += b.size();
    events_.emplace(e.id, std::move(e));
  }
  for (const auto& [k, v] : pairs) kv_[k] = v;
  return Status::ok();
}

int64_t MemoryStore::last_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_id_ - 1;
}

Result<std::vector<StoredEvent>> MemoryStore::read_oldest(std::size_t max_events,
                                                          std::size_t max_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StoredEvent> out;
  std::size_t total = 0;
  for (const auto& [id, e] : events_) {
    if (out.size() >= max_events) break;
    if (!out.empty() && total + e.body.size() > max_bytes) break;
    total += e.body.size();
    out.push_back(e);
  }
  return out;
}

Status MemoryStore::mark_attempt(const std::vector<int64_t>& ids, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto id : ids) {
    auto it = events_.find(id);
    if (it == events_.end()) continue;
    ++it->second.attempts;
    if (!it->second.first_attempt_ms) it->second.first_attempt_ms = now_ms;
  }
  return Status::ok();
}

Status MemoryStore::remove(const std::vector<int64_t>& ids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto id : ids) {
    auto it = events_.find(id);
    if (it == events_.end()) continue;
    bytes_ -= it->second.body.size();
    events_.erase(it);
  }
  return Status::ok();
}

Result<uint64_t> MemoryStore::remove_all() {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = events_.size();
  events_.clear();
  bytes_ = 0;
  return n;
}

Result<CapDrops> MemoryStore::enforce_caps(std::size_t max_events, std::size_t max_bytes,
                                           int64_t min_created_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  CapDrops d;
  for (auto it = events_.begin(); it != events_.end();) {
    if (it->second.created_ms < min_created_ms) {
      bytes_ -= it->second.body.size();
      it = events_.erase(it);
      ++d.by_age;
    } else {
      ++it;
    }
  }
  while (events_.size() > max_events) {
    bytes_ -= events_.begin()->second.body.size();
    events_.erase(events_.begin());
    ++d.by_events;
  }
  while (bytes_ > max_bytes && !events_.empty()) {
    bytes_ -= events_.begin()->second.body.size();
    events_.erase(events_.begin());
    ++d.by_bytes;
  }
  return d;
}

uint64_t MemoryStore::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.size();
}

uint64_t MemoryStore::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

Result<std::optional<std::string>> MemoryStore::get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = kv_.find(key);
  if (it == kv_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryStore::put(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [k, v] : pairs) kv_[k] = v;
  return Status::ok();
}

std::shared_ptr<MemoryStore> MemoryStore::snapshot() const {
  auto copy = std::make_shared<MemoryStore>();
  std::lock_guard<std::mutex> lock(mu_);
  copy->events_ = events_;
  copy->kv_ = kv_;
  copy->next_id_ = next_id_;
  copy->bytes_ = bytes_;
  return copy;
}

std::vector<StoredEvent> MemoryStore::all() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StoredEvent> out;
  for (const auto& [id, e] : events_) out.push_back(e);
  return out;
}

// ---------------------------------------------------------------- ScriptedTransport

HttpResponse http_status(int status, std::string body) {
  HttpResponse r;
  r.status_code = status;
  r.body = std::move(body);
  return r;
}

HttpResponse network_error(std::string error) {
  HttpResponse r;
  r.error = std::move(error);
  return r;
}

HttpResponse ScriptedTransport::send(const HttpRequest& request) {
  if (request.method == "GET") {
    std::function<HttpResponse(const HttpRequest&)> f;
    {
      std::lock_guard<std::mutex> lock(mu_);
      settings_requests_.push_back(request);
      f = settings_responder_;
    }
    return f ? f(request) : http_status(404, R"({"error":"not found"})");  // outside mu_: may block
  }
  Recorded rec;
  rec.request = request;
  if (request.gzip) {
    auto r = base::gzip_decompress(request.body);
    rec.body = r ? std::move(r).value() : std::string();
  } else {
    rec.body = request.body;
  }
  auto doc = nlohmann::json::parse(rec.body, nullptr, false);
  if (doc.is_object() && doc.contains("batch") && doc["batch"].is_array()) {
    for (auto& e : doc["batch"]) rec.events.push_back(e);
  }
  std::lock_guard<std::mutex> lock(mu_);
  HttpResponse resp = http_status(200);
  if (!script_.empty()) {
    resp = script_.front();
    script_.pop_front();
  } else if (responder_) {
    resp = responder_(rec.events);
  }
  if (resp.status_code >= 200 && resp.status_code < 300) {
    for (const auto& e : rec.events) delivered_.push_back(e);
  }
  requests_.push_back(std::move(rec));
  return resp;
}

void ScriptedTransport::set_settings_responder(std::function<HttpResponse(const HttpRequest&)> f) {
  std::lock_guard<std::mutex> lock(mu_);
  settings_responder_ = std::move(f);
}

std::vector<HttpRequest> ScriptedTransport::settings_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return settings_requests_;
}

void ScriptedTransport::push(HttpResponse response, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < times; ++i) script_.push_back(response);
}

void ScriptedTransport::set_responder(
    std::function<HttpResponse(const std::vector<nlohmann::json>&)> f) {
  std::lock_guard<std::mutex> lock(mu_);
  responder_ = std::move(f);
}

std::vector<ScriptedTransport::Recorded> ScriptedTransport::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::size_t ScriptedTransport::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

std::vector<nlohmann::json> ScriptedTransport::delivered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return delivered_;
}

// ---------------------------------------------------------------- CapturingLogger

void CapturingLogger::log(LogLevel level, std::string_view message) {
  std::lock_guard<std::mutex> lock(mu_);
  lines_.emplace_back(level, std::string(message));
}

std::vector<std::pair<LogLevel, std::string>> CapturingLogger::lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

bool CapturingLogger::contains(std::string_view needle) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::any_of(lines_.begin(), lines_.end(),
                     [&](const auto& l) { return l.second.find(needle) != std::string::npos; });
}

// ---------------------------------------------------------------- format checks

bool is_uuid(const std::string& s, char version) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
      return false;
    }
  }
  return s[14] == version && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

bool is_iso8601_ms(const std::string& s) {
  const std::string pattern = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (s.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (pattern[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pattern[i]) return false;
  }
  return true;
}

}  // namespace tern::testing
