// Settings served by the relay (remote_settings.h): parsing, what is in
// force, and the worker's fetch.
#include "remote_settings.h"

#include <cmath>

#include "default_transport.h"
#include "engine.h"
#include "text.h"

namespace tern {

std::optional<RemoteSettings> parse_remote_settings(std::string_view body) {
  auto j = parse_json(body);
  if (!j.is_object()) return std::nullopt;
  RemoteSettings out;
  auto t = j.find("tern");
  if (t == j.end()) return out;  // a Segment-only body: nothing overridden
  if (!t->is_object()) return std::nullopt;
  auto integer = [&](const char* key, int64_t min, int64_t max) -> std::optional<int64_t> {
    auto it = t->find(key);
    if (it == t->end() || !it->is_number()) return std::nullopt;
    double v = it->get<double>();
    if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(min) ||
        v > static_cast<double>(max))
      return std::nullopt;
    return static_cast<int64_t>(v);
  };
  if (auto it = t->find("enabled"); it != t->end() && it->is_boolean())
    out.enabled = it->get<bool>();
  if (auto it = t->find("sampleRate"); it != t->end() && it->is_number()) {
    double r = it->get<double>();
    if (std::isfinite(r) && r >= 0.0 && r <= 1.0) out.sample_rate = r;
  }
  if (auto v = integer("flushAt", 1, 10000)) out.flush_at = static_cast<std::size_t>(*v);
  constexpr int64_t kMax = int64_t(1) << 50;
  out.flush_interval_ms = integer("flushIntervalMs", 100, kMax);
  out.session_timeout_ms = integer("sessionTimeoutMs", 1000, kMax);
  out.ttl_seconds = integer("ttlSeconds", 60, kMax / 1000);
  return out;
}

std::string settings_url(std::string_view base, std::string_view write_key) {
  std::string url(base);
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/v1/projects/";
  static const char* const kHex = "0123456789ABCDEF";
  for (unsigned char c : write_key) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      url.push_back(static_cast<char>(c));
    } else {
      url.push_back('%');
      url.push_back(kHex[c >> 4]);
      url.push_back(kHex[c & 15]);
    }
  }
  url += "/settings";
  return url;
}

EffectiveSettings::EffectiveSettings(const Config& c)
    : config_flush_at_(c.flush_at),
      config_flush_interval_ms_(c.flush_interval.count()),
      config_session_timeout_ms_(c.session_timeout.count()),
      flush_at_(c.flush_at),
      flush_interval_ms_(c.flush_interval.count()),
      session_timeout_ms_(c.session_timeout.count()) {}

void EffectiveSettings::apply(const RemoteSettings& s, int64_t fetched_ms) {
  flush_at_ = s.flush_at.value_or(config_flush_at_);
  flush_interval_ms_ = s.flush_interval_ms.value_or(config_flush_interval_ms_);
  session_timeout_ms_ = s.session_timeout_ms.value_or(config_session_timeout_ms_);
  if (s.enabled && !*s.enabled) {
    const int64_t ttl_ms = s.ttl_seconds.value_or(kDefaultSettingsTtlSeconds) * 1000;
    kill_from_ms_ = fetched_ms;
    kill_until_ms_ = fetched_ms + ttl_ms;
  } else {
    kill_until_ms_ = 0;
    kill_from_ms_ = 0;
  }
}

void Engine::apply_settings(const RemoteSettings& s, int64_t fetched_ms) {
  settings_.apply(s, fetched_ms);
  sessions_.set_rate(s.sample_rate.has_value(), s.sample_rate.value_or(1.0));
}

void Engine::load_settings() {
  auto body = store_->get(kKeySettingsBody);
  auto fetched = store_->get(kKeySettingsFetchedMs);
  auto etag = store_->get(kKeySettingsEtag);
  if (!body || !*body) return;
  auto parsed = parse_remote_settings(**body);
  if (!parsed) return;
  int64_t fetched_ms = 0;
  if (fetched && *fetched) {
    try {
      fetched_ms = std::stoll(**fetched);
    } catch (...) {
      fetched_ms = 0;
    }
  }
  apply_settings(*parsed, fetched_ms);
  if (etag && *etag) settings_etag_ = **etag;  // no worker yet
}

void Engine::fetch_settings() {
  HttpRequest req;
  req.method = "GET";
  req.url = settings_url_;
  req.write_key = config_.write_key;
  req.gzip = false;
  req.content_type.clear();
  req.if_none_match = settings_etag_;
  if (!transport_) transport_ = make_default_transport(config_.http);
  HttpResponse resp = transport_->send(req);
  const int64_t now_ms = to_unix_ms(clock_->wall());
  if (resp.status_code == 304 && !settings_etag_.empty()) {
    // Still current: the stored copy is confirmed as of now (its kill switch TTL restarts).
    auto body = store_->get(kKeySettingsBody);
    if (body && *body) {
      if (auto parsed = parse_remote_settings(**body)) apply_settings(*parsed, now_ms);
    }
    Status s = store_->put({{kKeySettingsFetchedMs, std::to_string(now_ms)}});
    if (!s) log(LogLevel::kWarn, "could not store the settings' fetch time: " + s.to_string());
    settings_not_modified_.fetch_add(1);
    return;
  }
  std::optional<RemoteSettings> parsed;
  if (resp.status_code == 200) parsed = parse_remote_settings(resp.body);
  if (!parsed) {
    settings_failed_.fetch_add(1);
    log(LogLevel::kInfo,
        "settings fetch failed (" +
            (resp.status_code == 0     ? "network error: " + resp.error
             : resp.status_code == 200 ? std::string("malformed body")
                                       : "HTTP " + std::to_string(resp.status_code)) +
            "); the last good copy stays");
    return;
  }
  apply_settings(*parsed, now_ms);
  settings_etag_ = resp.etag;
  Status s = store_->put({{kKeySettingsBody, resp.body},
                          {kKeySettingsEtag, resp.etag},
                          {kKeySettingsFetchedMs, std::to_string(now_ms)}});
  if (!s) log(LogLevel::kWarn, "could not store the settings: " + s.to_string());
  settings_fetched_.fetch_add(1);
}

}  // namespace tern
