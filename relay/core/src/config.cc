// TOML → RelayConfig. Every key is read through a TableReader that remembers
// which keys it consumed, so an unknown key (a typo) is an error naming it
// instead of being silently ignored. Sink tables are the exception: keys the
// runner does not know are the sink's own settings.
#include "tern/relay/config.h"
#include "tern/relay/config_toml.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "tern/base/json_text.h"
#include "units.h"

namespace tern::relay {
namespace {

std::string describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "\"" + std::string(*n.value<std::string_view>()) + "\"";
    case toml::node_type::integer:
      return std::to_string(*n.value<int64_t>());
    case toml::node_type::floating_point: {
      std::ostringstream os;
      os << *n.value<double>();
      return os.str();
    }
    case toml::node_type::boolean:
      return *n.value<bool>() ? "true" : "false";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date/time";
  }
}

// Collects the first error; later checks become no-ops so the message names
// the first problem in file order.
class Errors {
 public:
  explicit Errors(std::string origin) : origin_(std::move(origin)) {}

  void fail(const toml::node* n, const std::string& path, const std::string& msg) {
    if (!first_.empty()) return;
    first_ = locate(n, path) + ": " + msg;
    path_ = path;
    message_ = msg;
  }
  // "FILE:LINE:COL: path", the start of every error about `n`.
  std::string locate(const toml::node* n, const std::string& path) const {
    std::ostringstream os;
    os << origin_;
    if (n && n->source().begin.line > 0) {
      os << ':' << n->source().begin.line << ':' << n->source().begin.column;
    }
    os << ": " << path;
    return os.str();
  }
  bool ok() const { return first_.empty(); }
  const std::string& message() const { return first_; }
  ConfigError parts() const { return {path_, message_}; }

 private:
  std::string origin_;
  std::string first_;
  std::string path_;     // the first error's key path
  std::string message_;  // and its message without a location
};

class TableReader {
 public:
  TableReader(const toml::table& t, std::string path, Errors& errors)
      : t_(t), path_(std::move(path)), errors_(errors) {}

  std::string key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  const toml::node* get(std::string_view key) {
    used_.insert(std::string(key));
    return t_.get(key);
  }

  void fail(const toml::node* n, std::string_view key, const std::string& msg) {
    errors_.fail(n ? n : &t_, key_path(key), msg);
  }

  void str(std::string_view key, std::string* out, bool allow_empty = true) {
    const toml::node* n = get(key);
    if (!n) return;
    auto v = n->value<std::string>();
    if (!n->is_string() || !v) return fail(n, key, "expected a string, got " + describe(*n));
    if (!allow_empty && v->empty()) return fail(n, key, "must not be empty");
    *out = *v;
  }

