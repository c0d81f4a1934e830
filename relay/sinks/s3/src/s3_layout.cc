#include "s3_layout.h"

#include <cstdio>

#include "tern/base/iso8601.h"
#include "tern/base/json_text.h"

namespace tern::relay::s3 {
namespace {

std::string two(int v) {
  char b[8];
  std::snprintf(b, sizeof b, "%02d", v);
  return b;
}

std::string with_prefix(const std::string& prefix, const std::string& rest) {
  return prefix.empty() ? rest : prefix + "/" + rest;
}

std::string seq20(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "%020llu", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

Partition partition_at(std::string source, SysTime t) {
  // "YYYY-MM-DDTHH:...": the UTC date and hour, as every timestamp is written.
  const std::string text = base::format_iso8601_ms(t);
  Partition p;
  p.source = std::move(source);
  p.date = text.substr(0, 10);
  p.hour = (text[11] - '0') * 10 + (text[12] - '0');
  return p;
}

SysTime hour_start(const Partition& p) {
  return base::parse_iso8601(p.date + "T" + two(p.hour) + ":00:00Z").value_or(SysTime{});
}

std::string_view top_level_string(std::string_view e, std::string_view name) {
  int depth = 0;
  bool expect_key = false;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const char c = e[i];
    if (c == '"') {
      std::size_t j = i + 1;
      while (j < e.size() && e[j] != '"') j += e[j] == '\\' ? 2 : 1;
      if (j >= e.size()) return {};
      std::string_view text = e.substr(i + 1, j - i - 1);
      const bool was_key = depth == 1 && expect_key;
      expect_key = false;
      i = j;
      if (!was_key || text != name) continue;
      std::size_t k = j + 1;
      while (k < e.size() && (e[k] == ' ' || e[k] == '\t' || e[k] == '\n' || e[k] == '\r')) ++k;
      if (k >= e.size() || e[k] != ':') continue;
      ++k;
      while (k < e.size() && (e[k] == ' ' || e[k] == '\t' || e[k] == '\n' || e[k] == '\r')) ++k;
      if (k >= e.size() || e[k] != '"') return {};
      std::size_t end = k + 1;
      while (end < e.size() && e[end] != '"') end += e[end] == '\\' ? 2 : 1;
      if (end >= e.size()) return {};
      return e.substr(k + 1, end - k - 1);
    }
    if (c == '{' || c == '[') {
      ++depth;
      expect_key = c == '{' && depth == 1;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',') {
      expect_key = depth == 1;
    }
  }
  return {};
}

std::string_view received_at_of(std::string_view e) {
  static constexpr std::string_view kKey = "\"receivedAt\":\"";
  std::size_t at = e.rfind(kKey);
  if (at == std::string_view::npos) return {};
  std::size_t start = at + kKey.size();
  std::size_t end = e.find('"', start);
  if (end == std::string_view::npos) return {};
  return e.substr(start, end - start);
}

std::string partition_dir(const std::string& prefix, const Partition& p) {
  return with_prefix(prefix, p.source + "/dt=" + p.date + "/hour=" + two(p.hour));
}

std::string object_key(const std::string& prefix, const Partition& p, const std::string& relay_id,
                       uint64_t first_seq, uint64_t last_seq) {
  return partition_dir(prefix, p) + "/" + relay_id + "-" + seq20(first_seq) + "-" +
         seq20(last_seq) + ".ndjson.gz";
}

std::string manifest_key(const Partition& p, const std::string& relay_id) {
  return "_manifests/" + p.source + "/dt=" + p.date + "/hour=" + two(p.hour) + "/" + relay_id +
         ".json";
}

std::string success_key(const std::string& prefix, const Partition& p,
                        const std::string& relay_id) {
  return partition_dir(prefix, p) + "/_SUCCESS." + relay_id;
}

std::string manifest_json(const std::string& relay_id, const Partition& p,
                          const std::vector<ObjectRecord>& objects) {
  std::string m = "{\"relay_id\":";
  base::append_json_string(m, relay_id);
  m += ",\"source\":";
  base::append_json_string(m, p.source);
  m += ",\"dt\":\"" + p.date + "\",\"hour\":\"" + two(p.hour) + "\",\"objects\":[";
  uint64_t events = 0, bytes = 0;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const ObjectRecord& o = objects[i];
    if (i) m += ',';
    m += "{\"key\":";
    base::append_json_string(m, o.key);
    m += ",\"events\":" + std::to_string(o.events) + ",\"bytes\":" + std::to_string(o.bytes) +
         ",\"sha256\":\"" + o.sha256_hex + "\",\"min_received_at\":";
    base::append_json_string(m, o.min_received_at);
    m += ",\"max_received_at\":";
    base::append_json_string(m, o.max_received_at);
    m += ",\"first_seq\":" + std::to_string(o.first_seq) +
         ",\"last_seq\":" + std::to_string(o.last_seq) + "}";
    events += o.events;
    bytes += o.bytes;
  }
  m += "],\"events\":" + std::to_string(events) + ",\"bytes\":" + std::to_string(bytes) + "}\n";
  return m;
}

bool is_object_key_of(const std::string& prefix, const std::string& relay_id,
                      const std::string& key) {
  if (!prefix.empty() && key.compare(0, prefix.size() + 1, prefix + "/") != 0) return false;
  const std::size_t slash = key.rfind('/');
  const std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
  // {relay_id}-{20 digits}-{20 digits}.ndjson.gz
  static constexpr std::string_view kTail = ".ndjson.gz";
  if (name.size() != relay_id.size() + 1 + 20 + 1 + 20 + kTail.size()) return false;
  if (name.compare(0, relay_id.size(), relay_id) != 0 || name[relay_id.size()] != '-') return false;
  std::size_t i = relay_id.size() + 1;
  for (std::size_t k = 0; k < 41; ++k) {
    const char c = name[i + k];
    if (k == 20 ? c != '-' : (c < '0' || c > '9')) return false;
  }
  return name.compare(name.size() - kTail.size(), kTail.size(), kTail) == 0;
}

}  // namespace tern::relay::s3
