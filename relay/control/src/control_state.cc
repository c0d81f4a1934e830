// The state model. Validation reuses the TOML config reader: each resource is
// turned into the [[sources]] / [[sinks]] / [[routes]] table a config file
// would hold and read by read_config(), so the API accepts exactly what the
// file accepts, and the reader's key paths become the API's field names.
//
// One file of a little over 800 lines on purpose: validation, formatting,
// conversion from a config and diffs all walk the same four kinds of objects
// through the helpers at the top (kKinds, identity, resource_name). A
// source's SDK settings are a few checks inside check_sources, not a concern
// of their own; the settings document itself is relay/server's.
#include "control_state.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include <toml++/toml.h>

#include "tern/relay/config_toml.h"
#include "tern/relay/pipeline.h"

namespace tern::relay::control {
namespace {

constexpr std::size_t kMaxSettingsBytes = 64 * 1024;
constexpr std::size_t kMaxUserIdBytes = 1024;

// The four kinds of objects, in the order diffs and errors list them.
struct Kind {
  const char* name;  // "sources"
  const char* key;   // the identity field: "id"
  Json State::*list;
};
constexpr Kind kKinds[] = {
    {"sources", "id", &State::sources},
    {"sinks", "name", &State::sinks},
    {"routes", "id", &State::routes},
    {"suppressions", "user_id", &State::suppressions},
};

std::string identity(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

Json without_revision(const Json& object) {
  Json copy = object;
  if (copy.is_object()) copy.erase("revision");
  return copy;
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------- JSON → TOML

bool to_toml_table(const Json& object, const std::string& path, std::string* bad, toml::table* out);
bool to_toml_array(const Json& array, const std::string& path, std::string* bad, toml::array* out);

// Hands `add` the TOML value of `v`; false (with `bad` = the path) for what
// TOML cannot hold: null, integers past int64.
template <class Add>
bool to_toml_value(const Json& v, const std::string& path, std::string* bad, Add add) {
  switch (v.type()) {
    case Json::value_t::string:
      add(v.get<std::string>());
      return true;
    case Json::value_t::boolean:
      add(v.get<bool>());
      return true;
    case Json::value_t::number_integer:
      add(v.get<int64_t>());
      return true;
    case Json::value_t::number_unsigned: {
      uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) break;
      add(static_cast<int64_t>(u));
      return true;
    }
    case Json::value_t::number_float:
      add(v.get<double>());
      return true;
    case Json::value_t::array: {
      toml::array a;
      if (!to_toml_array(v, path, bad, &a)) return false;
      add(std::move(a));
      return true;
    }
    case Json::value_t::object: {
      toml::table t;
      if (!to_toml_table(v, path, bad, &t)) return false;
      add(std::move(t));
      return true;
    }
    default:
      break;
  }
  *bad = path;
  return false;
}

bool to_toml_table(const Json& object, const std::string& path, std::string* bad,
                   toml::table* out) {
  for (const auto& [key, value] : object.items()) {
    std::string child = path.empty() ? key : path + "." + key;
    bool ok = to_toml_value(value, child, bad, [&](auto&& v) {
      out->insert_or_assign(key, std::forward<decltype(v)>(v));
    });
    if (!ok) return false;
  }
  return true;
}

bool to_toml_array(const Json& array, const std::string& path, std::string* bad, toml::array* out) {
  for (std::size_t i = 0; i < array.size(); ++i) {
    bool ok = to_toml_value(array[i], path + "[" + std::to_string(i) + "]", bad,
                            [&](auto&& v) { out->push_back(std::forward<decltype(v)>(v)); });
    if (!ok) return false;
  }
  return true;
}

// ---------------------------------------------------------------- validation

std::string resource_name(const char* kind, const std::string& id) {
  return std::string(kind) + "/" + id;
}

// Collects errors; the resource's TOML table is only built when its own
// checks pass.
class Validator {
 public:
  // `read_each`: read every resource on its own (read_one) to name each
  // one's errors; off for the fast path, which reads the whole once.
  Validator(std::vector<FieldError>* out, bool read_each) : out_(out), read_each_(read_each) {}

  void fail(std::string resource, std::string field, std::string message) {
    errors_.push_back({std::move(resource), std::move(field), std::move(message)});
  }
  bool ok() const { return errors_.empty(); }
  std::size_t count() const { return errors_.size(); }
  const std::vector<FieldError>& errors() const { return errors_; }
  void flush() {
    if (out_) out_->insert(out_->end(), errors_.begin(), errors_.end());
  }

  // read_config() on one resource's table (`kind` = [table]); its error's
  // path "kind[0].field" becomes `field`. True when it reads.
  bool read_one(const char* kind, const std::string& resource, const toml::table& table) {
    if (!read_each_) return true;
    toml::table root;
    toml::array array;
    array.push_back(table);
    root.insert_or_assign(kind, std::move(array));
    ConfigReadOptions options;
    options.check_references = false;
    options.fill_defaults = false;
    ConfigError error;
    auto config = read_config(root, resource, options, &error);
    if (config) return true;
    fail(resource, strip_index(error.path, kind), error.message);
    return false;
  }

  // "sinks[0].batch_linger" → "batch_linger"; "sinks[0]" → "".
  static std::string strip_index(const std::string& path, const std::string& kind) {
    std::string prefix = kind + "[";
    if (path.compare(0, prefix.size(), prefix) != 0) return path;
    auto close = path.find(']');
    if (close == std::string::npos) return path;
    std::string rest = path.substr(close + 1);
    if (!rest.empty() && rest.front() == '.') rest.erase(0, 1);
    return rest;
  }

 private:
  std::vector<FieldError>* out_;
  bool read_each_;
  std::vector<FieldError> errors_;
};

// The value at `rest` (".key", "[3]", chained, as to_toml_value names paths)
// inside `v`; null when the path does not lead anywhere (a key with a '.').
const Json* json_at(const Json& v, std::string_view rest) {
  if (rest.empty()) return &v;
  if (rest.front() == '[' && v.is_array()) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return nullptr;
    std::size_t i = std::strtoul(std::string(rest.substr(1, close - 1)).c_str(), nullptr, 10);
    return i < v.size() ? json_at(v[i], rest.substr(close + 1)) : nullptr;
  }
  if (rest.front() == '.' && v.is_object()) {
    rest.remove_prefix(1);
    auto end = std::min(rest.find('.'), rest.find('['));
    auto it = v.find(std::string(rest.substr(0, end)));
    if (it == v.end()) return nullptr;
    return json_at(*it, end == std::string_view::npos ? std::string_view() : rest.substr(end));
  }
  return nullptr;
}

// Converts the JSON fields of an object (but `skip`) into `table`; a value
// TOML cannot hold is an error naming its field.
bool copy_fields(const Json& object, const std::set<std::string>& skip, const std::string& resource,
                 Validator& v, toml::table* table) {
  for (const auto& [key, value] : object.items()) {
    if (skip.count(key)) continue;
    std::string bad;
    bool ok = to_toml_value(value, key, &bad, [&](auto&& x) {
      table->insert_or_assign(key, std::forward<decltype(x)>(x));
    });
    if (!ok) {
      const Json* at = json_at(value, std::string_view(bad).substr(key.size()));
      if (!at) at = &value;
      v.fail(resource, bad,
             at->is_null() ? "must not be null (leave the key out for its default)"
                           : "unsupported value " + at->dump());
      return false;
    }
  }
  return true;
}

// A number of seconds as the duration text the config reader takes.
std::string seconds_text(const Json& n) {
  if (n.is_number_integer() || n.is_number_unsigned()) return n.dump() + "s";
  double s = n.get<double>();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3fms", s * 1000.0);
  return buf;
}

struct Pipeline {
  toml::array sources, sinks, routes;
  std::vector<std::string> source_ids, sink_names, route_ids;  // by index, for error paths
};

void check_sources(const State& state, Validator& v, Pipeline* p) {
  std::set<std::string> ids;
  std::map<std::string, std::string> key_owner;  // write key → source id
  for (std::size_t i = 0; i < state.sources.size(); ++i) {
    const Json& src = state.sources[i];
    std::string id = identity(src, "id");
    std::string res = resource_name("sources", id.empty() ? std::to_string(i) : id);
    std::size_t before = v.count();
    if (!src.is_object()) {
      v.fail(res, "", "expected a JSON object");
      continue;
    }
    if (!valid_id(id)) {
      v.fail(res, "id", "must be 1 to 64 characters of letters, digits, '.', '_' and '-'");
    } else if (!ids.insert(id).second) {
      v.fail(res, "id", "duplicate source id \"" + id + "\"");
    }
    if (auto it = src.find("settings"); it != src.end()) {
      if (!it->is_object()) {
        v.fail(res, "settings", "must be a JSON object");
      } else if (it->dump().size() > kMaxSettingsBytes) {
        v.fail(res, "settings", "must be at most 64 KiB of JSON");
      }
    }
    toml::array keys;
    if (auto it = src.find("write_keys"); it != src.end()) {
      if (!it->is_array()) {
        v.fail(res, "write_keys", "expected an array of {\"id\", \"key\", \"created_at\"}");
      } else {
        std::set<std::string> key_ids;
        for (std::size_t k = 0; k < it->size(); ++k) {
          const Json& wk = (*it)[k];
          std::string path = "write_keys[" + std::to_string(k) + "]";
          if (!wk.is_object()) {
            v.fail(res, path, "expected an object {\"id\", \"key\", \"created_at\"}");
            continue;
          }
          auto key = wk.find("key");
          if (key == wk.end() || !key->is_string() || key->get<std::string>().empty()) {
            v.fail(res, path + ".key", "must be a non-empty string");
            continue;
          }
          if (auto kid = wk.find("id"); kid != wk.end()) {
            if (!kid->is_string() || kid->get<std::string>().empty()) {
              v.fail(res, path + ".id", "must be a non-empty string");
            } else if (!key_ids.insert(kid->get<std::string>()).second) {
              v.fail(res, path + ".id",
                     "duplicate write key id \"" + kid->get<std::string>() + "\"");
            }
          }
          for (const auto& [field, value] : wk.items()) {
            if (field != "id" && field != "key" && field != "created_at") {
              v.fail(res, path + "." + field, "unknown key");
            }
          }
          const std::string& text = key->get_ref<const std::string&>();
          auto [owner, fresh] = key_owner.emplace(text, id);
          if (!fresh) {
            v.fail(res, path + ".key",
                   owner->second == id
                       ? "the same write key is listed twice"
                       : "this write key is already used by source \"" + owner->second + "\"");
          }
          keys.push_back(text);
        }
      }
    }
    if (v.count() != before) continue;
    toml::table t;
    // `settings` goes in as the [[sources]] entry's settings table: the file
    // reader checks Tern's keys (field "settings.sampleRate", ...).
    if (!copy_fields(src, {"revision", "write_keys", "dedup_window"}, res, v, &t)) {
      continue;
    }
    t.insert_or_assign("write_keys", std::move(keys));
    if (auto it = src.find("dedup_window"); it != src.end()) {
      if (it->is_number() && it->get<double>() >= 0) {
        t.insert_or_assign("dedup_window", seconds_text(*it));
      } else if (!copy_fields(Json{{"dedup_window", *it}}, {}, res, v, &t)) {
        continue;
      }
    }
    if (!v.read_one("sources", res, t)) continue;
    p->sources.push_back(std::move(t));
    p->source_ids.push_back(id);
  }
}

void check_sinks(const State& state, Validator& v, Pipeline* p) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < state.sinks.size(); ++i) {
    const Json& sink = state.sinks[i];
    std::string name = identity(sink, "name");
    std::string res = resource_name("sinks", name.empty() ? std::to_string(i) : name);
    if (!sink.is_object()) {
      v.fail(res, "", "expected a JSON object");
      continue;
    }
    if (name.empty()) {
      v.fail(res, "name", "is required (letters, digits, '-', '_' and '.')");
      continue;
    }
    if (!names.insert(name).second) {
      v.fail(res, "name", "duplicate sink name \"" + name + "\" (give each sink a distinct name)");
      continue;
    }
    toml::table t;
    if (!copy_fields(sink, {"revision"}, res, v, &t)) continue;
    if (!v.read_one("sinks", res, t)) continue;
    p->sinks.push_back(std::move(t));
    p->sink_names.push_back(name);
  }
}