  template <typename T>
  void integer(std::string_view key, T* out, int64_t min, int64_t max) {
    const toml::node* n = get(key);
    if (!n) return;
    if (!n->is_integer()) return fail(n, key, "expected an integer, got " + describe(*n));
    int64_t v = *n->value<int64_t>();
    if (v < min || v > max) {
      return fail(n, key,
                  "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                      ", got " + std::to_string(v));
    }
    *out = static_cast<T>(v);
  }

  void number(std::string_view key, double* out, double min) {
    const toml::node* n = get(key);
    if (!n) return;
    if (!n->is_number()) return fail(n, key, "expected a number, got " + describe(*n));
    double v = *n->value<double>();
    if (!std::isfinite(v) || v < min) {
      std::ostringstream os;
      os << "must be a number >= " << min << ", got " << describe(*n);
      return fail(n, key, os.str());
    }
    *out = v;
  }

  void boolean(std::string_view key, bool* out) {
    const toml::node* n = get(key);
    if (!n) return;
    if (!n->is_boolean()) return fail(n, key, "expected true or false, got " + describe(*n));
    *out = *n->value<bool>();
  }

  // An integer byte count or a string with a unit ("512KiB", "1GB").
  void size(std::string_view key, std::size_t* out, std::size_t min = 1) {
    const toml::node* n = get(key);
    if (!n) return;
    std::size_t v = 0;
    if (n->is_integer()) {
      int64_t i = *n->value<int64_t>();
      if (i < 0) return fail(n, key, "must not be negative, got " + std::to_string(i));
      v = static_cast<std::size_t>(i);
    } else if (n->is_string()) {
      if (!parse_size(*n->value<std::string_view>(), &v)) {
        return fail(n, key, "expected a size like 1048576 or \"512KiB\", got " + describe(*n));
      }
    } else {
      return fail(n, key, "expected a size like 1048576 or \"512KiB\", got " + describe(*n));
    }
    if (v < min) return fail(n, key, "must be at least " + std::to_string(min) + " bytes");
    *out = v;
  }

  // A string with a unit: "50ms", "10s", "5m", "1h", "7d".
  template <typename Duration>
  void duration(std::string_view key, Duration* out, std::chrono::milliseconds min) {
    const toml::node* n = get(key);
    if (!n) return;
    std::chrono::milliseconds ms{0};
    if (!n->is_string() || !parse_duration(*n->value<std::string_view>(), &ms)) {
      return fail(n, key,
                  "expected a duration like \"50ms\", \"10s\" or \"5m\", got " + describe(*n));
    }
    if (ms < min) {
      return fail(n, key,
                  "must be at least " + std::to_string(min.count()) + "ms, got " + describe(*n));
    }
    *out = std::chrono::duration_cast<Duration>(ms);
  }

  void str_list(std::string_view key, std::vector<std::string>* out,
                bool allow_empty_items = false) {
    const toml::node* n = get(key);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) return fail(n, key, "expected an array of strings, got " + describe(*n));
    std::vector<std::string> v;
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::node& item = *a->get(i);
      if (!item.is_string()) {
        return fail(&item, std::string(key) + "[" + std::to_string(i) + "]",
                    "expected a string, got " + describe(item));
      }
      std::string s = *item.value<std::string>();
      if (s.empty() && !allow_empty_items) {
        return fail(&item, std::string(key) + "[" + std::to_string(i) + "]", "must not be empty");
      }
      v.push_back(std::move(s));
    }
    *out = std::move(v);
  }

  const toml::table* table(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return nullptr;
    if (!n->is_table()) {
      fail(n, key, "expected a table, got " + describe(*n));
      return nullptr;
    }
    return n->as_table();
  }

  // Error on the first key nobody asked for.
  void reject_unknown() {
    for (const auto& [k, node] : t_) {
      if (!used_.count(std::string(k.str()))) {
        errors_.fail(&node, key_path(k.str()), "unknown key");
        return;
      }
    }
  }

  // Keys nobody asked for, in file order (for sink settings).
  std::vector<std::pair<std::string, const toml::node*>> unused() const {
    std::vector<std::pair<std::string, const toml::node*>> v;
    for (const auto& [k, node] : t_) {
      if (!used_.count(std::string(k.str()))) v.emplace_back(std::string(k.str()), &node);
    }
    return v;
  }

 private:
  const toml::table& t_;
  std::string path_;
  Errors& errors_;
  std::set<std::string> used_;
};

// Flattens a sink-specific value into settings text: strings as they are,
// numbers and booleans as TOML spells them, arrays of scalars joined with ',',
// tables as "a.b" keys.
void flatten_setting(const std::string& key, const toml::node& n, const std::string& path,
                     std::map<std::string, std::string>& out, Errors& errors) {
  if (const toml::table* t = n.as_table()) {
    for (const auto& [k, child] : *t) {
      flatten_setting(key + "." + std::string(k.str()), child, path + "." + std::string(k.str()),
                      out, errors);
    }
    return;
  }
  auto scalar = [](const toml::node& v, std::string* s) {
    if (v.is_string())
      *s = *v.value<std::string>();
    else if (v.is_integer())
      *s = std::to_string(*v.value<int64_t>());
    else if (v.is_floating_point()) {
      std::ostringstream os;
      os.precision(17);
      os << *v.value<double>();
      *s = os.str();
    } else if (v.is_boolean())
      *s = *v.value<bool>() ? "true" : "false";
    else
      return false;
    return true;
  };
  std::string text;
  if (const toml::array* a = n.as_array()) {
    for (std::size_t i = 0; i < a->size(); ++i) {
      std::string item;
      if (!scalar(*a->get(i), &item)) {
        errors.fail(a->get(i), path + "[" + std::to_string(i) + "]",
                    "sink settings arrays may hold only strings, numbers and booleans");
        return;
      }
      if (i) text += ',';
      text += item;
    }
  } else if (!scalar(n, &text)) {
    errors.fail(&n, path, "unsupported value " + describe(n));
    return;
  }
  out[key] = std::move(text);
}

