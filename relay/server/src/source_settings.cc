#include "source_settings.h"

#include <cctype>
#include <charconv>
#include <cstdio>

#include "http_text.h"
#include "tern/base/sha256.h"

namespace tern::relay {

namespace {

constexpr std::string_view kPrefix = "/v1/projects/";
constexpr std::string_view kSuffix = "/settings";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A host name, IPv4 or [IPv6] address, with an optional port: what may be
// echoed back as apiHost.
bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']' || c == '_')) {
      return false;
    }
  }
  return true;
}

// The first entry of a comma-separated header (the one the outermost proxy
// wrote), trimmed.
std::string_view first_entry(std::string_view value) {
  return trim_ws(value.substr(0, value.find(',')));
}

bool from_trusted_proxy(const IngestConfig& config, std::string_view peer) {
  for (const IpRange& r : config.trusted_proxies) {
    if (r.contains(peer)) return true;
  }
  return false;
}

std::string number_text(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "0";
}

}  // namespace

std::optional<std::string> settings_path_write_key(std::string_view path) {
  if (path.size() <= kPrefix.size() + kSuffix.size()) return std::nullopt;
  if (path.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  if (path.substr(path.size() - kSuffix.size()) != kSuffix) return std::nullopt;
  std::string_view encoded =
      path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  if (encoded.find('/') != std::string_view::npos) return std::nullopt;
  std::string key;
  key.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      key.push_back(encoded[i]);
      continue;
    }
    int hi = i + 2 < encoded.size() ? hex_value(encoded[i + 1]) : -1;
    int lo = i + 2 < encoded.size() ? hex_value(encoded[i + 2]) : -1;
    if (hi < 0 || lo < 0) return std::nullopt;
    key.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return key;
}

std::string source_settings_body(const SourceSettings& s, std::string_view write_key,
                                 std::string_view api_host, std::string_view protocol) {
  std::string out;
  out.reserve(512);
  out += "{\"integrations\":{\"Segment.io\":{\"apiKey\":";
  append_json_string(&out, write_key);
  out += ",\"apiHost\":";
  append_json_string(&out, std::string(api_host) + "/v1");
  out += ",\"protocol\":";
  append_json_string(&out, protocol);
  out +=
      "}},\"plan\":{\"track\":{\"__default\":{\"enabled\":true}},\"identify\":{},\"group\":{}},"
      "\"enabledMiddleware\":{},\"metrics\":{\"sampleRate\":0},\"tern\":{\"enabled\":";
  out += s.enabled.value_or(SourceSettings::kEnabled) ? "true" : "false";
  out += ",\"sampleRate\":";
  out += number_text(s.sample_rate.value_or(SourceSettings::kSampleRate));
  out += ",\"flushAt\":";
  out += std::to_string(s.flush_at.value_or(SourceSettings::kFlushAt));
  out += ",\"flushIntervalMs\":";
  out += std::to_string(s.flush_interval_ms.value_or(SourceSettings::kFlushIntervalMs));
  out += ",\"sessionTimeoutMs\":";
  out += std::to_string(s.session_timeout_ms.value_or(SourceSettings::kSessionTimeoutMs));
  out += ",\"ttlSeconds\":";
  out += std::to_string(s.ttl_seconds.value_or(SourceSettings::kTtlSeconds));
  for (const auto& [key, json] : s.extra) {
    out += ',';
    append_json_string(&out, key);
    out += ':';
    out += json;
  }
  out += "}}";
  return out;
}

std::string strong_etag(std::string_view body) {
  return "\"" + base::sha256_hex(body).substr(0, 32) + "\"";
}

bool if_none_match_matches(std::string_view header, std::string_view etag) {
  std::string_view rest = header;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view tag = trim_ws(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

HttpResponse answer_source_settings(const IngestConfig& config, const HttpRequest& request,
                                    std::string_view write_key) {
  auto it = config.source_by_key.find(std::string(write_key));
  if (it == config.source_by_key.end()) {
    return make_error(404, "not_found", "no source has this write key");
  }
  const bool proxied = from_trusted_proxy(config, request.peer_ip);
  std::string_view host = request.host;
  if (proxied && !first_entry(request.forwarded_host).empty()) {
    host = first_entry(request.forwarded_host);
  }
  if (host.empty()) host = config.relay.server.listen;  // an HTTP/1.0 client sent none
  if (!valid_host(host)) {
    return make_error(400, "bad_host", "the Host header is not a host name or address");
  }
  std::string_view protocol = request.secure ? "https" : "http";
  if (proxied) {
    std::string_view proto = first_entry(request.forwarded_proto);
    if (iequals(proto, "https")) protocol = "https";
    if (iequals(proto, "http")) protocol = "http";
  }

  HttpResponse r;
  r.body =
      source_settings_body(config.relay.sources[it->second].settings, write_key, host, protocol);
  std::string etag = strong_etag(r.body);
  r.headers.emplace_back("Cache-Control", "public, max-age=60");
  if (!request.if_none_match.empty() && if_none_match_matches(request.if_none_match, etag)) {
    r.status = 304;
    r.body.clear();
    r.content_type.clear();
  }
  r.headers.emplace_back("ETag", std::move(etag));
  return r;
}

}  // namespace tern::relay