void check_routes(const State& state, Validator& v, Pipeline* p) {
  std::set<std::string> ids, source_ids, sink_names;
  for (const Json& s : state.sources) source_ids.insert(identity(s, "id"));
  for (const Json& s : state.sinks) sink_names.insert(identity(s, "name"));
  for (std::size_t i = 0; i < state.routes.size(); ++i) {
    const Json& route = state.routes[i];
    std::string id = identity(route, "id");
    std::string res = resource_name("routes", id.empty() ? std::to_string(i) : id);
    std::size_t before = v.count();
    if (!route.is_object()) {
      v.fail(res, "", "expected a JSON object");
      continue;
    }
    if (!valid_id(id)) {
      v.fail(res, "id", "must be 1 to 64 characters of letters, digits, '.', '_' and '-'");
    } else if (!ids.insert(id).second) {
      v.fail(res, "id", "duplicate route id \"" + id + "\"");
    }
    if (v.count() != before) continue;
    toml::table t;
    if (!copy_fields(route, {"id", "revision"}, res, v, &t)) continue;
    if (!v.read_one("routes", res, t)) continue;
    auto names = [&](const char* field, const std::set<std::string>& known, const char* what) {
      auto it = route.find(field);
      if (it == route.end()) return;
      for (std::size_t k = 0; k < it->size(); ++k) {
        const std::string& name = (*it)[k].get_ref<const std::string&>();
        if (!known.count(name)) {
          v.fail(res, std::string(field) + "[" + std::to_string(k) + "]",
                 std::string("unknown ") + what + " \"" + name +
                     "\" (create it first, or leave it out)");
        }
      }
    };
    names("sources", source_ids, "source");
    names("sinks", sink_names, "sink");
    if (v.count() != before) continue;
    p->routes.push_back(std::move(t));
    p->route_ids.push_back(id);
  }
}