bool valid_listen(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) return false;
  std::string host = s.substr(0, colon);
  if (host.front() == '[' && host.back() != ']') return false;
  std::string port = s.substr(colon + 1);
  if (port.size() > 5) return false;
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return std::stoi(port) <= 65535;
}

// Reads the array of tables `key` ([[key]]): calls each(table, reader,
// path) for every entry in order, `reader` reading "key[i]", until it
// returns false. Anything but an array of tables is an error.
template <class Each>
void read_table_array(TableReader& root, const std::string& key, Errors& errors, Each each) {
  const toml::node* n = root.get(key);
  if (!n) return;
  const toml::array* arr = n->as_array();
  if (!arr) return root.fail(n, key, "expected an array of tables ([[" + key + "]])");
  for (std::size_t i = 0; i < arr->size(); ++i) {
    std::string path = key + "[" + std::to_string(i) + "]";
    const toml::table* t = arr->get(i)->as_table();
    if (!t) return errors.fail(arr->get(i), path, "expected a table");
    TableReader r(*t, path, errors);
    if (!each(*t, r, path)) return;
  }
}

// A finite double as the shortest JSON number that reads back as it.
std::string json_number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "0";
}

// A TOML value as compact JSON text (dates and times as strings); false,
// with the error recorded, for what JSON cannot hold (nan, inf).
bool toml_to_json(const toml::node& n, const std::string& path, std::string* out, Errors& errors) {
  if (const toml::table* t = n.as_table()) {
    out->push_back('{');
    bool first = true;
    for (const auto& [k, child] : *t) {
      if (!first) out->push_back(',');
      first = false;
      base::append_json_string(*out, k.str());
      out->push_back(':');
      if (!toml_to_json(child, path + "." + std::string(k.str()), out, errors)) return false;
    }
    out->push_back('}');
    return true;
  }
  if (const toml::array* a = n.as_array()) {
    out->push_back('[');
    for (std::size_t i = 0; i < a->size(); ++i) {
      if (i) out->push_back(',');
      if (!toml_to_json(*a->get(i), path + "[" + std::to_string(i) + "]", out, errors)) {
        return false;
      }
    }
    out->push_back(']');
    return true;
  }
  switch (n.type()) {
    case toml::node_type::string:
      base::append_json_string(*out, *n.value<std::string_view>());
      return true;
    case toml::node_type::integer:
      *out += std::to_string(*n.value<int64_t>());
      return true;
    case toml::node_type::floating_point: {
      double v = *n.value<double>();
      if (!std::isfinite(v)) {
        errors.fail(&n, path, "must be a finite number (JSON has no nan or inf)");
        return false;
      }
      *out += json_number(v);
      return true;
    }
    case toml::node_type::boolean:
      *out += *n.value<bool>() ? "true" : "false";
      return true;
    default: {
      std::ostringstream os;  // a date or time, as TOML writes it
      n.visit([&](const auto& v) {
        if constexpr (toml::is_value<decltype(v)>) os << v;
      });
      base::append_json_string(*out, os.str());
      return true;
    }
  }
}

