// Implementation of admin_api.h. Each request is routed to one operation of
// relay/control/openapi.json; handlers build the next state from the head,
// and run_mutation() validates, guards, applies, commits and audits it.
// Handlers report errors by throwing ApiError, caught once in handle().
//
// Why this file stays whole (about 1,300 lines): every operation is a member
// of one Impl that owns what they share — the mutation path (one lock,
// validate, guards, apply, commit, audit, wake the long polls), the
// authentication state and its rate limit, and the long-poll waiters with
// their timer thread. Splitting the operations across files would put that
// struct in a header for no reader's benefit; what does not need it (errors,
// queries, cursors, pages, JSON forms) is in admin_http.{h,cc}.
#include "admin_api.h"

#include "admin_console.h"
#include "admin_http.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tern/base/base64.h"
#include "tern/base/iso8601.h"
#include "tern/relay/log.h"

namespace tern::relay::control {

// Defined in the generated source (CMake embeds relay/control/openapi.json).
extern const char* const kOpenApiDocument;

using namespace admin;

struct AdminApi::Impl {
  ControlStore* store;
  Applier* applier;
  Metrics* metrics;
  AdminOptions options;
  ConsoleServices console;
  Counter* auth_failures;

  std::mutex auth_mu;
  std::string bootstrap_hash;
  std::unordered_map<std::string, std::deque<Clock::time_point>> failures;  // by peer address

  std::mutex mutation_mu;  // serialises every mutation

  struct Poll {
    int64_t after;
    Clock::time_point deadline;
    Respond respond;
  };
  std::mutex poll_mu;
  std::condition_variable poll_cv;
  std::vector<Poll> polls;
  bool stopping = false;
  std::thread timer;

  struct Principal {
    std::string token_id;
    unsigned scopes = 0;
  };

  struct Call {
    const HttpRequest& req;
    std::vector<std::string> segs;  // path segments after /admin/v1, decoded
    Query query;
    Principal who;
    bool dry_run = false;
    Respond respond;  // taken by the snapshot long poll, which answers later
  };

  Impl(ControlStore* s, Applier* a, Metrics* m, AdminOptions o)
      : store(s), applier(a), metrics(m), options(std::move(o)) {
    auth_failures = &metrics->counter("tern_relay_admin_auth_failures_total", "",
                                      "Admin API requests with a missing or unknown token");
    timer = std::thread([this] { timer_loop(); });
  }

  ~Impl() {
    std::vector<Poll> pending;
    {
      std::lock_guard<std::mutex> lk(poll_mu);
      stopping = true;
      pending.swap(polls);
    }
    poll_cv.notify_all();
    if (timer.joinable()) timer.join();
    for (auto& p : pending) p.respond(not_modified(p.after));
  }

  // ---------------------------------------------------------------- auth

  Principal authenticate(const HttpRequest& req) {
    const auto now = Clock::now();
    {
      std::lock_guard<std::mutex> lk(auth_mu);
      auto it = failures.find(req.peer_ip);
      if (it != failures.end()) {
        auto& dq = it->second;
        while (!dq.empty() && now - dq.front() >= std::chrono::minutes(1)) dq.pop_front();
        if (dq.empty()) {
          failures.erase(it);
        } else if (options.auth_failures_per_minute > 0 &&
                   static_cast<int>(dq.size()) >= options.auth_failures_per_minute) {
          auto wait = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::minutes(1) -
                                                                       (now - dq.front()))
                          .count() +
                      1;
          ApiError e{429, "rate_limited",
                     "too many failed authentications from this address; retry in " +
                         std::to_string(wait) + " s",
                     "", nullptr};
          e.headers.emplace_back("Retry-After", std::to_string(wait));
          throw e;
        }
      }
    }
    std::string_view auth = req.authorization;
    std::string token;
    if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) {
      token = std::string(auth.substr(7));
      while (!token.empty() && token.back() == ' ') token.pop_back();
    }
    if (!token.empty()) {
      const std::string hash = sha256_hex(token);
      {
        std::lock_guard<std::mutex> lk(auth_mu);
        if (!bootstrap_hash.empty() && hash == bootstrap_hash) return {"bootstrap", kScopeAll};
      }
      auto found = must(store->find_token(hash));
      if (found) {
        unsigned scopes = 0;
        for (const auto& s : found->scopes) {
          if (s == "read") scopes |= kScopeRead;
          if (s == "write") scopes |= kScopeRead | kScopeWrite;
          if (s == "relay") scopes |= kScopeRelay;
        }
        return {found->id, scopes};
      }
    }
    auth_failures->inc();
    {
      std::lock_guard<std::mutex> lk(auth_mu);
      if (failures.size() > 10'000) failures.clear();  // a bound on memory, not a policy
      failures[req.peer_ip].push_back(now);
    }
    ApiError e(401, "unauthenticated",
               token.empty() ? "send the admin token as \"Authorization: Bearer <token>\""
                             : "the admin token is not known (revoked, or mistyped)");
    e.headers.emplace_back("WWW-Authenticate",
                           token.empty() ? "Bearer realm=\"tern-admin\""
                                         : "Bearer realm=\"tern-admin\", error=\"invalid_token\"");
    throw e;
  }

  static void require(const Call& c, unsigned scope) {
    if ((c.who.scopes & scope) == 0) {
      const char* name = scope == kScopeRelay ? "relay" : scope == kScopeWrite ? "write" : "read";
      fail(403, "forbidden",
           std::string("this token lacks the \"") + name + "\" scope this operation needs");
    }
  }

  void refuse_if_managed() const {
    if (!options.control_url.empty()) {
      fail(409, "managed_by_control_plane",
           "this relay follows the control plane at " + options.control_url +
               "; make the change there");
    }
  }

  // ------------------------------------------------------------ routing

