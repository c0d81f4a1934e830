#include "s3_layout.h"

#include <cstdio>

#include "tern/base/json_text.h"

namespace tern::relay::s3 {
namespace {

// Days since 1970-01-01 of a civil date (proleptic Gregorian), and back.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

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

bool parse_iso8601(std::string_view s, SysTime* out) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, &mo) ||
      s[7] != '-' || !digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, &h) || s[13] != ':' || !digits(s, 14, 2, &mi) || s[16] != ':' ||
      !digits(s, 17, 2, &sec))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  std::size_t i = 19;
  int64_t micros = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int64_t scale = 100000;
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      micros += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start) return false;
  }
  int64_t offset_s = 0;
  if (i < s.size()) {
    if (s[i] == 'Z' || s[i] == 'z') {
      ++i;
    } else if (s[i] == '+' || s[i] == '-') {
      int oh, om;
      if (!digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
          !digits(s, i + 4, 2, &om))
        return false;
      offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
      i += 6;
    }
  }
  if (i != s.size()) return false;
  const int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  *out = SysTime(std::chrono::duration_cast<SysTime::duration>(std::chrono::seconds(secs) +
                                                               std::chrono::microseconds(micros)));
  return true;
}

Partition partition_at(std::string source, SysTime t) {
  const int64_t secs =
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  char date[32];
  std::snprintf(date, sizeof date, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  Partition p;
  p.source = std::move(source);
  p.date = date;
  p.hour = static_cast<int>(rem / 3600);
  return p;
}

SysTime hour_start(const Partition& p) {
  SysTime t;
  if (!parse_iso8601(p.date + "T" + two(p.hour) + ":00:00Z", &t)) return SysTime{};
  return t;
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

std::string manifest_key(const std::string& prefix, const Partition& p,
                         const std::string& relay_id) {
  return with_prefix(prefix, "_manifests/" + p.source + "/dt=" + p.date + "/hour=" + two(p.hour) +
                                 "/" + relay_id + ".json");
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