// The [[sources]] entry's `settings` table. Tern's own keys are checked; any
// other key is kept for the SDK (but a snake_case spelling of one of Tern's
// keys is refused: it would be passed through and silently have no effect).
void read_source_settings(const toml::table& t, const std::string& path, SourceSettings* out,
                          Errors& errors) {
  TableReader r(t, path, errors);
  SourceSettings s;
  auto integer_at_least = [&](std::string_view key, std::optional<int64_t>* field, int64_t min,
                              int64_t max, const char* unit) {
    const toml::node* n = r.get(key);
    if (!n) return;
    if (!n->is_integer()) return r.fail(n, key, "expected an integer, got " + describe(*n));
    int64_t v = *n->value<int64_t>();
    if (v < min || v > max) {
      std::string range =
          max == std::numeric_limits<int64_t>::max()
              ? "must be at least " + std::to_string(min) + unit
              : "must be between " + std::to_string(min) + " and " + std::to_string(max) + unit;
      return r.fail(n, key, range + ", got " + std::to_string(v));
    }
    *field = v;
  };
  if (const toml::node* n = r.get("enabled")) {
    if (!n->is_boolean()) {
      r.fail(n, "enabled", "expected true or false, got " + describe(*n));
    } else {
      s.enabled = *n->value<bool>();
    }
  }
  if (const toml::node* n = r.get("sampleRate")) {
    double v = n->is_number() ? *n->value<double>() : -1;
    if (!n->is_number() || !(v >= 0 && v <= 1)) {
      r.fail(n, "sampleRate",
             "expected a number between 0 and 1 (the share of sessions kept), got " + describe(*n));
    } else {
      s.sample_rate = v;
    }
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  integer_at_least("flushAt", &s.flush_at, 1, 10'000, " events");
  integer_at_least("flushIntervalMs", &s.flush_interval_ms, 100, kMax, " ms");
  integer_at_least("sessionTimeoutMs", &s.session_timeout_ms, 1000, kMax, " ms");
  integer_at_least("ttlSeconds", &s.ttl_seconds, 60, kMax, " s");
  static constexpr std::pair<std::string_view, std::string_view> kSnake[] = {
      {"sample_rate", "sampleRate"},
      {"flush_at", "flushAt"},
      {"flush_interval_ms", "flushIntervalMs"},
      {"session_timeout_ms", "sessionTimeoutMs"},
      {"ttl_seconds", "ttlSeconds"}};
  for (const auto& [key, node] : r.unused()) {
    bool misspelt = false;
    for (const auto& [snake, camel] : kSnake) {
      if (key == snake) {
        r.fail(node, key,
               "unknown key; the SDK settings are spelt in camelCase: " + std::string(camel));
        misspelt = true;
      }
    }
    if (misspelt) break;
    std::string json;
    if (!toml_to_json(*node, r.key_path(key), &json, errors)) break;
    s.extra.emplace(key, std::move(json));
  }
  if (errors.ok()) *out = std::move(s);
}

void read_sources(TableReader& root, RelayConfig& c, Errors& errors) {
  std::set<std::string> ids;
  std::map<std::string, std::string> key_owner;
  read_table_array(
      root, "sources", errors,
      [&](const toml::table& tab, TableReader& r, const std::string& path) {
        const toml::table* t = &tab;
        SourceConfig s;
        r.str("id", &s.id, false);
        if (!t->contains("id")) r.fail(t, "id", "is required");
        r.str_list("write_keys", &s.write_keys);
        if (!t->contains("write_keys") || s.write_keys.empty()) {
          r.fail(t->get("write_keys"), "write_keys", "needs at least one write key");
        }
        std::string mode = "local";
        r.str("ack_mode", &mode);
        if (mode == "local")
          s.ack_mode = AckMode::kLocal;
        else if (mode == "sink")
          s.ack_mode = AckMode::kSink;
        else if (mode == "memory")
          s.ack_mode = AckMode::kMemory;
        else
          r.fail(t->get("ack_mode"), "ack_mode",
                 "must be \"local\", \"sink\" or \"memory\", got \"" + mode + "\"");
        r.number("rate_limit_eps", &s.rate_limit_eps, 0);
        r.number("rate_limit_burst", &s.rate_limit_burst, 0);
        r.duration("dedup_window", &s.dedup_window, std::chrono::milliseconds(0));
        r.integer("dedup_max_entries", &s.dedup_max_entries, 0, int64_t{1} << 40);
        if (const toml::table* settings = r.table("settings")) {
          read_source_settings(*settings, path + ".settings", &s.settings, errors);
        }
        r.reject_unknown();
        if (!errors.ok()) return false;
        if (!ids.insert(s.id).second) {
          errors.fail(t->get("id"), path + ".id", "duplicate source id \"" + s.id + "\"");
          return false;
        }
        for (const auto& k : s.write_keys) {
          auto [it, fresh] = key_owner.emplace(k, s.id);
          if (!fresh) {
            errors.fail(t->get("write_keys"), path + ".write_keys",
                        "a write key is already used by source \"" + it->second + "\"");
            return false;
          }
        }
        c.sources.push_back(std::move(s));
        return true;
      });
}

void read_sinks(TableReader& root, RelayConfig& c, Errors& errors) {
  std::set<std::string> names;
  read_table_array(
      root, "sinks", errors, [&](const toml::table& tab, TableReader& r, const std::string& path) {
        const toml::table* t = &tab;
        SinkConfig s;
        r.str("type", &s.type, false);
        if (!t->contains("type"))
          r.fail(t, "type",
                 "is required (\"file\", \"stdout\", \"kafka\", \"http\", \"postgres\")");
        if (t->contains("type")) s.type_origin = errors.locate(t->get("type"), path + ".type");
        s.name = s.type;
        r.str("name", &s.name, false);
        for (char ch : s.name) {
          if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ||
                ch == '.')) {
            r.fail(t->get("name"), "name", "may contain only letters, digits, '-', '_' and '.'");
            break;
          }
        }
        r.integer("batch_max_events", &s.batch_max_events, 1, 1'000'000);
        r.size("batch_max_bytes", &s.batch_max_bytes, 1);
        r.duration("batch_linger", &s.batch_linger, std::chrono::milliseconds(0));
        r.duration("backoff_base", &s.backoff_base, std::chrono::milliseconds(1));
        r.duration("backoff_max", &s.backoff_max, std::chrono::milliseconds(1));
        r.str("dead_letter_path", &s.dead_letter_path);
        if (errors.ok() && s.backoff_max < s.backoff_base) {
          r.fail(t->get("backoff_max"), "backoff_max", "must not be below backoff_base");
        }
        for (const auto& [key, node] : r.unused()) {
          flatten_setting(key, *node, path + "." + key, s.settings, errors);
        }
        if (!errors.ok()) return false;
        if (!names.insert(s.name).second) {
          errors.fail(t->get("name") ? t->get("name") : t, path + ".name",
                      "duplicate sink name \"" + s.name + "\" (give each sink a distinct name)");
          return false;
        }
        c.sinks.push_back(std::move(s));
        return true;
      });
}

