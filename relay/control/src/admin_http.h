// The admin API's plumbing, apart from its operations (admin_api.cc): the
// one error shape (ApiError, thrown by fail()/invalid() and caught once in
// AdminApi::handle), JSON answers, query strings, opaque cursors and pages,
// entity tags, request bodies, and the JSON forms of store records. Private
// to relay/control.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control_state.h"
#include "control_store.h"
#include "http_message.h"
#include "tern/base/status.h"

namespace tern::relay::control::admin {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kPrefix = "/admin/v1";
constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 500;
constexpr std::size_t kMaxSettingsBytes = 64 * 1024;
enum Scope : unsigned { kScopeRead = 1, kScopeWrite = 2, kScopeRelay = 4, kScopeAll = 7 };
struct ApiError {
  ApiError(int s, std::string c, std::string m, std::string f = {}, Json d = nullptr)
      : status(s),
        code(std::move(c)),
        message(std::move(m)),
        field(std::move(f)),
        details(std::move(d)) {}
  int status;
  std::string code;
  std::string message;
  std::string field;
  Json details;
  std::vector<std::pair<std::string, std::string>> headers;  // Allow, Retry-After
};

[[noreturn]] void fail(int status, std::string code, std::string message, std::string field = {},
                       Json details = nullptr);

[[noreturn]] void invalid(std::string field, std::string message);

std::string dump(const Json& j);

std::string etag(int64_t revision);

HttpResponse json_response(int status, const Json& body);

HttpResponse empty_response(int status);

HttpResponse error_response(const ApiError& e);

std::string now_iso();

std::string percent_decode(std::string_view in);

std::string query_decode(std::string_view in);

struct Query {
  std::map<std::string, std::string> params;

  bool has(const std::string& name) const { return params.count(name) != 0; }
  std::string get(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
  // ?name, ?name=true, ?name=1 are true; absent, false or 0 are false.
  bool flag(const std::string& name) const {
    auto it = params.find(name);
    if (it == params.end()) return false;
    const std::string& v = it->second;
    if (v.empty() || v == "true" || v == "1") return true;
    if (v == "false" || v == "0") return false;
    invalid(name, "?" + name + "= must be true or false, not \"" + v + "\"");
  }
};

Query parse_query(std::string_view q);

std::string cursor_encode(std::string_view key);

std::string cursor_decode(const std::string& cursor);

std::size_t parse_limit(const Query& q);

std::optional<int64_t> parse_int(std::string_view s);

// "30s", "500ms", "2m", "30" (seconds).
std::optional<std::chrono::milliseconds> parse_wait(std::string_view s);

// An entity tag "N" (or W/"N"): N, or nullopt when it is not one of ours.
// `*` matches any revision and is returned as -1.
std::optional<int64_t> parse_etag(std::string_view tag);

bool valid_id(const std::string& id);

Json parse_body(const HttpRequest& req, bool optional = false);

Json* find_by(Json& arr, const char* key, std::string_view value);

const Json* find_by(const Json& arr, const char* key, std::string_view value);

void erase_by(Json& arr, const char* key, std::string_view value);

int64_t revision_of(const Json& obj);

Json errors_to_json(const std::vector<FieldError>& errors);

// Applies a merge patch at the top level: each key given replaces the stored
// one, null removes it.
void merge_top_level(Json* target, const Json& patch);

void require_string_array(const Json& obj, const char* key);

// A list page: `items` sorted by `key`; the cursor is the last key shown.
Json page(std::vector<Json> items, const char* key, const Query& q);

Json token_json(const TokenInfo& t);

Json relay_json(const RelayReport& r);

Json revision_json(const RevisionInfo& r);

Json audit_json(const AuditEntry& a);

template <typename T>
T must(Result<T> r) {
  if (!r.is_ok()) fail(500, "internal", "the control store failed: " + r.status().message());
  return std::move(r).value();
}

// Write keys as given in a request (strings or {"id","key","created_at"}),
// matched to `stored` by id, else by key value; the rest are added (a key
// value generated when none is given). Stored keys not given are dropped.
Json merge_write_keys(const Json& given, const Json* stored, const std::string& source,
                      const std::string& now);

Json new_write_key(const std::string& now);

void check_settings(const Json& source);

// A page of a list numbered newest first (revisions, audit entries):
// `fetch(before, n)` gives up to n items numbered below `before` (0: from the
// newest); the cursor is the number of the last item shown.
template <typename Fetch, typename ToJson, typename NumberOf>
Json numbered_page(const Query& q, Fetch fetch, ToJson to_json, NumberOf number_of) {
  const std::size_t limit = parse_limit(q);
  int64_t before = 0;
  if (!q.get("cursor").empty()) {
    auto n = parse_int(cursor_decode(q.get("cursor")));
    if (!n) invalid("cursor", "?cursor= is not a cursor this API gave");
    before = *n;
  }
  auto items = must(fetch(before, limit + 1));
  Json out = {{"items", Json::array()}};
  for (std::size_t i = 0; i < items.size() && i < limit; ++i)
    out["items"].push_back(to_json(items[i]));
  if (items.size() > limit)
    out["next_cursor"] = cursor_encode(std::to_string(number_of(items[limit - 1])));
  return out;
}

}  // namespace tern::relay::control::admin
