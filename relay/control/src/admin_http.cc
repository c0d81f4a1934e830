// The admin API's plumbing (admin_http.h).
#include "admin_http.h"

#include "tern/base/base64.h"
#include "tern/base/iso8601.h"

namespace tern::relay::control::admin {

void fail(int status, std::string code, std::string message, std::string field, Json details) {
  throw ApiError{status, std::move(code), std::move(message), std::move(field), std::move(details)};
}

void invalid(std::string field, std::string message) {
  fail(422, "invalid_field", std::move(message), std::move(field));
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string etag(int64_t revision) { return "\"" + std::to_string(revision) + "\""; }

HttpResponse json_response(int status, const Json& body) {
  HttpResponse r;
  r.status = status;
  r.body = dump(body);
  return r;
}

HttpResponse empty_response(int status) {
  HttpResponse r;
  r.status = status;
  r.content_type.clear();
  return r;
}

HttpResponse error_response(const ApiError& e) {
  Json err = {{"code", e.code}, {"message", e.message}};
  if (!e.field.empty()) err["field"] = e.field;
  if (e.details.is_array() && !e.details.empty()) err["details"] = e.details;
  HttpResponse r = json_response(e.status, Json{{"error", err}});
  r.headers = e.headers;
  return r;
}

std::string now_iso() { return base::format_iso8601_ms(std::chrono::system_clock::now()); }

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::string query_decode(std::string_view in) {
  std::string s(in);
  std::replace(s.begin(), s.end(), '+', ' ');
  return percent_decode(s);
}

Query parse_query(std::string_view q) {
  Query out;
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    std::string key = query_decode(part.substr(0, eq));
    std::string value =
        eq == std::string_view::npos ? std::string() : query_decode(part.substr(eq + 1));
    out.params[key] = value;
  }
  return out;
}

std::string cursor_encode(std::string_view key) {
  std::string b = base::base64_encode(key);
  for (char& c : b) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!b.empty() && b.back() == '=') b.pop_back();
  return b;
}

std::string cursor_decode(const std::string& cursor) {
  std::string out;
  if (!base::base64_decode(cursor, &out))
    invalid("cursor", "?cursor= is not a cursor this API gave");
  return out;
}

std::size_t parse_limit(const Query& q) {
  if (!q.has("limit")) return kDefaultLimit;
  const std::string v = q.get("limit");
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 1 || n > static_cast<long>(kMaxLimit)) {
    invalid("limit", "?limit= must be a whole number from 1 to " + std::to_string(kMaxLimit));
  }
  return static_cast<std::size_t>(n);
}