void read_routes(TableReader& root, RelayConfig& c, Errors& errors) {
  read_table_array(root, "routes", errors,
                   [&](const toml::table& t, TableReader& r, const std::string&) {
                     RouteConfig route;
                     r.str_list("sources", &route.sources);
                     r.str_list("types", &route.types);
                     r.str_list("sinks", &route.sinks);
                     if (route.sinks.empty())
                       r.fail(t.get("sinks"), "sinks", "needs at least one sink name");
                     r.reject_unknown();
                     if (!errors.ok()) return false;
                     c.routes.push_back(std::move(route));
                     return true;
                   });
}

// Cross-references, checked after every table is read.
void validate(RelayConfig& c, const toml::table& root, bool check_references, Errors& errors) {
  std::set<std::string> sink_names, source_ids;
  for (const auto& s : c.sinks) sink_names.insert(s.name);
  for (const auto& s : c.sources) source_ids.insert(s.id);
  const toml::array* routes = root["routes"].as_array();
  for (std::size_t i = 0; check_references && i < c.routes.size(); ++i) {
    const toml::node* node = routes ? routes->get(i) : nullptr;
    for (std::size_t k = 0; k < c.routes[i].sinks.size(); ++k) {
      const std::string& name = c.routes[i].sinks[k];
      if (!sink_names.count(name)) {
        return errors.fail(node,
                           "routes[" + std::to_string(i) + "].sinks[" + std::to_string(k) + "]",
                           "unknown sink \"" + name + "\"");
      }
    }
    for (std::size_t k = 0; k < c.routes[i].sources.size(); ++k) {
      const std::string& id = c.routes[i].sources[k];
      if (!source_ids.count(id)) {
        return errors.fail(node,
                           "routes[" + std::to_string(i) + "].sources[" + std::to_string(k) + "]",
                           "unknown source \"" + id + "\"");
      }
    }
  }
  if (c.server.tls.enabled && (c.server.tls.cert_file.empty() || c.server.tls.key_file.empty())) {
    return errors.fail(root["server"].node(), "server.tls",
                       "enabled = true needs cert_file and key_file");
  }
}