void check_suppressions(const State& state, Validator& v, std::vector<std::string>* user_ids) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < state.suppressions.size(); ++i) {
    const Json& s = state.suppressions[i];
    std::string id = identity(s, "user_id");
    std::string res = resource_name("suppressions", id.empty() ? std::to_string(i) : id);
    std::size_t before = v.count();
    if (!s.is_object()) {
      v.fail(res, "", "expected a JSON object");
      continue;
    }
    if (id.empty()) {
      v.fail(res, "user_id", "must be a non-empty string");
    } else if (id.size() > kMaxUserIdBytes) {
      v.fail(res, "user_id", "must be at most 1024 bytes");
    } else if (!seen.insert(id).second) {
      v.fail(res, "user_id", "duplicate suppression of user \"" + id + "\"");
    }
    for (const auto& [field, value] : s.items()) {
      if (field == "user_id" || field == "revision") continue;
      if (field == "reason" || field == "created_at") {
        if (!value.is_string()) v.fail(res, field, "expected a string");
      } else {
        v.fail(res, field, "unknown key");
      }
    }
    if (v.count() == before) user_ids->push_back(id);
  }
}

// ---------------------------------------------------------------- formatting

std::string duration_text(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms != 0 && ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

Json size_json(std::size_t bytes) {
  const std::pair<std::size_t, const char*> units[] = {
      {std::size_t{1} << 30, "GiB"}, {std::size_t{1} << 20, "MiB"}, {std::size_t{1} << 10, "KiB"}};
  for (const auto& [unit, name] : units) {
    if (bytes != 0 && bytes % unit == 0) return std::to_string(bytes / unit) + name;
  }
  return bytes;
}

// A flattened sink setting back as JSON: true/false and integers typed when
// that reads back as the same text, strings otherwise.
Json setting_json(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  if (!text.empty() && text.size() < 19) {
    bool digits = true;
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (!(std::isdigit(static_cast<unsigned char>(c)) || (i == 0 && c == '-' && text.size() > 1)))
        digits = false;
    }
    if (digits) {
      long long n = std::stoll(text);
      if (std::to_string(n) == text) return n;
    }
  }
  return text;
}

