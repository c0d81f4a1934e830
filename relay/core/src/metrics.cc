#include "tern/relay/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "tern/base/json_text.h"
#include "tern/relay/log.h"

namespace tern::relay {
namespace {

enum class Kind { kCounter, kGauge, kHistogram };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Latency buckets in seconds: 100 µs to 30 s, enough for an fdatasync and for
// a sink that retries for a while.
const std::vector<double>& default_bounds() {
  static const std::vector<double> b = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                        0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                        1,      2.5,     5,      10,    30};
  return b;
}

std::string fmt_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

void append_help(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

void append_series_name(std::string& out, std::string_view name, std::string_view suffix,
                        std::string_view labels, std::string_view extra_label = {}) {
  out += name;
  out += suffix;
  if (labels.empty() && extra_label.empty()) return;
  out += '{';
  out += labels;
  if (!labels.empty() && !extra_label.empty()) out += ',';
  out += extra_label;
  out += '}';
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double seconds) noexcept {
  if (!(seconds >= 0)) seconds = 0;  // also maps NaN to 0
  std::size_t i = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double micros = seconds * 1e6;
  if (micros > 1e18) micros = 1e18;
  sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(micros)), std::memory_order_relaxed);
}

uint64_t Histogram::bucket(std::size_t i) const noexcept {
  uint64_t total = 0;
  std::size_t last = std::min(i, bounds_.size());
  for (std::size_t k = 0; k <= last; ++k) total += counts_[k].load(std::memory_order_relaxed);
  return total;
}

uint64_t Histogram::count() const noexcept { return count_.load(std::memory_order_relaxed); }

double Histogram::sum() const noexcept {
  return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
}

struct Metrics::Family {
  Kind kind = Kind::kCounter;
  std::string help;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters;
  std::map<std::string, std::unique_ptr<Gauge>, std::less<>> gauges;
  std::map<std::string, std::unique_ptr<Histogram>, std::less<>> histograms;
};

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

namespace {

// Finds or creates the family `name` of `kind`. Asking for an existing name
// with another kind is a programming error; rather than crash the relay, the
// series goes to "<name>_<kind>" and an error is logged once per call site.
template <typename Map, typename FamilyT>
FamilyT& family_for(Map& families, std::string_view name, Kind kind, std::string_view help) {
  std::string key(name);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto it = families.find(key);
    if (it == families.end()) {
      auto f = std::make_unique<FamilyT>();
      f->kind = kind;
      f->help = std::string(help);
      auto& ref = *f;
      families.emplace(key, std::move(f));
      return ref;
    }
    if (it->second->kind == kind) {
      if (it->second->help.empty() && !help.empty()) it->second->help = std::string(help);
      return *it->second;
    }
    log::error(
        "metric registered with two types",
        {{"metric", name}, {"type", kind_name(it->second->kind)}, {"asked", kind_name(kind)}});
    key = std::string(name) + "_" + kind_name(kind);
  }
  auto& f = families[key];
  if (!f) {
    f = std::make_unique<FamilyT>();
    f->kind = kind;
  }
  return *f;
}

}  // namespace

Counter& Metrics::counter(std::string_view name, std::string_view labels, std::string_view help) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = family_for<decltype(families_), Family>(families_, name, Kind::kCounter, help);
  auto it = f.counters.find(labels);
  if (it == f.counters.end()) {
    it = f.counters.emplace(std::string(labels), std::make_unique<Counter>()).first;
  }
  return *it->second;
}

Gauge& Metrics::gauge(std::string_view name, std::string_view labels, std::string_view help) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = family_for<decltype(families_), Family>(families_, name, Kind::kGauge, help);
  auto it = f.gauges.find(labels);
  if (it == f.gauges.end()) {
    it = f.gauges.emplace(std::string(labels), std::make_unique<Gauge>()).first;
  }
  return *it->second;
}