  // The answer, or nullopt when the call took c.respond to answer later.
  std::optional<HttpResponse> dispatch(Call& c) {
    const std::string& m = c.req.method;
    auto& s = c.segs;
    auto allow = [&](std::initializer_list<const char*> methods) {
      for (const char* x : methods) {
        if (m == x) return;
      }
      std::string list;
      for (const char* x : methods) list += (list.empty() ? "" : ", ") + std::string(x);
      ApiError e{405, "method_not_allowed", m + " is not allowed here; use " + list, "", nullptr};
      e.headers.emplace_back("Allow", list);
      throw e;
    };
    auto not_found = [&]() -> std::optional<HttpResponse> {
      fail(404, "not_found", "no such path: " + std::string(kPrefix) + path_text(s));
    };
    if (s.size() == 1 && s[0] == "openapi.json") {
      allow({"GET"});
      HttpResponse r;
      r.body = kOpenApiDocument;
      return r;
    }
    if (s.empty()) return not_found();

    // Everything below needs a token; unknown paths are 404 first.
    const std::string& kind = s[0];
    std::function<HttpResponse()> op;
    unsigned scope = kScopeRead;
    bool mutation = m != "GET";

    if (kind == "tokens") {
      if (s.size() == 1) {
        allow({"GET", "POST"});
        op = m == "GET" ? std::function<HttpResponse()>([&] { return list_tokens(c); })
                        : [&] { return create_token(c); };
      } else if (s.size() == 2) {
        allow({"DELETE"});
        op = [&] { return delete_token(c, s[1]); };
      }
      scope = kScopeWrite;  // listing tokens too
    } else if (kind == "sources") {
      if (s.size() == 1) {
        allow({"GET", "POST"});
        op = m == "GET" ? std::function<HttpResponse()>([&] { return list_sources(c); })
                        : [&] { return create_source(c); };
      } else if (s.size() == 2) {
        allow({"GET", "PATCH", "DELETE"});
        if (m == "GET") op = [&] { return get_source(c, s[1]); };
        if (m == "PATCH") op = [&] { return patch_source(c, s[1]); };
        if (m == "DELETE") op = [&] { return delete_source(c, s[1]); };
      } else if (s.size() == 3 && s[2] == "write-keys") {
        allow({"POST"});
        op = [&] { return create_write_key(c, s[1]); };
      } else if (s.size() == 4 && s[2] == "write-keys") {
        allow({"DELETE"});
        op = [&] { return delete_write_key(c, s[1], s[3]); };
      }
    } else if (kind == "sinks") {
      if (s.size() == 1) {
        allow({"GET", "POST"});
        op = m == "GET" ? std::function<HttpResponse()>([&] { return list_sinks(c); })
                        : [&] { return create_sink(c); };
      } else if (s.size() == 2 && ends_with(s[1], ":test")) {
        allow({"POST"});
        mutation = false;
        op = [&] { return test_sink(c, s[1].substr(0, s[1].size() - 5)); };
        scope = kScopeWrite;
      } else if (s.size() == 3 && s[2] == "dead-letters") {
        allow({"GET"});
        op = [&] { return dead_letters_response(console.pipeline, s[1], c.query); };
      } else if (s.size() == 2) {
        allow({"GET", "PUT", "PATCH", "DELETE"});
        if (m == "GET") op = [&] { return get_sink(c, s[1]); };
        if (m == "PUT") op = [&] { return put_sink(c, s[1], false); };
        if (m == "PATCH") op = [&] { return put_sink(c, s[1], true); };
        if (m == "DELETE") op = [&] { return delete_sink(c, s[1]); };
      }
    } else if (kind == "routes") {
      if (s.size() == 1) {
        allow({"GET", "POST"});
        op = m == "GET" ? std::function<HttpResponse()>([&] { return list_routes(c); })
                        : [&] { return create_route(c); };
      } else if (s.size() == 2) {
        allow({"GET", "PUT", "PATCH", "DELETE"});
        if (m == "GET") op = [&] { return get_route(c, s[1]); };
        if (m == "PUT") op = [&] { return put_route(c, s[1], false); };
        if (m == "PATCH") op = [&] { return put_route(c, s[1], true); };
        if (m == "DELETE") op = [&] { return delete_route(c, s[1]); };
      }
    } else if (kind == "suppressions") {
      if (s.size() == 1) {
        allow({"GET", "POST"});
        op = m == "GET" ? std::function<HttpResponse()>([&] { return list_suppressions(c); })
                        : [&] { return create_suppression(c); };
      } else if (s.size() == 2) {
        allow({"GET", "DELETE"});
        if (m == "GET") op = [&] { return get_suppression(c, s[1]); };
        if (m == "DELETE") op = [&] { return delete_suppression(c, s[1]); };
      }
    } else if (kind == "state") {
      if (s.size() == 1) {
        allow({"GET", "PUT"});
        op = m == "GET" ? std::function<HttpResponse()>([&] { return get_state(c); })
                        : [&] { return put_state(c); };
      }
    } else if (kind == "revisions") {
      if (s.size() == 1) {
        allow({"GET"});
        op = [&] { return list_revisions(c); };
      } else if (s.size() == 2 && ends_with(s[1], ":restore")) {
        allow({"POST"});
        op = [&] { return restore_revision(c, s[1].substr(0, s[1].size() - 8)); };
      } else if (s.size() == 2) {
        allow({"GET"});
        op = [&] { return get_revision(c, s[1]); };
      }
    } else if (kind == "audit") {
      if (s.size() == 1) {
        allow({"GET"});
        op = [&] { return list_audit(c); };
      }
    } else if (kind == "tap") {
      if (s.size() == 1) {
        allow({"GET"});
        op = [&] { return tap_response(console.tap, c.query); };
      }
    } else if (kind == "overview") {
      if (s.size() == 1) {
        allow({"GET"});
        op = [&] { return overview_response(console.stats); };
      }
    } else if (kind == "relays") {
      if (s.size() == 1) {
        allow({"GET"});
        op = [&] { return list_relays(c); };
      }
    } else if (kind == "fleet") {
      if (s.size() == 2 && s[1] == "snapshot") {
        allow({"GET"});
        c.who = authenticate(c.req);
        require(c, kScopeRelay);
        return snapshot(c);
      }
      if (s.size() == 2 && s[1] == "reports") {
        allow({"POST"});
        scope = kScopeRelay;
        mutation = false;
        op = [&] { return post_report(c); };
      }
    }
    // 404 and 405 first (they disclose nothing the public document does
    // not); then 401/403/429 before anything else.
    if (!op) return not_found();
    if (mutation && scope == kScopeRead) scope = kScopeWrite;
    c.who = authenticate(c.req);
    require(c, scope);
    if (mutation) {
      refuse_if_managed();
      c.dry_run = c.query.flag("dry_run");
    }
    return op();
  }