// A source's settings as the admin API shows them: only what was set.
Json settings_json(const SourceSettings& s) {
  Json out = Json::object();
  if (s.enabled) out["enabled"] = *s.enabled;
  if (s.sample_rate) out["sampleRate"] = *s.sample_rate;
  if (s.flush_at) out["flushAt"] = *s.flush_at;
  if (s.flush_interval_ms) out["flushIntervalMs"] = *s.flush_interval_ms;
  if (s.session_timeout_ms) out["sessionTimeoutMs"] = *s.session_timeout_ms;
  if (s.ttl_seconds) out["ttlSeconds"] = *s.ttl_seconds;
  for (const auto& [key, text] : s.extra) {
    out[key] = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- State

Json State::to_json(bool redact) const {
  Json sinks_out = sinks;
  if (redact) {
    for (auto& s : sinks_out) s = redact_sink(s);
  }
  return Json{{"revision", revision},
              {"sources", sources},
              {"sinks", std::move(sinks_out)},
              {"routes", routes},
              {"suppressions", suppressions}};
}

Result<State> State::from_json(const Json& document) {
  auto bad = [](const std::string& field, const std::string& msg) {
    return Status::InvalidArgument(field + ": " + msg);
  };
  if (!document.is_object()) return bad("state", "expected a JSON object");
  State state;
  for (const auto& [key, value] : document.items()) {
    if (key == "revision") {
      if (!value.is_number_integer() || value.get<int64_t>() < 0) {
        return bad("revision", "expected a non-negative integer");
      }
      state.revision = value.get<int64_t>();
      continue;
    }
    const Kind* kind = nullptr;
    for (const Kind& k : kKinds) {
      if (key == k.name) kind = &k;
    }
    if (!kind) {
      return bad(key, "unknown key (expected revision, sources, sinks, routes, suppressions)");
    }
    if (!value.is_array()) return bad(key, "expected an array of objects");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const Json& object = value[i];
      std::string path = key + "[" + std::to_string(i) + "]";
      if (!object.is_object()) return bad(path, "expected an object");
      auto id = object.find(kind->key);
      if (id == object.end() || !id->is_string() || id->get<std::string>().empty()) {
        return bad(path + "." + kind->key, "is required (a non-empty string)");
      }
      if (!seen.insert(id->get<std::string>()).second) {
        return bad(path + "." + kind->key, "duplicate \"" + id->get<std::string>() + "\"");
      }
      if (auto rev = object.find("revision"); rev != object.end()) {
        if (!rev->is_number_integer() || rev->get<int64_t>() < 0) {
          return bad(path + ".revision", "expected a non-negative integer");
        }
      }
    }
    state.*(kind->list) = value;
  }
  return state;
}

std::string to_string(const FieldError& error) {
  std::string out;
  auto slash = error.resource.find('/');
  if (slash == std::string::npos) {
    out = error.resource;
  } else {
    out =
        error.resource.substr(0, slash) + "[" + Json(error.resource.substr(slash + 1)).dump() + "]";
  }
  if (!error.field.empty()) {
    if (error.field.front() != '[') out += '.';
    out += error.field;
  }
  return out + ": " + error.message;
}

FieldError sink_field_error(std::string_view sink_name, const Status& status) {
  FieldError e{resource_name("sinks", std::string(sink_name)), "", status.message()};
  std::string rest = status.message();
  std::string prefix = "sink \"" + std::string(sink_name) + "\"";
  if (rest.compare(0, prefix.size(), prefix) != 0) return e;
  rest.erase(0, prefix.size());
  if (rest.compare(0, 2, ": ") == 0) {
    rest.erase(0, 2);  // the registry's: `sink "x": unknown sink type "y" (known: ...)`
    if (rest.compare(0, 17, "unknown sink type") == 0) e.field = "type";
    e.message = rest;
    return e;
  }
  auto close = rest.find("): ");
  if (rest.compare(0, 2, " (") != 0 || close == std::string::npos) return e;
  rest.erase(0, close + 3);
  e.message = rest;
  const std::string unknown = "unknown setting \"";
  if (rest.compare(0, unknown.size(), unknown) == 0) {
    auto end = rest.find('"', unknown.size());
    if (end != std::string::npos) {
      e.field = rest.substr(unknown.size(), end - unknown.size());
      e.message = "unknown key (not a setting of this sink type)";
    }
    return e;
  }
  // "KEY: message" or "KEY is required", "KEY must be ...".
  std::size_t n = 0;
  while (n < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[n])) || rest[n] == '_' ||
                             rest[n] == '.' || rest[n] == '-')) {
    ++n;
  }
  if (n == 0 || !std::islower(static_cast<unsigned char>(rest[0]))) return e;
  std::string after = rest.substr(n);
  if (after.compare(0, 2, ": ") == 0) {
    e.field = rest.substr(0, n);
    e.message = after.substr(2);
  } else if (after.compare(0, 4, " is ") == 0 || after.compare(0, 6, " must ") == 0 ||
             after.compare(0, 8, " cannot ") == 0) {
    e.field = rest.substr(0, n);
    e.message = after.substr(1);
  }
  return e;
}