std::optional<int64_t> parse_int(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<std::chrono::milliseconds> parse_wait(std::string_view s) {
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  auto n = parse_int(s.substr(0, digits));
  if (!n) return std::nullopt;
  std::string_view unit = s.substr(digits);
  if (unit.empty() || unit == "s") return std::chrono::milliseconds(*n * 1000);
  if (unit == "ms") return std::chrono::milliseconds(*n);
  if (unit == "m") return std::chrono::milliseconds(*n * 60'000);
  return std::nullopt;
}

std::optional<int64_t> parse_etag(std::string_view tag) {
  while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
  while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
  if (tag == "*") return -1;
  if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
  if (tag.size() < 3 || tag.front() != '"' || tag.back() != '"') return std::nullopt;
  return parse_int(tag.substr(1, tag.size() - 2));
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Json parse_body(const HttpRequest& req, bool optional) {
  if (req.body.empty() && optional) return Json::object();
  Json j = Json::parse(req.body, nullptr, false);
  if (j.is_discarded()) fail(400, "invalid_json", "the request body is not valid JSON");
  if (!j.is_object()) fail(400, "invalid_json", "the request body must be a JSON object");
  return j;
}

Json* find_by(Json& arr, const char* key, std::string_view value) {
  for (auto& item : arr) {
    if (item.is_object() && item.contains(key) && item[key].is_string() &&
        item[key].get_ref<const std::string&>() == value) {
      return &item;
    }
  }
  return nullptr;
}

const Json* find_by(const Json& arr, const char* key, std::string_view value) {
  return find_by(const_cast<Json&>(arr), key, value);
}

void erase_by(Json& arr, const char* key, std::string_view value) {
  for (auto it = arr.begin(); it != arr.end(); ++it) {
    if (it->is_object() && it->contains(key) && (*it)[key].is_string() &&
        (*it)[key].get_ref<const std::string&>() == value) {
      arr.erase(it);
      return;
    }
  }
}

int64_t revision_of(const Json& obj) {
  auto it = obj.find("revision");
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

Json errors_to_json(const std::vector<FieldError>& errors) {
  Json out = Json::array();
  for (const auto& e : errors) {
    Json j = {{"resource", e.resource}, {"message", e.message}};
    if (!e.field.empty()) j["field"] = e.field;
    out.push_back(std::move(j));
  }
  return out;
}

void merge_top_level(Json* target, const Json& patch) {
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.key() == "revision") continue;
    if (it->is_null()) {
      target->erase(it.key());
    } else {
      (*target)[it.key()] = *it;
    }
  }
}

void require_string_array(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return;
  bool ok = it->is_array() &&
            std::all_of(it->begin(), it->end(), [](const Json& v) { return v.is_string(); });
  if (!ok) invalid(key, std::string(key) + ": must be an array of strings");
}

Json page(std::vector<Json> items, const char* key, const Query& q) {
  std::size_t limit = parse_limit(q);
  std::string after;
  bool has_after = q.has("cursor") && !q.get("cursor").empty();
  if (has_after) after = cursor_decode(q.get("cursor"));
  std::sort(items.begin(), items.end(), [key](const Json& a, const Json& b) {
    return a.value(key, std::string()) < b.value(key, std::string());
  });
  Json out = {{"items", Json::array()}};
  for (auto& item : items) {
    std::string k = item.value(key, std::string());
    if (has_after && k <= after) continue;
    if (out["items"].size() == limit) {
      out["next_cursor"] = cursor_encode(out["items"].back().value(key, std::string()));
      break;
    }
    out["items"].push_back(std::move(item));
  }
  return out;
}

Json token_json(const TokenInfo& t) {
  return {{"id", t.id}, {"name", t.name}, {"scopes", t.scopes}, {"created_at", t.created_at}};
}

Json relay_json(const RelayReport& r) {
  return {{"relay_id", r.relay_id}, {"labels", r.labels}, {"applied_revision", r.applied_revision},
          {"status", r.status},     {"errors", r.errors}, {"last_seen", r.last_seen},
          {"version", r.version}};
}

Json revision_json(const RevisionInfo& r) {
  return {{"revision", r.revision},
          {"created_at", r.created_at},
          {"token_id", r.token_id},
          {"summary", r.summary}};
}

Json audit_json(const AuditEntry& a) {
  return {{"seq", a.seq},           {"at", a.at},
          {"token_id", a.token_id}, {"action", a.action},
          {"resource", a.resource}, {"revision", a.revision},
          {"diff", a.diff}};
}

Json merge_write_keys(const Json& given, const Json* stored, const std::string& source,
                      const std::string& now) {
  if (!given.is_array())
    invalid("write_keys", "sources/" + source + ": write_keys must be an array");
  Json out = Json::array();
  for (const auto& g : given) {
    Json k;
    if (g.is_string()) {
      k = {{"key", g}};
    } else if (g.is_object()) {
      k = g;
    } else {
      invalid("write_keys",
              "sources/" + source + ": each write key is a string or {\"id\", \"key\"} object");
    }
    const Json* match = nullptr;
    if (stored) {
      if (k.contains("id") && k["id"].is_string()) {
        match = find_by(*stored, "id", k["id"].get<std::string>());
      }
      if (!match && k.contains("key") && k["key"].is_string()) {
        match = find_by(*stored, "key", k["key"].get<std::string>());
      }
    }
    if (match) {
      out.push_back(*match);
      continue;
    }
    if (k.contains("key") && !k["key"].is_string()) {
      invalid("write_keys", "sources/" + source + ": a write key's key must be a string");
    }
    Json n = {{"id", k.contains("id") && k["id"].is_string() ? k["id"].get<std::string>()
                                                             : random_secret("wk_")},
              {"key", k.contains("key") ? k["key"].get<std::string>() : random_secret("tk_live_")},
              {"created_at", k.contains("created_at") && k["created_at"].is_string()
                                 ? k["created_at"].get<std::string>()
                                 : now}};
    out.push_back(std::move(n));
  }
  return out;
}

Json new_write_key(const std::string& now) {
  return {{"id", random_secret("wk_")}, {"key", random_secret("tk_live_")}, {"created_at", now}};
}

void check_settings(const Json& source) {
  auto it = source.find("settings");
  if (it == source.end()) return;
  if (!it->is_object()) invalid("settings", "settings: must be a JSON object");
  if (dump(*it).size() > kMaxSettingsBytes) invalid("settings", "settings: at most 64 KiB");
}

}  // namespace tern::relay::control::admin