void fill_defaults(RelayConfig& c) {
  if (c.sinks.empty()) {
    SinkConfig file;
    file.name = "file";
    file.type = "file";
    c.sinks.push_back(std::move(file));
  }
  if (c.routes.empty()) {
    RouteConfig all;
    for (const auto& s : c.sinks) all.sinks.push_back(s.name);
    c.routes.push_back(std::move(all));
  }
}

}  // namespace

Result<RelayConfig> parse_config(std::string_view toml_text, std::string_view origin) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << origin << ':' << e.source().begin.line << ':' << e.source().begin.column << ": "
       << e.description();
    return Status(StatusCode::kInvalidArgument, os.str());
  }
  return read_config(root, origin);
}

Result<RelayConfig> read_config(const toml::table& root, std::string_view origin,
                                const ConfigReadOptions& options, ConfigError* error) {
  Errors errors{std::string(origin)};
  RelayConfig c;
  TableReader r(root, "", errors);
  r.str("data_dir", &c.data_dir, false);

  if (const toml::table* t = r.table("server")) {
    TableReader s(*t, "server", errors);
    s.str("listen", &c.server.listen, false);
    if (errors.ok() && !valid_listen(c.server.listen)) {
      s.fail(t->get("listen"), "listen",
             "expected \"host:port\" (e.g. \"0.0.0.0:8080\", \"[::]:8080\"), got \"" +
                 c.server.listen + "\"");
    }
    s.integer("threads", &c.server.threads, 0, 1024);
    s.str_list("trusted_proxies", &c.server.trusted_proxies);
    s.str_list("cors_origins", &c.server.cors_origins);
    if (const toml::table* tls = s.table("tls")) {
      TableReader l(*tls, "server.tls", errors);
      l.boolean("enabled", &c.server.tls.enabled);
      l.str("cert_file", &c.server.tls.cert_file);
      l.str("key_file", &c.server.tls.key_file);
      l.reject_unknown();
    }
    s.reject_unknown();
  }

  if (const toml::table* t = r.table("limits")) {
    TableReader l(*t, "limits", errors);
    LimitsConfig& L = c.limits;
    l.size("max_body_bytes", &L.max_body_bytes);
    l.size("max_decompressed_bytes", &L.max_decompressed_bytes);
    l.number("max_inflate_ratio", &L.max_inflate_ratio, 1.0);
    l.integer("max_batch_events", &L.max_batch_events, 1, 10'000'000);
    l.size("max_event_bytes", &L.max_event_bytes);
    l.size("max_batch_bytes", &L.max_batch_bytes);
    l.integer("max_json_depth", &L.max_json_depth, 1, 10'000);
    l.size("max_header_bytes", &L.max_header_bytes, 256);
    l.duration("idle_timeout", &L.idle_timeout, std::chrono::milliseconds(1));
    l.duration("read_timeout", &L.read_timeout, std::chrono::milliseconds(1));
    l.duration("sink_ack_timeout", &L.sink_ack_timeout, std::chrono::milliseconds(1));
    l.reject_unknown();
  }

  if (const toml::table* t = r.table("spool")) {
    TableReader s(*t, "spool", errors);
    s.str("dir", &c.spool.dir);
    s.size("max_bytes", &c.spool.max_bytes, 4096);
    s.duration("commit_window", &c.spool.commit_window, std::chrono::milliseconds(0));
    s.size("memory_tail_bytes", &c.spool.memory_tail_bytes, 0);
    s.integer("retry_after_seconds", &c.spool.retry_after_seconds, 1, 3600);
    s.reject_unknown();
  }

  if (const toml::table* t = r.table("log")) {
    TableReader l(*t, "log", errors);
    l.str("level", &c.log.level);
    if (c.log.level != "debug" && c.log.level != "info" && c.log.level != "warn" &&
        c.log.level != "warning" && c.log.level != "error") {
      l.fail(t->get("level"), "level", "must be \"debug\", \"info\", \"warn\" or \"error\"");
    }
    l.reject_unknown();
  }

  if (const toml::table* t = r.table("admin")) {
    TableReader a(*t, "admin", errors);
    a.str("listen", &c.admin.listen);
    if (errors.ok() && !c.admin.listen.empty() && !valid_listen(c.admin.listen)) {
      a.fail(t->get("listen"), "listen",
             "expected \"host:port\" (e.g. \"127.0.0.1:8081\"), got \"" + c.admin.listen + "\"");
    }
    a.str("token_file", &c.admin.token_file);
    a.integer("max_taps", &c.admin.max_taps, 1, 1000);
    a.integer("tap_max_events_per_second", &c.admin.tap_max_events_per_second, 1, 1'000'000);
    a.reject_unknown();
  }

  if (const toml::table* t = r.table("control")) {
    TableReader k(*t, "control", errors);
    k.str("url", &c.control.url);
    if (errors.ok() && !c.control.url.empty() && c.control.url.rfind("http://", 0) != 0 &&
        c.control.url.rfind("https://", 0) != 0) {
      k.fail(t->get("url"), "url",
             "expected an http:// or https:// URL of the control relay's admin listener, got \"" +
                 c.control.url + "\"");
    }
    k.str("token_file", &c.control.token_file);
    k.str("relay_id", &c.control.relay_id);
    if (const toml::table* labels = k.table("labels")) {
      for (const auto& [key, node] : *labels) {
        if (!node.is_string()) {
          k.fail(&node, "labels." + std::string(key.str()),
                 "expected a string, got " + describe(node));
          continue;
        }
        c.control.labels[std::string(key.str())] = *node.value<std::string>();
      }
    }
    k.reject_unknown();
  }

  read_sources(r, c, errors);
  read_sinks(r, c, errors);
  read_routes(r, c, errors);
  r.reject_unknown();
  if (errors.ok()) validate(c, root, options.check_references, errors);
  if (!errors.ok()) {
    if (error) *error = errors.parts();
    return Status(StatusCode::kInvalidArgument, errors.message());
  }
  if (options.fill_defaults) fill_defaults(c);
  return c;
}

Result<RelayConfig> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status(StatusCode::kNotFound,
                  "cannot open config file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status(StatusCode::kIOError, "cannot read config file " + path);
  return parse_config(buf.str(), path);
}

std::vector<std::string> settings_needing_restart(const RelayConfig& running,
                                                  const RelayConfig& next) {
  std::vector<std::string> keys;
  auto check = [&](bool changed, const char* key) {
    if (changed) keys.emplace_back(key);
  };
  const ServerConfig& a = running.server;
  const ServerConfig& b = next.server;
  check(a.listen != b.listen, "server.listen");
  check(a.threads != b.threads, "server.threads");
  check(a.tls.enabled != b.tls.enabled, "server.tls.enabled");
  check(a.tls.cert_file != b.tls.cert_file, "server.tls.cert_file");
  check(a.tls.key_file != b.tls.key_file, "server.tls.key_file");
  check(running.spool.commit_window != next.spool.commit_window, "spool.commit_window");
  check(running.spool.memory_tail_bytes != next.spool.memory_tail_bytes, "spool.memory_tail_bytes");
  check(running.admin.listen != next.admin.listen, "admin.listen");
  check(running.control.url != next.control.url, "control.url");
  return keys;
}

RelayConfig default_config(std::string data_dir, std::vector<std::string> write_keys) {
  RelayConfig c;
  c.data_dir = std::move(data_dir);
  SourceConfig src;
  src.id = "default";
  src.write_keys = std::move(write_keys);
  c.sources.push_back(std::move(src));
  fill_defaults(c);
  return c;
}

std::string default_relay_id(const std::string& listen) {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0 || !*host)
    std::snprintf(host, sizeof host, "relay");
  auto colon = listen.rfind(':');
  return std::string(host) + "-" + (colon == std::string::npos ? listen : listen.substr(colon + 1));
}

std::string relay_id_of(const RelayConfig& config) {
  return config.control.relay_id.empty() ? default_relay_id(config.server.listen)
                                         : config.control.relay_id;
}

}  // namespace tern::relay