namespace {

Result<RelayConfig> convert(const State& state, const RelayConfig& base,
                            std::vector<FieldError>* errors, bool read_each) {
  Validator v(errors, read_each);
  Pipeline p;
  std::vector<std::string> suppressed;
  for (const Kind& k : kKinds) {
    if (!(state.*(k.list)).is_array()) v.fail("state", k.name, "expected an array of objects");
  }
  if (v.ok()) {
    check_sources(state, v, &p);
    check_sinks(state, v, &p);
    check_routes(state, v, &p);
    check_suppressions(state, v, &suppressed);
  }
  if (!v.ok()) {
    v.flush();
    return Status::InvalidArgument(to_string(v.errors().front()));
  }

  // Every resource reads on its own; the whole pipeline once more, for what
  // only the whole can show (and the RelayConfig itself).
  toml::table root;
  root.insert_or_assign("sources", std::move(p.sources));
  root.insert_or_assign("sinks", std::move(p.sinks));
  root.insert_or_assign("routes", std::move(p.routes));
  ConfigReadOptions options;
  options.fill_defaults = false;
  ConfigError error;
  auto read = read_config(root, "state", options, &error);
  if (!read) {
    FieldError e{"state", error.path, error.message};
    const std::pair<const char*, const std::vector<std::string>*> lists[] = {
        {"sources", &p.source_ids}, {"sinks", &p.sink_names}, {"routes", &p.route_ids}};
    for (const auto& [kind, ids] : lists) {
      std::string prefix = std::string(kind) + "[";
      if (error.path.compare(0, prefix.size(), prefix) != 0) continue;
      std::size_t index = std::strtoul(error.path.c_str() + prefix.size(), nullptr, 10);
      if (index < ids->size()) {
        e.resource = resource_name(kind, (*ids)[index]);
        e.field = Validator::strip_index(error.path, kind);
      }
    }
    if (errors) errors->push_back(e);
    return Status::InvalidArgument(to_string(e));
  }
  RelayConfig config = base;
  config.sources = std::move(read->sources);
  config.sinks = std::move(read->sinks);
  for (auto& sink : config.sinks) sink.type_origin.clear();
  config.routes = std::move(read->routes);
  config.suppressed_user_ids = std::move(suppressed);
  return config;
}

}  // namespace