Histogram& Metrics::histogram(std::string_view name, std::string_view labels,
                              std::string_view help) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = family_for<decltype(families_), Family>(families_, name, Kind::kHistogram, help);
  auto it = f.histograms.find(labels);
  if (it == f.histograms.end()) {
    it = f.histograms.emplace(std::string(labels), std::make_unique<Histogram>(default_bounds()))
             .first;
  }
  return *it->second;
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out.reserve(families_.size() * 160);
  for (const auto& [name, f] : families_) {
    if (!f->help.empty()) {
      out += "# HELP ";
      out += name;
      out += ' ';
      append_help(out, f->help);
      out += '\n';
    }
    out += "# TYPE ";
    out += name;
    out += ' ';
    out += kind_name(f->kind);
    out += '\n';
    switch (f->kind) {
      case Kind::kCounter:
        for (const auto& [labels, c] : f->counters) {
          append_series_name(out, name, "", labels);
          out += ' ';
          out += std::to_string(c->value());
          out += '\n';
        }
        break;
      case Kind::kGauge:
        for (const auto& [labels, g] : f->gauges) {
          append_series_name(out, name, "", labels);
          out += ' ';
          out += std::to_string(g->value());
          out += '\n';
        }
        break;
      case Kind::kHistogram:
        for (const auto& [labels, h] : f->histograms) {
          // _count is the +Inf bucket read once, so the two always agree even
          // while other threads observe.
          const auto& bounds = h->bounds();
          for (std::size_t i = 0; i < bounds.size(); ++i) {
            uint64_t cumulative = h->bucket(i);
            append_series_name(out, name, "_bucket", labels,
                               "le=\"" + fmt_double(bounds[i]) + "\"");
            out += ' ';
            out += std::to_string(cumulative);
            out += '\n';
          }
          uint64_t total = h->bucket(bounds.size());
          append_series_name(out, name, "_bucket", labels, "le=\"+Inf\"");
          out += ' ';
          out += std::to_string(total);
          out += '\n';
          append_series_name(out, name, "_sum", labels);
          out += ' ';
          out += fmt_double(h->sum());
          out += '\n';
          append_series_name(out, name, "_count", labels);
          out += ' ';
          out += std::to_string(total);
          out += '\n';
        }
        break;
    }
  }
  return out;
}

std::vector<Metrics::SeriesValue> Metrics::values(std::string_view name) const {
  std::vector<SeriesValue> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return out;
  const Family& f = *it->second;
  if (f.kind == Kind::kCounter) {
    out.reserve(f.counters.size());
    for (const auto& [labels, c] : f.counters) {
      const uint64_t v = c->value();
      out.push_back(
          {labels, v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v)});
    }
  } else if (f.kind == Kind::kGauge) {
    out.reserve(f.gauges.size());
    for (const auto& [labels, g] : f.gauges) out.push_back({labels, g->value()});
  }
  return out;
}

std::string sink_label(std::string_view sink) {
  std::string l = "sink=";
  base::append_json_string(l, sink);
  return l;
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Reads the quoted value starting at labels[*i] (the opening quote) into
// `out`, leaving *i past the closing quote. False when malformed.
bool read_label_value(std::string_view labels, std::size_t* i, std::string* out) {
  std::size_t p = *i;
  if (p >= labels.size() || labels[p] != '"') return false;
  ++p;
  while (p < labels.size()) {
    char c = labels[p++];
    if (c == '"') {
      *i = p;
      return true;
    }
    if (c != '\\') {
      *out += c;
      continue;
    }
    if (p >= labels.size()) return false;
    char e = labels[p++];
    switch (e) {
      case 'n':
        *out += '\n';
        break;
      case 't':
        *out += '\t';
        break;
      case 'r':
        *out += '\r';
        break;
      case 'b':
        *out += '\b';
        break;
      case 'f':
        *out += '\f';
        break;
      case 'u': {
        auto read4 = [&](uint32_t* v) {
          if (p + 4 > labels.size()) return false;
          *v = 0;
          for (int k = 0; k < 4; ++k) {
            int d = hex_digit(labels[p + static_cast<std::size_t>(k)]);
            if (d < 0) return false;
            *v = (*v << 4) | static_cast<uint32_t>(d);
          }
          p += 4;
          return true;
        };
        uint32_t cp = 0;
        if (!read4(&cp)) return false;
        if (cp >= 0xD800 && cp < 0xDC00 && p + 1 < labels.size() && labels[p] == '\\' &&
            labels[p + 1] == 'u') {
          p += 2;
          uint32_t low = 0;
          if (!read4(&low)) return false;
          if (low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else {
            append_utf8(*out, cp);
            cp = low;
          }
        }
        append_utf8(*out, cp);
        break;
      }
      default:  // \" \\ \/ and anything else: the character itself
        *out += e;
        break;
    }
  }
  return false;
}

}  // namespace

std::optional<std::string> label_value(std::string_view labels, std::string_view name) {
  std::size_t i = 0;
  while (i < labels.size()) {
    std::size_t eq = labels.find('=', i);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = labels.substr(i, eq - i);
    while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
    i = eq + 1;
    std::string value;
    if (!read_label_value(labels, &i, &value)) return std::nullopt;
    if (key == name) return value;
    while (i < labels.size() && (labels[i] == ',' || labels[i] == ' ')) ++i;
  }
  return std::nullopt;
}

}  // namespace tern::relay