  static bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() > suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
  }

  static std::string path_text(const std::vector<std::string>& segs) {
    std::string out;
    for (const auto& s : segs) out += "/" + s;
    return out;
  }

  // -------------------------------------------------------- conditions

  static void check_if_match(const Call& c, int64_t current) {
    if (c.req.if_match.empty()) return;
    std::string_view list = c.req.if_match;
    while (!list.empty()) {
      std::size_t comma = list.find(',');
      auto tag = parse_etag(list.substr(0, comma));
      if (tag && (*tag == -1 || *tag == current)) return;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    fail(412, "revision_mismatch",
         "changed since you read it: it is at revision " + std::to_string(current) + " (ETag " +
             etag(current) + "), not " + c.req.if_match + "; read it again and retry");
  }

  // ------------------------------------------------------- mutations

  struct Mutation {
    std::string action;    // "sinks.create"
    std::string resource;  // "sinks/archive"
    bool commit_unchanged = false;
    // Builds the next state from the head (both in clear); throws ApiError.
    std::function<void(const State& head, State* next)> build;
    // The answer after a commit (or for an unchanged state: the head).
    std::function<HttpResponse(const State& committed)> answer;
  };

  HttpResponse run_mutation(const Call& c, Mutation m) {
    std::lock_guard<std::mutex> lk(mutation_mu);
    const State head = must(store->head());
    State next = head;
    m.build(head, &next);
    const std::vector<DiffEntry> changes = diff(head, next);
    State candidate = next;
    stamp_revisions(head, &candidate, head.revision + 1);

    std::vector<FieldError> errors;
    const bool valid = applier->validate(candidate, &errors);

    // Guards: sinks removed with events not delivered, and mass removals.
    std::vector<std::pair<std::string, uint64_t>> discards;
    std::vector<FieldError> guard_errors;
    std::optional<ApiError> guard;
    const bool discard = c.query.flag("discard");
    const bool force = c.query.flag("force");
    std::size_t removed_sources = 0, removed_sinks = 0;
    for (const auto& e : changes) {
      if (e.op != "remove") continue;
      if (e.resource.rfind("sources/", 0) == 0) ++removed_sources;
      if (e.resource.rfind("sinks/", 0) == 0) {
        ++removed_sinks;
        std::string name = e.resource.substr(6);
        uint64_t n = applier->undelivered(name);
        if (n == 0) continue;
        discards.emplace_back(name, n);
        if (!discard) {
          std::string msg = "sink \"" + name + "\" has " + std::to_string(n) +
                            " events not delivered yet; add ?discard=true to delete it "
                            "and discard them";
          guard_errors.push_back({e.resource, "", msg});
          if (!guard) guard = ApiError{409, "unread_events", msg, "", nullptr};
        }
      }
    }
    auto too_many = [](std::size_t removed, std::size_t total) {
      return total >= 2 && removed * 2 > total;
    };
    if (!force && (too_many(removed_sources, head.sources.size()) ||
                   too_many(removed_sinks, head.sinks.size()))) {
      std::string msg = "this change removes " + std::to_string(removed_sources) + " of " +
                        std::to_string(head.sources.size()) + " sources and " +
                        std::to_string(removed_sinks) + " of " + std::to_string(head.sinks.size()) +
                        " sinks (more than half); add ?force=true if that is meant";
      guard_errors.push_back({"state", "", msg});
      if (!guard) guard = ApiError{409, "too_destructive", msg, "", nullptr};
    }

    if (c.dry_run) {
      Json errs = errors_to_json(errors);
      for (const auto& g : errors_to_json(guard_errors)) errs.push_back(g);
      return json_response(200, Json{{"dry_run", true},
                                     {"valid", valid && guard_errors.empty()},
                                     {"errors", errs},
                                     {"diff", diff_to_json(changes)}});
    }
    if (!valid) {
      if (errors.empty()) errors.push_back({"state", "", "the state is not valid"});
      const FieldError& first = errors.front();
      std::string msg = first.message;
      if (!first.resource.empty() && msg.find(first.resource) == std::string::npos) {
        msg = first.resource + ": " + msg;
      }
      fail(422, "invalid_field", msg, first.field, errors_to_json(errors));
    }
    if (guard) throw *guard;
    if (changes.empty() && !m.commit_unchanged) return m.answer(head);

    Status applied = applier->apply(candidate);
    if (!applied.is_ok()) {
      log::error("admin: the change could not be applied; nothing was committed",
                 {{"action", m.action},
                  {"resource", m.resource},
                  {"revision", candidate.revision},
                  {"token_id", c.who.token_id},
                  {"error", applied.message()}});
      fail(422, "apply_failed",
           "the change is valid but the relay could not apply it (nothing was committed): " +
               applied.message());
    }
    const std::string now = now_iso();
    AuditEntry audit;
    audit.at = now;
    audit.token_id = c.who.token_id;
    audit.action = m.action;
    audit.resource = m.resource;
    audit.diff = diff_to_json(changes);
    auto committed =
        store->commit(head.revision, next, c.who.token_id, summarize(changes), {audit}, now);
    if (!committed.is_ok()) {
      // Put back what the store holds now, so the relay runs what it says.
      auto current = store->head();
      if (current.is_ok() && current->revision > 0) {
        Status back = applier->apply(*current);
        if (!back.is_ok()) {
          log::error("admin: could not put the committed revision back after a failed commit",
                     {{"revision", current->revision}, {"error", back.message()}});
        }
      }
      log::error("admin: the change was applied but not committed; it was undone",
                 {{"action", m.action}, {"error", committed.status().message()}});
      if (committed.status().code() == StatusCode::kAborted) {
        fail(412, "revision_mismatch",
             "another change was committed at the same time; read again and retry");
      }
      fail(500, "internal", "the control store failed: " + committed.status().message());
    }
    for (const auto& [name, n] : discards) applier->count_discarded(name, n);
    log::info("admin: revision committed", {{"revision", committed->revision},
                                            {"action", m.action},
                                            {"resource", m.resource},
                                            {"token_id", c.who.token_id}});
    wake_polls();
    return m.answer(*committed);
  }

  // --------------------------------------------------------- tokens

  HttpResponse list_tokens(const Call& c) {
    std::vector<Json> items;
    for (const auto& t : must(store->tokens())) items.push_back(token_json(t));
    return json_response(200, page(std::move(items), "id", c.query));
  }

  HttpResponse create_token(const Call& c) {
    Json body = parse_body(c.req);
    if (!body.contains("name") || !body["name"].is_string() ||
        body["name"].get<std::string>().empty() || body["name"].get<std::string>().size() > 128) {
      invalid("name", "name: a string of 1 to 128 characters is required");
    }
    if (!body.contains("scopes") || !body["scopes"].is_array() || body["scopes"].empty()) {
      invalid("scopes", "scopes: a non-empty array of \"read\", \"write\", \"relay\" is required");
    }
    TokenInfo info;
    info.name = body["name"].get<std::string>();
    for (const auto& s : body["scopes"]) {
      std::string v = s.is_string() ? s.get<std::string>() : std::string();
      unsigned need = v == "read"    ? unsigned{kScopeRead}
                      : v == "write" ? unsigned{kScopeWrite}
                      : v == "relay" ? unsigned{kScopeRelay}
                                     : 0u;
      if (need == 0) invalid("scopes", "scopes: \"" + v + "\" is not read, write or relay");
      if ((c.who.scopes & need) == 0) {
        fail(403, "forbidden",
             "a token can only create tokens with scopes it has itself (\"" + v + "\")", "scopes");
      }
      if (std::find(info.scopes.begin(), info.scopes.end(), v) == info.scopes.end()) {
        info.scopes.push_back(v);
      }
    }
    for (auto it = body.begin(); it != body.end(); ++it) {
      if (it.key() != "name" && it.key() != "scopes") invalid(it.key(), it.key() + ": unknown key");
    }
    info.id = random_secret("tok_");
    Json diff_json = Json::array({Json{{"op", "add"}, {"resource", "tokens/" + info.id}}});
    if (c.dry_run) {
      return json_response(
          200,
          Json{{"dry_run", true}, {"valid", true}, {"errors", Json::array()}, {"diff", diff_json}});
    }
    std::lock_guard<std::mutex> lk(mutation_mu);
    const std::string value = random_secret("tat_");
    info.created_at = now_iso();
    Status s = store->add_token(info, sha256_hex(value));
    if (!s.is_ok()) fail(500, "internal", "the control store failed: " + s.message());
    AuditEntry audit;
    audit.at = info.created_at;
    audit.token_id = c.who.token_id;
    audit.action = "tokens.create";
    audit.resource = "tokens/" + info.id;
    audit.diff = diff_json;
    (void)store->append_audit(std::move(audit));
    Json out = token_json(info);
    out["token"] = value;
    HttpResponse r = json_response(201, out);
    r.headers.emplace_back("Location", std::string(kPrefix) + "/tokens/" + info.id);
    return r;
  }

  HttpResponse delete_token(const Call& c, const std::string& id) {
    bool exists = false;
    for (const auto& t : must(store->tokens())) exists |= t.id == id;
    if (!exists) fail(404, "not_found", "no token \"" + id + "\"");
    Json diff_json = Json::array({Json{{"op", "remove"}, {"resource", "tokens/" + id}}});
    if (c.dry_run) {
      return json_response(
          200,
          Json{{"dry_run", true}, {"valid", true}, {"errors", Json::array()}, {"diff", diff_json}});
    }
    std::lock_guard<std::mutex> lk(mutation_mu);
    Status s = store->delete_token(id);
    if (s.code() == StatusCode::kNotFound) fail(404, "not_found", "no token \"" + id + "\"");
    if (!s.is_ok()) fail(500, "internal", "the control store failed: " + s.message());
    AuditEntry audit;
    audit.at = now_iso();
    audit.token_id = c.who.token_id;
    audit.action = "tokens.delete";
    audit.resource = "tokens/" + id;
    audit.diff = diff_json;
    (void)store->append_audit(std::move(audit));
    return empty_response(204);
  }

  // -------------------------------------------------- single objects

  static HttpResponse object_response(int status, Json obj) {
    int64_t rev = revision_of(obj);
    HttpResponse r = json_response(status, obj);
    r.headers.emplace_back("ETag", etag(rev));
    return r;
  }

  static const Json& must_find(const Json& arr, const char* key, const std::string& id,
                               const char* what) {
    const Json* o = find_by(arr, key, id);
    if (!o) fail(404, "not_found", std::string("no ") + what + " \"" + id + "\"");
    return *o;
  }

  // --------------------------------------------------------- sources

  HttpResponse list_sources(const Call& c) {
    State head = must(store->head());
    return json_response(200, page({head.sources.begin(), head.sources.end()}, "id", c.query));
  }

  HttpResponse get_source(const Call&, const std::string& id) {
    State head = must(store->head());
    return object_response(200, must_find(head.sources, "id", id, "source"));
  }

  static void check_source_fields(const Json& src) {
    check_settings(src);
    if (src.contains("ack_mode")) {
      const Json& a = src["ack_mode"];
      if (!a.is_string() || (a != "local" && a != "sink" && a != "memory")) {
        invalid("ack_mode", "ack_mode: must be \"local\", \"sink\" or \"memory\"");
      }
    }
  }

  HttpResponse create_source(const Call& c) {
    Json body = parse_body(c.req);
    if (!body.contains("id") || !body["id"].is_string() ||
        !valid_id(body["id"].get<std::string>())) {
      invalid("id", "id: 1 to 64 characters of A-Z a-z 0-9 . _ - are required");
    }
    const std::string id = body["id"].get<std::string>();
    check_source_fields(body);
    Mutation m;
    m.action = "sources.create";
    m.resource = "sources/" + id;
    m.build = [&](const State& head, State* next) {
      if (find_by(head.sources, "id", id))
        fail(409, "already_exists", "source \"" + id + "\" exists", "id");
      const std::string now = now_iso();
      Json src = {{"id", id},
                  {"ack_mode", "local"},
                  {"rate_limit_eps", 0},
                  {"rate_limit_burst", 0},
                  {"dedup_window", "10m"},
                  {"dedup_max_entries", 1000000},
                  {"settings", Json::object()}};
      merge_top_level(&src, body);
      if (body.contains("write_keys") && !body["write_keys"].empty()) {
        src["write_keys"] = merge_write_keys(body["write_keys"], nullptr, id, now);
      } else {
        src["write_keys"] = Json::array({new_write_key(now)});
      }
      next->sources.push_back(std::move(src));
    };
    m.answer = [&](const State& st) {
      HttpResponse r = object_response(201, must_find(st.sources, "id", id, "source"));
      r.headers.emplace_back("Location", std::string(kPrefix) + "/sources/" + id);
      return r;
    };
    return run_mutation(c, std::move(m));
  }

  HttpResponse patch_source(const Call& c, const std::string& id) {
    Json body = parse_body(c.req);
    if (body.contains("id") && body["id"] != id) invalid("id", "id: cannot be changed");
    if (body.contains("write_keys")) {
      invalid("write_keys",
              "write_keys: use POST/DELETE /admin/v1/sources/" + id + "/write-keys to change keys");
    }
    check_source_fields(body);
    Mutation m;
    m.action = "sources.update";
    m.resource = "sources/" + id;
    m.build = [&](const State& head, State* next) {
      const Json& stored = must_find(head.sources, "id", id, "source");
      check_if_match(c, revision_of(stored));
      Json* src = find_by(next->sources, "id", id);
      merge_top_level(src, body);
      (*src)["id"] = id;
    };
    m.answer = [&](const State& st) {
      return object_response(200, must_find(st.sources, "id", id, "source"));
    };
    return run_mutation(c, std::move(m));
  }

  HttpResponse delete_source(const Call& c, const std::string& id) {
    Mutation m;
    m.action = "sources.delete";
    m.resource = "sources/" + id;
    m.build = [&](const State& head, State* next) {
      check_if_match(c, revision_of(must_find(head.sources, "id", id, "source")));
      erase_by(next->sources, "id", id);
    };
    m.answer = [](const State&) { return empty_response(204); };
    return run_mutation(c, std::move(m));
  }

  HttpResponse create_write_key(const Call& c, const std::string& id) {
    Json body = parse_body(c.req, /*optional=*/true);
    if (body.contains("key") &&
        (!body["key"].is_string() || body["key"].get<std::string>().empty())) {
      invalid("key", "key: must be a non-empty string");
    }
    Json created;
    Mutation m;
    m.action = "sources.write_keys.create";
    m.resource = "sources/" + id;
    m.build = [&](const State& head, State* next) {
      check_if_match(c, revision_of(must_find(head.sources, "id", id, "source")));
      created = new_write_key(now_iso());
      if (body.contains("key")) created["key"] = body["key"];
      Json* src = find_by(next->sources, "id", id);
      if (!(*src)["write_keys"].is_array()) (*src)["write_keys"] = Json::array();
      (*src)["write_keys"].push_back(created);
    };
    m.answer = [&](const State& st) {
      HttpResponse r = json_response(201, created);
      r.headers.emplace_back("ETag", etag(revision_of(must_find(st.sources, "id", id, "source"))));
      return r;
    };
    return run_mutation(c, std::move(m));
  }

  HttpResponse delete_write_key(const Call& c, const std::string& id, const std::string& key_id) {
    Mutation m;
    m.action = "sources.write_keys.delete";
    m.resource = "sources/" + id;
    m.build = [&](const State& head, State* next) {
      const Json& stored = must_find(head.sources, "id", id, "source");
      const Json keys = stored.value("write_keys", Json::array());
      if (!find_by(keys, "id", key_id)) {
        fail(404, "not_found", "source \"" + id + "\" has no write key \"" + key_id + "\"");
      }
      check_if_match(c, revision_of(stored));
      if (keys.size() == 1) {
        fail(409, "last_write_key",
             "the last write key of a source cannot be revoked; add another one first");
      }
      erase_by((*find_by(next->sources, "id", id))["write_keys"], "id", key_id);
    };
    m.answer = [](const State&) { return empty_response(204); };
    return run_mutation(c, std::move(m));
  }

  // ----------------------------------------------------------- sinks

  HttpResponse list_sinks(const Call& c) {
    State head = must(store->head());
    std::vector<Json> items;
    for (const auto& s : head.sinks) items.push_back(redact_sink(s));
    return json_response(200, page(std::move(items), "name", c.query));
  }

  HttpResponse get_sink(const Call&, const std::string& name) {
    State head = must(store->head());
    return object_response(200, redact_sink(must_find(head.sinks, "name", name, "sink")));
  }

  static void check_sink_fields(const Json& sink) {
    if (sink.contains("type") &&
        (!sink["type"].is_string() || sink["type"].get<std::string>().empty())) {
      invalid("type", "type: must be a sink type (file, stdout, kafka, http, postgres, ...)");
    }
  }

  HttpResponse create_sink(const Call& c) {
    Json body = parse_body(c.req);
    if (!body.contains("name") || !body["name"].is_string() ||
        !valid_id(body["name"].get<std::string>())) {
      invalid("name", "name: 1 to 64 characters of A-Z a-z 0-9 . _ - are required");
    }
    if (!body.contains("type"))
      invalid("type", "type: required (file, stdout, kafka, http, postgres, ...)");
    check_sink_fields(body);
    const std::string name = body["name"].get<std::string>();
    body.erase("revision");
    Mutation m;
    m.action = "sinks.create";
    m.resource = "sinks/" + name;
    m.build = [&](const State& head, State* next) {
      if (find_by(head.sinks, "name", name)) {
        fail(409, "already_exists", "sink \"" + name + "\" exists", "name");
      }
      next->sinks.push_back(body);
    };
    m.answer = [&](const State& st) {
      HttpResponse r = object_response(201, redact_sink(must_find(st.sinks, "name", name, "sink")));
      r.headers.emplace_back("Location", std::string(kPrefix) + "/sinks/" + name);
      return r;
    };
    return run_mutation(c, std::move(m));
  }

  HttpResponse put_sink(const Call& c, const std::string& name, bool merge) {
    Json body = parse_body(c.req);
    if (body.contains("name") && body["name"] != name) invalid("name", "name: cannot be changed");
    if (!merge && !body.contains("type")) invalid("type", "type: required");
    check_sink_fields(body);
    Mutation m;
    m.action = "sinks.update";
    m.resource = "sinks/" + name;
    m.build = [&](const State& head, State* next) {
      const Json& stored = must_find(head.sinks, "name", name, "sink");
      check_if_match(c, revision_of(stored));
      Json* sink = find_by(next->sinks, "name", name);
      Json updated;
      if (merge) {
        updated = stored;
        merge_top_level(&updated, body);
      } else {
        updated = body;
        updated.erase("revision");
      }
      updated["name"] = name;
      keep_fingerprinted_secrets(&updated, &stored);
      updated["revision"] = stored.value("revision", Json(0));
      *sink = std::move(updated);
    };
    m.answer = [&](const State& st) {
      return object_response(200, redact_sink(must_find(st.sinks, "name", name, "sink")));
    };
    return run_mutation(c, std::move(m));
  }

  HttpResponse delete_sink(const Call& c, const std::string& name) {
    Mutation m;
    m.action = "sinks.delete";
    m.resource = "sinks/" + name;
    m.build = [&](const State& head, State* next) {
      check_if_match(c, revision_of(must_find(head.sinks, "name", name, "sink")));
      erase_by(next->sinks, "name", name);
    };
    m.answer = [](const State&) { return empty_response(204); };
    return run_mutation(c, std::move(m));
  }

  HttpResponse test_sink(const Call&, const std::string& name) {
    State head = must(store->head());
    Json sink = must_find(head.sinks, "name", name, "sink");
    Status s = applier->test_sink(sink);
    if (s.is_ok()) return json_response(200, Json{{"ok", true}});
    return json_response(200, Json{{"ok", false}, {"error", s.message()}});
  }

  // ---------------------------------------------------------- routes

  HttpResponse list_routes(const Call& c) {
    State head = must(store->head());
    return json_response(200, page({head.routes.begin(), head.routes.end()}, "id", c.query));
  }

  HttpResponse get_route(const Call&, const std::string& id) {
    State head = must(store->head());
    return object_response(200, must_find(head.routes, "id", id, "route"));
  }

  static void check_route_fields(const Json& route) {
    require_string_array(route, "sources");
    require_string_array(route, "types");
    require_string_array(route, "sinks");
  }

  HttpResponse create_route(const Call& c) {
    Json body = parse_body(c.req);
    std::string id;
    if (body.contains("id")) {
      if (!body["id"].is_string() || !valid_id(body["id"].get<std::string>())) {
        invalid("id", "id: 1 to 64 characters of A-Z a-z 0-9 . _ - (or leave it out)");
      }
      id = body["id"].get<std::string>();
    } else {
      id = random_secret("rt_").substr(0, 15);
    }
    check_route_fields(body);
    Mutation m;
    m.action = "routes.create";
    m.resource = "routes/" + id;
    m.build = [&](const State& head, State* next) {
      if (find_by(head.routes, "id", id))
        fail(409, "already_exists", "route \"" + id + "\" exists", "id");
      Json route = {{"id", id},
                    {"sources", Json::array()},
                    {"types", Json::array()},
                    {"sinks", Json::array()}};
      merge_top_level(&route, body);
      route["id"] = id;
      next->routes.push_back(std::move(route));
    };
    m.answer = [&](const State& st) {
      HttpResponse r = object_response(201, must_find(st.routes, "id", id, "route"));
      r.headers.emplace_back("Location", std::string(kPrefix) + "/routes/" + id);
      return r;
    };
    return run_mutation(c, std::move(m));
  }

  HttpResponse put_route(const Call& c, const std::string& id, bool merge) {
    Json body = parse_body(c.req);
    if (body.contains("id") && body["id"] != id) invalid("id", "id: cannot be changed");
    check_route_fields(body);
    Mutation m;
    m.action = "routes.update";
    m.resource = "routes/" + id;
    m.build = [&](const State& head, State* next) {
      const Json& stored = must_find(head.routes, "id", id, "route");
      check_if_match(c, revision_of(stored));
      Json updated;
      if (merge) {
        updated = stored;
      } else {
        updated = {{"sources", Json::array()}, {"types", Json::array()}, {"sinks", Json::array()}};
      }
      merge_top_level(&updated, body);
      updated["id"] = id;
      updated["revision"] = stored.value("revision", Json(0));
      *find_by(next->routes, "id", id) = std::move(updated);
    };
    m.answer = [&](const State& st) {
      return object_response(200, must_find(st.routes, "id", id, "route"));
    };
    return run_mutation(c, std::move(m));
  }

  HttpResponse delete_route(const Call& c, const std::string& id) {
    Mutation m;
    m.action = "routes.delete";
    m.resource = "routes/" + id;
    m.build = [&](const State& head, State* next) {
      check_if_match(c, revision_of(must_find(head.routes, "id", id, "route")));
      erase_by(next->routes, "id", id);
    };
    m.answer = [](const State&) { return empty_response(204); };
    return run_mutation(c, std::move(m));
  }

  // ---------------------------------------------------- suppressions

  HttpResponse list_suppressions(const Call& c) {
    State head = must(store->head());
    return json_response(
        200, page({head.suppressions.begin(), head.suppressions.end()}, "user_id", c.query));
  }

  HttpResponse get_suppression(const Call&, const std::string& user_id) {
    State head = must(store->head());
    return object_response(200, must_find(head.suppressions, "user_id", user_id, "suppression"));
  }

  HttpResponse create_suppression(const Call& c) {
    Json body = parse_body(c.req);
    if (!body.contains("user_id") || !body["user_id"].is_string() ||
        body["user_id"].get<std::string>().empty() ||
        body["user_id"].get<std::string>().size() > 256) {
      invalid("user_id", "user_id: a string of 1 to 256 characters is required");
    }
    if (body.contains("reason") && !body["reason"].is_string()) {
      invalid("reason", "reason: must be a string");
    }
    for (auto it = body.begin(); it != body.end(); ++it) {
      if (it.key() != "user_id" && it.key() != "reason")
        invalid(it.key(), it.key() + ": unknown key");
    }
    const std::string user_id = body["user_id"].get<std::string>();
    Mutation m;
    m.action = "suppressions.create";
    m.resource = "suppressions/" + user_id;
    m.build = [&](const State& head, State* next) {
      if (find_by(head.suppressions, "user_id", user_id)) {
        fail(409, "already_exists", "user \"" + user_id + "\" is suppressed already", "user_id");
      }
      next->suppressions.push_back({{"user_id", user_id},
                                    {"reason", body.value("reason", std::string())},
                                    {"created_at", now_iso()}});
    };
    m.answer = [&](const State& st) {
      return object_response(201, must_find(st.suppressions, "user_id", user_id, "suppression"));
    };
    return run_mutation(c, std::move(m));
  }

  HttpResponse delete_suppression(const Call& c, const std::string& user_id) {
    Mutation m;
    m.action = "suppressions.delete";
    m.resource = "suppressions/" + user_id;
    m.build = [&](const State& head, State* next) {
      check_if_match(c,
                     revision_of(must_find(head.suppressions, "user_id", user_id, "suppression")));
      erase_by(next->suppressions, "user_id", user_id);
    };
    m.answer = [](const State&) { return empty_response(204); };
    return run_mutation(c, std::move(m));
  }

  // ----------------------------------------------------------- state

  static HttpResponse state_response(int status, const State& st) {
    HttpResponse r = json_response(status, st.to_json(/*redact=*/true));
    r.headers.emplace_back("ETag", etag(st.revision));
    return r;
  }

  HttpResponse get_state(const Call&) { return state_response(200, must(store->head())); }

  HttpResponse put_state(const Call& c) {
    if (c.req.if_match.empty()) {
      fail(428, "precondition_required",
           "PUT /admin/v1/state replaces everything: send If-Match with the ETag of the state "
           "you read (GET /admin/v1/state)");
    }
    Json body = parse_body(c.req);
    // Write keys may be given as strings; State::from_json wants objects.
    Json doc = body;
    doc["revision"] = 0;
    for (const char* k : {"sources", "sinks", "routes", "suppressions"}) {
      if (!doc.contains(k)) doc[k] = Json::array();
      if (!doc[k].is_array()) invalid(k, std::string(k) + ": must be an array");
    }
    for (auto& src : doc["sources"]) {
      if (src.is_object() && src.contains("write_keys") && src["write_keys"].is_array()) {
        for (auto& k : src["write_keys"]) {
          if (k.is_string()) k = Json{{"key", k}};
        }
      }
    }
    Mutation m;
    m.action = "state.replace";
    m.resource = "state";
    m.build = [&](const State& head, State* next) {
      check_if_match(c, head.revision);
      auto parsed = State::from_json(doc);
      if (!parsed.is_ok()) invalid("", parsed.status().message());
      State given = std::move(parsed).value();
      const std::string now = now_iso();
      for (auto& src : given.sources) {
        std::string id = src.value("id", std::string());
        const Json* stored = find_by(head.sources, "id", id);
        const Json* stored_keys =
            stored && stored->contains("write_keys") ? &(*stored)["write_keys"] : nullptr;
        src["write_keys"] =
            merge_write_keys(src.value("write_keys", Json::array()), stored_keys, id, now);
      }
      for (auto& sink : given.sinks) {
        keep_fingerprinted_secrets(&sink,
                                   find_by(head.sinks, "name", sink.value("name", std::string())));
      }
      for (auto& sup : given.suppressions) {
        if (sup.contains("created_at")) continue;
        const Json* stored =
            find_by(head.suppressions, "user_id", sup.value("user_id", std::string()));
        sup["created_at"] =
            stored && stored->contains("created_at") ? (*stored)["created_at"] : Json(now);
      }
      // Objects equal to the stored ones keep their revision: carry it over
      // so the diff (which ignores revisions) and stamping see them as equal.
      given.revision = head.revision;
      *next = std::move(given);
    };
    m.answer = [](const State& st) { return state_response(200, st); };
    return run_mutation(c, std::move(m));
  }

  // ------------------------------------------------ revisions, audit

  HttpResponse list_revisions(const Call& c) {
    return json_response(
        200,
        numbered_page(
            c.query, [&](int64_t before, std::size_t n) { return store->revisions(before, n); },
            revision_json, [](const RevisionInfo& r) { return r.revision; }));
  }

  int64_t parse_rev(const std::string& text) {
    auto n = parse_int(text);
    if (!n || *n < 1) fail(404, "not_found", "no revision \"" + text + "\"");
    return *n;
  }

  Json revision_document(int64_t rev, bool redact) {
    auto st = store->revision(rev);
    if (!st.is_ok()) {
      if (st.status().code() == StatusCode::kNotFound) {
        fail(404, "not_found", "no revision " + std::to_string(rev));
      }
      fail(500, "internal", "the control store failed: " + st.status().message());
    }
    auto infos = must(store->revisions(rev + 1, 1));
    Json out = infos.empty() || infos[0].revision != rev ? Json{{"revision", rev}}
                                                         : revision_json(infos[0]);
    out["state"] = st->to_json(redact);
    return out;
  }

  HttpResponse get_revision(const Call&, const std::string& text) {
    int64_t rev = parse_rev(text);
    HttpResponse r = json_response(200, revision_document(rev, true));
    r.headers.emplace_back("ETag", etag(rev));
    return r;
  }

  HttpResponse restore_revision(const Call& c, const std::string& text) {
    int64_t rev = parse_rev(text);
    auto old = store->revision(rev);
    if (!old.is_ok()) {
      if (old.status().code() == StatusCode::kNotFound) {
        fail(404, "not_found", "no revision " + std::to_string(rev));
      }
      fail(500, "internal", "the control store failed: " + old.status().message());
    }
    Mutation m;
    m.action = "revisions.restore";
    m.resource = "revisions/" + std::to_string(rev);
    m.commit_unchanged = true;
    m.build = [&](const State& head, State* next) {
      check_if_match(c, head.revision);
      *next = *old;
      next->revision = head.revision;
    };
    m.answer = [&](const State& st) {
      HttpResponse r = json_response(201, revision_document(st.revision, true));
      r.headers.emplace_back("ETag", etag(st.revision));
      return r;
    };
    return run_mutation(c, std::move(m));
  }

  HttpResponse list_audit(const Call& c) {
    return json_response(
        200, numbered_page(
                 c.query, [&](int64_t before, std::size_t n) { return store->audit(before, n); },
                 audit_json, [](const AuditEntry& e) { return e.seq; }));
  }

  // ----------------------------------------------------------- fleet

  HttpResponse list_relays(const Call& c) {
    std::vector<Json> items;
    for (const auto& r : must(store->relays())) items.push_back(relay_json(r));
    return json_response(200, page(std::move(items), "relay_id", c.query));
  }

  HttpResponse post_report(const Call& c) {
    Json body = parse_body(c.req);
    RelayReport r;
    if (!body.contains("relay_id") || !body["relay_id"].is_string() ||
        body["relay_id"].get<std::string>().empty() ||
        body["relay_id"].get<std::string>().size() > 256) {
      invalid("relay_id", "relay_id: a string of 1 to 256 characters is required");
    }
    r.relay_id = body["relay_id"].get<std::string>();
    if (!body.contains("applied_revision") || !body["applied_revision"].is_number_integer() ||
        body["applied_revision"].get<int64_t>() < 0) {
      invalid("applied_revision", "applied_revision: a revision number (0 or more) is required");
    }
    r.applied_revision = body["applied_revision"].get<int64_t>();
    if (!body.contains("status") || (body["status"] != "ok" && body["status"] != "error")) {
      invalid("status", "status: \"ok\" or \"error\" is required");
    }
    r.status = body["status"].get<std::string>();
    if (body.contains("errors")) {
      if (!body["errors"].is_array()) invalid("errors", "errors: must be an array");
      r.errors = body["errors"];
    }
    if (body.contains("labels")) {
      const Json& l = body["labels"];
      bool ok = l.is_object() &&
                std::all_of(l.begin(), l.end(), [](const Json& v) { return v.is_string(); });
      if (!ok) invalid("labels", "labels: must be an object of strings");
      r.labels = l;
    }
    if (body.contains("version")) {
      if (!body["version"].is_string()) invalid("version", "version: must be a string");
      r.version = body["version"].get<std::string>();
    }
    r.last_seen = now_iso();
    Status s = store->upsert_relay(r);
    if (!s.is_ok()) fail(500, "internal", "the control store failed: " + s.message());
    return json_response(200, relay_json(r));
  }

  static HttpResponse not_modified(int64_t revision) {
    HttpResponse r = empty_response(304);
    r.headers.emplace_back("ETag", etag(revision));
    return r;
  }

  static HttpResponse snapshot_response(const State& st) {
    HttpResponse r =
        json_response(200, Json{{"revision", st.revision}, {"state", st.to_json(false)}});
    r.headers.emplace_back("ETag", etag(st.revision));
    return r;
  }

  // The answer now, or nullopt when the poll waits (it took c.respond).
  std::optional<HttpResponse> snapshot(Call& c) {
    std::chrono::milliseconds wait{0};
    if (c.query.has("wait")) {
      auto w = parse_wait(c.query.get("wait"));
      if (!w) invalid("wait", "?wait= must be a duration such as 30s or 500ms");
      wait = std::min<std::chrono::milliseconds>(*w, options.max_wait);
    }
    std::optional<int64_t> known;
    if (!c.req.if_none_match.empty()) {
      auto tag = parse_etag(c.req.if_none_match);
      if (tag && *tag >= 0) known = *tag;
    }
    std::unique_lock<std::mutex> lk(poll_mu);
    State head = must(store->head());
    if (!known || head.revision > *known) return snapshot_response(head);
    if (wait.count() == 0 || stopping) return not_modified(head.revision);
    // Registered under poll_mu after reading the head: a commit after that
    // read wakes it (wake_polls takes poll_mu to read the head again).
    polls.push_back(Poll{*known, Clock::now() + wait, std::move(c.respond)});
    lk.unlock();
    poll_cv.notify_all();
    return std::nullopt;
  }

  // Answers every pending poll older than the head.
  void wake_polls() {
    std::vector<Poll> ready;
    State head;
    {
      std::lock_guard<std::mutex> lk(poll_mu);
      if (polls.empty()) return;
      auto st = store->head();
      if (!st.is_ok()) return;
      head = std::move(st).value();
      auto it = std::partition(polls.begin(), polls.end(),
                               [&](const Poll& p) { return p.after >= head.revision; });
      std::move(it, polls.end(), std::back_inserter(ready));
      polls.erase(it, polls.end());
    }
    if (ready.empty()) return;
    HttpResponse r = snapshot_response(head);
    for (auto& p : ready) p.respond(r);
  }

  void timer_loop() {
    log::set_thread_name("tern-admin-poll");
    std::unique_lock<std::mutex> lk(poll_mu);
    while (!stopping) {
      if (polls.empty()) {
        poll_cv.wait(lk);
        continue;
      }
      auto next = std::min_element(polls.begin(), polls.end(), [](const Poll& a, const Poll& b) {
                    return a.deadline < b.deadline;
                  })->deadline;
      if (Clock::now() < next) {
        poll_cv.wait_until(lk, next);
        continue;
      }
      const auto now = Clock::now();
      std::vector<Poll> expired;
      auto it = std::partition(polls.begin(), polls.end(),
                               [&](const Poll& p) { return p.deadline > now; });
      std::move(it, polls.end(), std::back_inserter(expired));
      polls.erase(it, polls.end());
      int64_t rev = 0;
      auto head = store->head();
      if (head.is_ok()) rev = head->revision;
      lk.unlock();
      for (auto& p : expired) {
        // A commit may have landed between the deadline and now: answer it.
        if (rev > p.after) {
          p.respond(snapshot_response(*head));
        } else {
          p.respond(not_modified(rev));
        }
      }
      lk.lock();
    }
  }
};