Result<RelayConfig> to_relay_config(const State& state, const RelayConfig& base,
                                    std::vector<FieldError>* errors) {
  // A valid state (the common case: every apply on every relay) is read
  // whole, once. Only a state that fails is read again resource by resource,
  // so that every resource's errors are named.
  auto fast = convert(state, base, nullptr, /*read_each=*/false);
  if (fast) return fast;
  return convert(state, base, errors, /*read_each=*/true);
}

State state_from_config(const RelayConfig& config, std::string_view now) {
  State state;
  for (const SourceConfig& s : config.sources) {
    Json keys = Json::array();
    for (const std::string& key : s.write_keys) {
      keys.push_back(
          {{"id", "wk_" + sha256_hex(key).substr(0, 12)}, {"key", key}, {"created_at", now}});
    }
    state.sources.push_back({{"id", s.id},
                             {"ack_mode", ack_mode_name(s.ack_mode)},
                             {"rate_limit_eps", s.rate_limit_eps},
                             {"rate_limit_burst", s.rate_limit_burst},
                             {"dedup_window", duration_text(s.dedup_window)},
                             {"dedup_max_entries", s.dedup_max_entries},
                             {"settings", settings_json(s.settings)},
                             {"write_keys", std::move(keys)},
                             {"revision", 0}});
  }
  const SinkConfig defaults;
  for (const SinkConfig& s : config.sinks) {
    Json sink = {{"name", s.name}, {"type", s.type}};
    // Only what differs from the defaults, as a config file would say it.
    if (s.batch_max_events != defaults.batch_max_events) {
      sink["batch_max_events"] = s.batch_max_events;
    }
    if (s.batch_max_bytes != defaults.batch_max_bytes) {
      sink["batch_max_bytes"] = size_json(s.batch_max_bytes);
    }
    if (s.batch_linger != defaults.batch_linger)
      sink["batch_linger"] = duration_text(s.batch_linger);
    if (s.backoff_base != defaults.backoff_base)
      sink["backoff_base"] = duration_text(s.backoff_base);
    if (s.backoff_max != defaults.backoff_max) sink["backoff_max"] = duration_text(s.backoff_max);
    if (!s.dead_letter_path.empty()) sink["dead_letter_path"] = s.dead_letter_path;
    for (const auto& [key, text] : s.settings) sink[key] = setting_json(text);
    sink["revision"] = 0;
    state.sinks.push_back(std::move(sink));
  }
  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    const RouteConfig& r = config.routes[i];
    state.routes.push_back({{"id", "rt_" + std::to_string(i + 1)},
                            {"sources", r.sources},
                            {"types", r.types},
                            {"sinks", r.sinks},
                            {"revision", 0}});
  }
  for (const std::string& user : config.suppressed_user_ids) {
    state.suppressions.push_back(
        {{"user_id", user}, {"reason", ""}, {"created_at", now}, {"revision", 0}});
  }
  return state;
}

// ---------------------------------------------------------------- diffs

std::vector<DiffEntry> diff(const State& from, const State& to) {
  std::vector<DiffEntry> out;
  for (const Kind& k : kKinds) {
    const Json& a = from.*(k.list);
    const Json& b = to.*(k.list);
    std::map<std::string, const Json*> old;
    for (const Json& o : a) old.emplace(identity(o, k.key), &o);
    std::set<std::string> kept;
    for (const Json& o : b) {
      std::string id = identity(o, k.key);
      std::string res = resource_name(k.name, id);
      kept.insert(id);
      auto it = old.find(id);
      if (it == old.end()) {
        out.push_back({"add", res, {}});
        continue;
      }
      Json x = without_revision(*it->second), y = without_revision(o);
      if (x == y) continue;
      std::set<std::string> fields;
      if (x.is_object() && y.is_object()) {
        for (const auto& [key, value] : x.items()) {
          if (!y.contains(key) || y[key] != value) fields.insert(key);
        }
        for (const auto& [key, value] : y.items()) {
          if (!x.contains(key)) fields.insert(key);
        }
      }
      out.push_back({"change", res, {fields.begin(), fields.end()}});
    }
    for (const Json& o : a) {
      std::string id = identity(o, k.key);
      if (!kept.count(id)) out.push_back({"remove", resource_name(k.name, id), {}});
    }
  }
  return out;
}

Json diff_to_json(const std::vector<DiffEntry>& diff) {
  Json out = Json::array();
  for (const DiffEntry& e : diff) {
    out.push_back({{"op", e.op}, {"resource", e.resource}, {"fields", e.fields}});
  }
  return out;
}

std::string summarize(const std::vector<DiffEntry>& diff) {
  if (diff.empty()) return "no change";
  std::string out;
  for (const DiffEntry& e : diff) {
    if (!out.empty()) out += "; ";
    out += e.resource;
    out += e.op == "add" ? " added" : e.op == "remove" ? " removed" : " changed";
  }
  return out;
}

void stamp_revisions(const State& prev, State* next, int64_t rev) {
  for (const Kind& k : kKinds) {
    std::map<std::string, const Json*> old;
    for (const Json& o : prev.*(k.list)) old.emplace(identity(o, k.key), &o);
    for (Json& o : next->*(k.list)) {
      if (!o.is_object()) continue;
      auto it = old.find(identity(o, k.key));
      if (it != old.end() && without_revision(*it->second) == without_revision(o) &&
          it->second->contains("revision")) {
        o["revision"] = (*it->second)["revision"];
      } else {
        o["revision"] = rev;
      }
    }
  }
  next->revision = rev;
}

}  // namespace tern::relay::control