AdminApi::AdminApi(ControlStore* store, Applier* applier, Metrics* metrics, AdminOptions options)
    : impl_(std::make_unique<Impl>(store, applier, metrics, std::move(options))) {}

AdminApi::~AdminApi() = default;

void AdminApi::set_bootstrap_token(const std::string& token) {
  std::lock_guard<std::mutex> lk(impl_->auth_mu);
  impl_->bootstrap_hash = token.empty() ? std::string() : sha256_hex(token);
}

void AdminApi::handle(HttpRequest request, RequestScratch&, Respond respond) {
  Impl::Call call{request, {}, {}, {}, false, std::move(respond)};
  std::optional<HttpResponse> response;
  try {
    std::string_view target = request.target;
    std::size_t q = target.find('?');
    std::string_view path = target.substr(0, q);
    if (q != std::string_view::npos) call.query = parse_query(target.substr(q + 1));
    if (request.method == "GET" || request.method == "HEAD") {
      if (auto file = console_file(path)) {
        // A browser revalidating its copy (Cache-Control: no-cache) gets a
        // 304 when the file is the same.
        const std::string* tag = file->header("ETag");
        if (tag && !request.if_none_match.empty() &&
            request.if_none_match.find(*tag) != std::string::npos) {
          file->status = 304;
          file->body.clear();
        }
        if (call.respond) call.respond(std::move(*file));
        return;
      }
    }
    if (path.substr(0, kPrefix.size()) != kPrefix ||
        (path.size() > kPrefix.size() && path[kPrefix.size()] != '/')) {
      fail(404, "not_found",
           "no such path: " + std::string(path) + " (the admin API is under /admin/v1)");
    }
    path.remove_prefix(kPrefix.size());
    while (!path.empty()) {
      path.remove_prefix(1);  // the '/'
      std::size_t slash = path.find('/');
      std::string seg = percent_decode(path.substr(0, slash));
      if (!seg.empty() || slash != std::string_view::npos) call.segs.push_back(std::move(seg));
      path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    }
    response = impl_->dispatch(call);
  } catch (const ApiError& e) {
    response = error_response(e);
  } catch (const std::exception& e) {
    log::error("admin: request failed", {{"target", request.target}, {"error", e.what()}});
    response = error_response(
        ApiError{500, "internal", std::string("internal error: ") + e.what(), "", nullptr});
  }
  if (response && call.respond) call.respond(std::move(*response));
}

HttpResponse AdminApi::server_limit(ServerLimit limit, std::string_view) {
  ApiError e{413, "body_too_large", "the request body exceeds the admin listener's limit", "",
             nullptr};
  switch (limit) {
    case ServerLimit::kHeaderSize:
      e = ApiError(431, "header_too_large",
                   "the request headers exceed the admin listener's limit");
      break;
    case ServerLimit::kBodySize:
      break;
    case ServerLimit::kReadTimeout:
      e = ApiError(408, "read_timeout", "the request was not received in time");
      break;
    case ServerLimit::kIdleTimeout:
      e = ApiError(408, "idle_timeout", "the connection was idle too long");
      break;
  }
  HttpResponse r = error_response(e);
  r.close = true;
  return r;
}

LimitsConfig AdminApi::limits() const { return impl_->options.limits; }

void AdminApi::notify_committed() { impl_->wake_polls(); }

void AdminApi::set_console(ConsoleServices services) { impl_->console = services; }

}  // namespace tern::relay::control
