// AdminApi driven through handle() with a real ControlStore in a temp dir and
// a recording Applier (the end-to-end tests run the real one).
#include "admin_api.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "request_handler.h"
#include "temp_dir.h"

namespace tern::relay::control {
namespace {

using namespace std::chrono_literals;

constexpr const char* kBootstrap = "tat_bootstrap_for_tests";

class RecordingApplier : public Applier {
 public:
  bool validate(const State& state, std::vector<FieldError>* errors) override {
    std::lock_guard<std::mutex> lk(mu);
    ++validations;
    if (reject_sink_type.empty()) return true;
    bool ok = true;
    for (const auto& sink : state.sinks) {
      if (sink.value("type", "") == reject_sink_type) {
        errors->push_back({"sinks/" + sink.value("name", ""), "type",
                           "unknown sink type \"" + reject_sink_type + "\""});
        ok = false;
      }
    }
    return ok;
  }
  Status apply(const State& state) override {
    if (before_apply) std::exchange(before_apply, nullptr)();
    std::lock_guard<std::mutex> lk(mu);
    if (!fail_apply.empty()) return Status::Unavailable(fail_apply);
    applied.push_back(state);
    return Status::ok();
  }
  int64_t applied_revision() const override {
    std::lock_guard<std::mutex> lk(mu);
    return applied.empty() ? 0 : applied.back().revision;
  }
  uint64_t undelivered(std::string_view sink) const override {
    std::lock_guard<std::mutex> lk(mu);
    auto it = unread.find(std::string(sink));
    return it == unread.end() ? 0 : it->second;
  }
  void count_discarded(std::string_view sink, uint64_t n) override {
    std::lock_guard<std::mutex> lk(mu);
    discarded[std::string(sink)] += n;
  }
  Status test_sink(const Json& sink) override {
    std::lock_guard<std::mutex> lk(mu);
    tested.push_back(sink);
    if (sink.value("brokers", "") == "unreachable:9092") {
      return Status::Unavailable("kafka: unreachable:9092: connection refused");
    }
    return Status::ok();
  }

  mutable std::mutex mu;
  std::function<void()> before_apply;  // runs once, at the next apply()
  int validations = 0;
  std::string reject_sink_type;
  std::string fail_apply;
  std::vector<State> applied;
  std::map<std::string, uint64_t> unread;
  std::map<std::string, uint64_t> discarded;
  std::vector<Json> tested;
};

struct Answer {
  int status = 0;
  Json body;
  std::string raw;
  std::vector<std::pair<std::string, std::string>> headers;

  std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() == name.size() &&
          std::equal(k.begin(), k.end(), name.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        return v;
      }
    }
    return {};
  }
  std::string code() const { return body.is_object() ? body["error"].value("code", "") : ""; }
};

Answer to_answer(const HttpResponse& r) {
  Answer a;
  a.status = r.status;
  a.raw = r.body;
  a.headers = r.headers;
  a.body = r.body.empty() ? Json() : Json::parse(r.body, nullptr, false);
  return a;
}

struct Req {
  Req(std::string m, std::string t, std::string b = "", std::string tok = kBootstrap,
      std::string im = "", std::string inm = "", std::string p = "127.0.0.1")
      : method(std::move(m)),
        target(std::move(t)),
        body(std::move(b)),
        token(std::move(tok)),
        if_match(std::move(im)),
        if_none_match(std::move(inm)),
        peer(std::move(p)) {}
  std::string method;
  std::string target;
  std::string body;
  std::string token;
  std::string if_match;
  std::string if_none_match;
  std::string peer;
};

class AdminApiTest : public ::testing::Test {
 protected:
  AdminApiTest() { open(AdminOptions{}); }

  void open(AdminOptions options) {
    api.reset();
    if (!store) {
      auto s = ControlStore::open(dir.file("control/state.db"));
      EXPECT_TRUE(s.is_ok()) << s.status().to_string();
      store = std::move(s).value();
    }
    api = std::make_unique<AdminApi>(store.get(), &applier, &metrics, std::move(options));
    api->set_bootstrap_token(kBootstrap);
  }

  // Sends a request; `respond` may be called later (long polls).
  void send(const Req& r, Respond respond) {
    HttpRequest req;
    req.method = r.method;
    req.target = r.target;
    req.body = r.body;
    if (!r.token.empty()) req.authorization = "Bearer " + r.token;
    req.if_match = r.if_match;
    req.if_none_match = r.if_none_match;
    req.peer_ip = r.peer;
    req.received_at = std::chrono::system_clock::now();
    req.received_steady = std::chrono::steady_clock::now();
    api->handle(std::move(req), *scratch, std::move(respond));
  }

  Answer call(const Req& r) {
    std::optional<HttpResponse> got;
    send(r, [&](HttpResponse res) { got = std::move(res); });
    EXPECT_TRUE(got.has_value()) << r.method << " " << r.target << " was not answered inline";
    return got ? to_answer(*got) : Answer{};
  }
  Answer get(const std::string& target, const std::string& token = kBootstrap) {
    return call({"GET", target, "", token});
  }
  Answer post(const std::string& target, const Json& body, const std::string& token = kBootstrap) {
    return call({"POST", target, body.dump(), token});
  }
  Answer del(const std::string& target, const std::string& if_match = "") {
    return call({"DELETE", target, "", kBootstrap, if_match});
  }

  int64_t head_revision() {
    auto h = store->head();
    EXPECT_TRUE(h.is_ok());
    return h.is_ok() ? h->revision : -1;
  }
  std::size_t audit_count() {
    auto a = store->audit(0, 1000);
    EXPECT_TRUE(a.is_ok());
    return a.is_ok() ? a->size() : 0;
  }
  std::string create_token(const std::string& scope) {
    Answer a = post("/admin/v1/tokens", {{"name", scope + "-token"}, {"scopes", {scope}}});
    EXPECT_EQ(a.status, 201) << a.raw;
    return a.body.value("token", "");
  }
  Json file_sink(const std::string& name) {
    return {{"name", name}, {"type", "file"}, {"dir", dir.file(name)}};
  }

  testing::TempDir dir;
  RecordingApplier applier;
  Metrics metrics;
  std::unique_ptr<ControlStore> store;
  std::unique_ptr<AdminApi> api;
  std::unique_ptr<RequestScratch, void (*)(RequestScratch*)> scratch = make_request_scratch();
};

TEST_F(AdminApiTest, OpenApiDocumentIsServedWithoutAToken) {
  Answer a = call({"GET", "/admin/v1/openapi.json", "", ""});
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body["openapi"], "3.1.0");
  EXPECT_TRUE(a.body["paths"].contains("/admin/v1/sources"));
}

TEST_F(AdminApiTest, MissingOrUnknownTokenIs401AndCounted) {
  Answer none = call({"GET", "/admin/v1/sources", "", ""});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.code(), "unauthenticated");
  EXPECT_EQ(none.header("WWW-Authenticate").rfind("Bearer", 0), 0u);
  Answer wrong = get("/admin/v1/sources", "tat_not_a_token");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_FALSE(wrong.body["error"].value("message", "").empty());
  EXPECT_EQ(metrics.counter("tern_relay_admin_auth_failures_total").value(), 2u);
}

TEST_F(AdminApiTest, TokenWithoutTheScopeIs403) {
  const std::string read = create_token("read");
  const std::string relay = create_token("relay");
  EXPECT_EQ(get("/admin/v1/sources", read).status, 200);
  Answer write = post("/admin/v1/sources", {{"id", "web"}}, read);
  EXPECT_EQ(write.status, 403);
  EXPECT_EQ(write.code(), "forbidden");
  EXPECT_EQ(get("/admin/v1/sources", relay).status, 403);
  EXPECT_EQ(get("/admin/v1/fleet/snapshot", relay).status, 200);
  EXPECT_EQ(get("/admin/v1/fleet/snapshot", read).status, 403);
  // A token cannot hand out a scope it lacks.
  const std::string writer = create_token("write");
  EXPECT_EQ(post("/admin/v1/tokens", {{"name", "x"}, {"scopes", {"relay"}}}, writer).status, 403);
}

TEST_F(AdminApiTest, RepeatedFailuresFromOneAddressAre429WithRetryAfter) {
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(call({"GET", "/admin/v1/sources", "", "tat_guess", "", "", "10.0.0.9"}).status, 401);
  }
  Answer limited = call({"GET", "/admin/v1/sources", "", kBootstrap, "", "", "10.0.0.9"});
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.code(), "rate_limited");
  EXPECT_GT(std::stoi(limited.header("Retry-After")), 0);
  // Other addresses are not affected.
  EXPECT_EQ(call({"GET", "/admin/v1/sources", "", kBootstrap, "", "", "10.0.0.10"}).status, 200);
}

TEST_F(AdminApiTest, RevokedTokenIs401) {
  Answer created = post("/admin/v1/tokens", {{"name", "ci"}, {"scopes", {"read"}}});
  ASSERT_EQ(created.status, 201);
  const std::string token = created.body["token"];
  EXPECT_EQ(token.rfind("tat_", 0), 0u);
  Answer list = get("/admin/v1/tokens");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.raw.find(token), std::string::npos) << "token values are shown once only";
  EXPECT_EQ(get("/admin/v1/sources", token).status, 200);
  EXPECT_EQ(del("/admin/v1/tokens/" + created.body["id"].get<std::string>()).status, 204);
  EXPECT_EQ(get("/admin/v1/sources", token).status, 401);
}

TEST_F(AdminApiTest, CreatingASourceReturnsItsWriteKeyAndETag) {
  Answer a = post("/admin/v1/sources", {{"id", "ios-app"}, {"ack_mode", "sink"}});
  ASSERT_EQ(a.status, 201) << a.raw;
  EXPECT_EQ(a.body["id"], "ios-app");
  EXPECT_EQ(a.body["ack_mode"], "sink");
  ASSERT_EQ(a.body["write_keys"].size(), 1u);
  const std::string key = a.body["write_keys"][0]["key"];
  EXPECT_FALSE(key.empty());
  EXPECT_EQ(a.header("ETag"), "\"" + std::to_string(a.body["revision"].get<int64_t>()) + "\"");
  EXPECT_EQ(head_revision(), a.body["revision"].get<int64_t>());
  ASSERT_FALSE(applier.applied.empty());
  EXPECT_EQ(applier.applied.back().revision, head_revision()) << "applied before it was committed";

  Answer again = post("/admin/v1/sources", {{"id", "ios-app"}});
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.code(), "already_exists");
  Answer bad = post("/admin/v1/sources", {{"id", "no spaces"}});
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.body["error"]["field"], "id");
}

TEST_F(AdminApiTest, RotatingAWriteKeyAddsThenRevokesAndKeepsTheLastOne) {
  Answer src = post("/admin/v1/sources", {{"id", "web"}});
  ASSERT_EQ(src.status, 201);
  const std::string old_id = src.body["write_keys"][0]["id"];
  Answer added = call({"POST", "/admin/v1/sources/web/write-keys"});
  ASSERT_EQ(added.status, 201) << added.raw;
  EXPECT_FALSE(added.body.value("key", "").empty());
  EXPECT_EQ(del("/admin/v1/sources/web/write-keys/" + old_id).status, 204);
  Answer now = get("/admin/v1/sources/web");
  ASSERT_EQ(now.body["write_keys"].size(), 1u);
  EXPECT_EQ(now.body["write_keys"][0]["key"], added.body["key"]);
  Answer last = del("/admin/v1/sources/web/write-keys/" + added.body["id"].get<std::string>());
  EXPECT_EQ(last.status, 409);
  EXPECT_EQ(del("/admin/v1/sources/web/write-keys/wk_nope").status, 404);
}

TEST_F(AdminApiTest, TwoWritersWithTheSameETagOneGets412) {
  Answer created = post("/admin/v1/sources", {{"id", "web"}});
  ASSERT_EQ(created.status, 201);
  const std::string tag = get("/admin/v1/sources/web").header("ETag");
  ASSERT_FALSE(tag.empty());
  Answer first =
      call({"PATCH", "/admin/v1/sources/web", R"({"rate_limit_eps": 100})", kBootstrap, tag});
  EXPECT_EQ(first.status, 200) << first.raw;
  EXPECT_EQ(first.body["rate_limit_eps"], 100);
  EXPECT_NE(first.header("ETag"), tag);
  Answer second =
      call({"PATCH", "/admin/v1/sources/web", R"({"rate_limit_eps": 5})", kBootstrap, tag});
  EXPECT_EQ(second.status, 412);
  EXPECT_EQ(second.code(), "revision_mismatch");
  EXPECT_EQ(get("/admin/v1/sources/web").body["rate_limit_eps"], 100);
}

TEST_F(AdminApiTest, DryRunsChangeNothing) {
  ASSERT_EQ(post("/admin/v1/sinks", file_sink("archive")).status, 201);
  const int64_t rev = head_revision();
  const std::size_t audits = audit_count();
  const std::size_t applies = applier.applied.size();

  Answer create = post("/admin/v1/sources?dry_run=true", {{"id", "web"}});
  ASSERT_EQ(create.status, 200) << create.raw;
  EXPECT_EQ(create.body["dry_run"], true);
  EXPECT_EQ(create.body["valid"], true);
  ASSERT_EQ(create.body["diff"].size(), 1u);
  EXPECT_EQ(create.body["diff"][0]["op"], "add");
  EXPECT_EQ(create.body["diff"][0]["resource"], "sources/web");

  Answer remove = del("/admin/v1/sinks/archive?dry_run=true");
  EXPECT_EQ(remove.status, 200);
  EXPECT_EQ(remove.body["diff"][0]["op"], "remove");

  applier.reject_sink_type = "nope";
  Answer invalid = post("/admin/v1/sinks?dry_run=true", {{"name", "bad"}, {"type", "nope"}});
  EXPECT_EQ(invalid.status, 200);
  EXPECT_EQ(invalid.body["valid"], false);
  ASSERT_EQ(invalid.body["errors"].size(), 1u);
  EXPECT_EQ(invalid.body["errors"][0]["resource"], "sinks/bad");

  Answer token = post("/admin/v1/tokens?dry_run=true", {{"name", "x"}, {"scopes", {"read"}}});
  EXPECT_EQ(token.status, 200);
  EXPECT_FALSE(token.body.contains("token"));

  EXPECT_EQ(head_revision(), rev);
  EXPECT_EQ(audit_count(), audits);
  EXPECT_EQ(applier.applied.size(), applies);
  EXPECT_EQ(get("/admin/v1/sources").body["items"].size(), 0u);
  EXPECT_EQ(get("/admin/v1/tokens").body["items"].size(), 0u);
}

TEST_F(AdminApiTest, InvalidChangeIs422WithEveryErrorAndNothingCommitted) {
  applier.reject_sink_type = "nope";
  Answer a = post("/admin/v1/sinks", {{"name", "bad"}, {"type", "nope"}});
  EXPECT_EQ(a.status, 422);
  EXPECT_EQ(a.code(), "invalid_field");
  EXPECT_EQ(a.body["error"]["field"], "type");
  EXPECT_EQ(a.body["error"]["details"][0]["resource"], "sinks/bad");
  EXPECT_EQ(head_revision(), 0);
  Answer junk = call({"POST", "/admin/v1/sinks", "{not json", kBootstrap});
  EXPECT_EQ(junk.status, 400);
  EXPECT_EQ(junk.code(), "invalid_json");
}

TEST_F(AdminApiTest, PutStateWithoutIfMatchIs428) {
  Answer a = call({"PUT", "/admin/v1/state", R"({"sources": []})", kBootstrap});
  EXPECT_EQ(a.status, 428);
  EXPECT_EQ(a.code(), "precondition_required");
}

TEST_F(AdminApiTest, PutStateMatchesWriteKeysByIdOrValueAndRevokesTheRest) {
  Answer src = post("/admin/v1/sources", {{"id", "web"}});
  ASSERT_EQ(src.status, 201);
  const Json kept = src.body["write_keys"][0];
  Answer second = call({"POST", "/admin/v1/sources/web/write-keys", R"({"key": "tk_second"})"});
  ASSERT_EQ(second.status, 201);
  Answer state = get("/admin/v1/state");
  Json doc = {
      {"sources", {{{"id", "web"}, {"write_keys", {{{"id", kept["id"]}}, "tk_brand_new"}}}}},
      {"sinks", Json::array()},
      {"routes", Json::array()},
      {"suppressions", Json::array()}};
  Answer put = call({"PUT", "/admin/v1/state", doc.dump(), kBootstrap, state.header("ETag")});
  ASSERT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(put.header("ETag"), "\"" + std::to_string(head_revision()) + "\"");
  Json keys = get("/admin/v1/sources/web").body["write_keys"];
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0]["id"], kept["id"]);
  EXPECT_EQ(keys[0]["key"], kept["key"]);
  EXPECT_EQ(keys[1]["key"], "tk_brand_new");
  EXPECT_FALSE(keys[1].value("id", "").empty());

  // Replaying the same ETag is stale now.
  EXPECT_EQ(call({"PUT", "/admin/v1/state", doc.dump(), kBootstrap, state.header("ETag")}).status,
            412);
}

TEST_F(AdminApiTest, SinkSecretsAreNeverReturnedAndSurviveAReadModifyWrite) {
  const std::string secret = "hunter2-very-secret";
  Json sink = {{"name", "pg"}, {"type", "postgres"}, {"conninfo", "host=db"}, {"password", secret}};
  Answer created = post("/admin/v1/sinks", sink);
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string print = created.body["password"];
  EXPECT_EQ(print.rfind("sha256:", 0), 0u);
  for (const std::string& target : std::vector<std::string>{
           "/admin/v1/sinks", "/admin/v1/sinks/pg", "/admin/v1/state", "/admin/v1/audit",
           "/admin/v1/revisions", "/admin/v1/revisions/" + std::to_string(head_revision())}) {
    Answer a = get(target);
    EXPECT_EQ(a.status, 200) << target;
    EXPECT_EQ(a.raw.find(secret), std::string::npos) << target << ": " << a.raw;
  }
  // Writing back what was read keeps the stored secret.
  Json read = get("/admin/v1/sinks/pg").body;
  read["conninfo"] = "host=db2";
  Answer put = call({"PUT", "/admin/v1/sinks/pg", read.dump(), kBootstrap});
  ASSERT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(put.body["password"], print);
  auto head = store->head();
  ASSERT_TRUE(head.is_ok());
  EXPECT_EQ(head->sinks[0]["password"], secret);
  EXPECT_EQ(applier.applied.back().sinks[0]["password"], secret);
  // The relay scope's snapshot carries it in clear, for the edges.
  EXPECT_NE(get("/admin/v1/fleet/snapshot").raw.find(secret), std::string::npos);
}

TEST_F(AdminApiTest, TestingASinkSaysWhatFailed) {
  ASSERT_EQ(
      post("/admin/v1/sinks", {{"name", "k"}, {"type", "kafka"}, {"brokers", "unreachable:9092"}})
          .status,
      201);
  Answer a = call({"POST", "/admin/v1/sinks/k:test"});
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body["ok"], false);
  EXPECT_NE(a.body.value("error", "").find("connection refused"), std::string::npos);
  EXPECT_EQ(call({"POST", "/admin/v1/sinks/none:test"}).status, 404);
}

TEST_F(AdminApiTest, DeletingASinkWithUnreadEventsNeedsDiscard) {
  ASSERT_EQ(post("/admin/v1/sinks", file_sink("archive")).status, 201);
  ASSERT_EQ(post("/admin/v1/sinks", file_sink("other")).status, 201);
  applier.unread["archive"] = 5;
  Answer refused = del("/admin/v1/sinks/archive");
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(refused.code(), "unread_events");
  EXPECT_NE(refused.body["error"].value("message", "").find('5'), std::string::npos);
  EXPECT_EQ(get("/admin/v1/sinks/archive").status, 200);
  EXPECT_TRUE(applier.discarded.empty());

  EXPECT_EQ(del("/admin/v1/sinks/archive?discard=true").status, 204);
  EXPECT_EQ(get("/admin/v1/sinks/archive").status, 404);
  EXPECT_EQ(applier.discarded["archive"], 5u);
}

TEST_F(AdminApiTest, RemovingMoreThanHalfOfTheSinksNeedsForce) {
  for (const char* name : {"a", "b", "c"})
    ASSERT_EQ(post("/admin/v1/sinks", file_sink(name)).status, 201);
  Answer state = get("/admin/v1/state");
  Json doc = state.body;
  doc["sinks"] = Json::array({doc["sinks"][0]});
  Answer refused = call({"PUT", "/admin/v1/state", doc.dump(), kBootstrap, state.header("ETag")});
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(refused.code(), "too_destructive");
  EXPECT_EQ(get("/admin/v1/sinks").body["items"].size(), 3u);
  Answer forced =
      call({"PUT", "/admin/v1/state?force=true", doc.dump(), kBootstrap, state.header("ETag")});
  EXPECT_EQ(forced.status, 200) << forced.raw;
  EXPECT_EQ(get("/admin/v1/sinks").body["items"].size(), 1u);
}

TEST_F(AdminApiTest, ApplyFailureIs422AndNothingIsCommitted) {
  ASSERT_EQ(post("/admin/v1/sources", {{"id", "web"}}).status, 201);
  const int64_t rev = head_revision();
  const std::size_t audits = audit_count();
  applier.fail_apply = "sinks/k: kafka: cannot build producer";
  Answer a = post("/admin/v1/sinks", {{"name", "k"}, {"type", "kafka"}});
  EXPECT_EQ(a.status, 422);
  EXPECT_EQ(a.code(), "apply_failed");
  EXPECT_NE(a.body["error"].value("message", "").find("cannot build producer"), std::string::npos);
  EXPECT_EQ(head_revision(), rev);
  EXPECT_EQ(audit_count(), audits);
  EXPECT_EQ(get("/admin/v1/sinks/k").status, 404);
}

TEST_F(AdminApiTest, ACommitFromAnotherWriterInBetweenIs412AndTheRelayRunsTheWinner) {
  ASSERT_EQ(post("/admin/v1/sources", {{"id", "web"}}).status, 201);
  // Another process commits to the same database while this change applies.
  applier.before_apply = [&] {
    auto other = ControlStore::open(dir.file("control/state.db"));
    ASSERT_TRUE(other.is_ok());
    auto head = (*other)->head();
    ASSERT_TRUE(head.is_ok());
    State next = *head;
    next.suppressions.push_back(
        {{"user_id", "u-1"}, {"reason", "r"}, {"created_at", "2026-12-06T09:00:00Z"}});
    ASSERT_TRUE((*other)
                    ->commit(head->revision, next, "other", "suppressions/u-1 added", {},
                             "2026-12-06T09:00:00Z")
                    .is_ok());
  };
  Answer a = post("/admin/v1/sources", {{"id", "ios"}});
  EXPECT_EQ(a.status, 412);
  EXPECT_EQ(a.code(), "revision_mismatch");
  EXPECT_EQ(get("/admin/v1/sources/ios").status, 404);
  ASSERT_FALSE(applier.applied.empty());
  EXPECT_EQ(applier.applied.back().revision, head_revision());
  EXPECT_EQ(applier.applied.back().suppressions.size(), 1u);
}

TEST_F(AdminApiTest, RevisionsAndAuditRecordEveryCommitAndRestoreBringsAnOldStateBack) {
  ASSERT_EQ(post("/admin/v1/sources", {{"id", "web"}}).status, 201);
  const int64_t first = head_revision();
  ASSERT_EQ(post("/admin/v1/sources", {{"id", "ios"}}).status, 201);
  Answer revs = get("/admin/v1/revisions");
  ASSERT_EQ(revs.status, 200);
  ASSERT_EQ(revs.body["items"].size(), 2u);
  EXPECT_EQ(revs.body["items"][0]["revision"], head_revision());
  EXPECT_EQ(revs.body["items"][0]["token_id"], "bootstrap");
  Answer audit = get("/admin/v1/audit");
  ASSERT_EQ(audit.body["items"].size(), 2u);
  EXPECT_EQ(audit.body["items"][0]["action"], "sources.create");
  EXPECT_EQ(audit.body["items"][0]["resource"], "sources/ios");

  Answer restored = call({"POST", "/admin/v1/revisions/" + std::to_string(first) + ":restore"});
  ASSERT_EQ(restored.status, 201) << restored.raw;
  EXPECT_EQ(restored.body["revision"], head_revision());
  EXPECT_EQ(head_revision(), first + 2);
  EXPECT_EQ(get("/admin/v1/sources/ios").status, 404);
  EXPECT_EQ(get("/admin/v1/sources/web").status, 200);
  EXPECT_EQ(call({"POST", "/admin/v1/revisions/999:restore"}).status, 404);
}

TEST_F(AdminApiTest, SnapshotLongPollIsAnsweredAsSoonAsARevisionCommits) {
  ASSERT_EQ(post("/admin/v1/sources", {{"id", "web"}}).status, 201);
  const int64_t rev = head_revision();
  std::promise<HttpResponse> answered;
  auto future = answered.get_future();
  send({"GET", "/admin/v1/fleet/snapshot?relay_id=edge-1&wait=30s", "", kBootstrap, "",
        "\"" + std::to_string(rev) + "\""},
       [&](HttpResponse r) { answered.set_value(std::move(r)); });
  EXPECT_EQ(future.wait_for(0ms), std::future_status::timeout) << "answered before any commit";
  ASSERT_EQ(post("/admin/v1/sources", {{"id", "ios"}}).status, 201);
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  Answer a = to_answer(future.get());
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body["revision"], rev + 1);
  EXPECT_EQ(a.header("ETag"), "\"" + std::to_string(rev + 1) + "\"");
  EXPECT_EQ(a.body["state"]["sources"].size(), 2u);
}

TEST_F(AdminApiTest, SnapshotLongPollIsAnsweredOnNotifyCommitted) {
  std::promise<HttpResponse> answered;
  auto future = answered.get_future();
  send({"GET", "/admin/v1/fleet/snapshot?wait=30s", "", kBootstrap, "", "\"0\""},
       [&](HttpResponse r) { answered.set_value(std::move(r)); });
  State mirrored;
  mirrored.revision = 7;
  mirrored.sources = Json::array({{{"id", "web"}, {"write_keys", Json::array()}, {"revision", 7}}});
  ASSERT_TRUE(store->mirror(mirrored, "2026-12-06T09:00:00.000Z").is_ok());
  api->notify_committed();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(to_answer(future.get()).body["revision"], 7);
}

TEST_F(AdminApiTest, SnapshotLongPollIs304AtTheDeadline) {
  ASSERT_EQ(post("/admin/v1/sources", {{"id", "web"}}).status, 201);
  const std::string tag = "\"" + std::to_string(head_revision()) + "\"";
  std::promise<HttpResponse> answered;
  auto future = answered.get_future();
  send({"GET", "/admin/v1/fleet/snapshot?wait=100ms", "", kBootstrap, "", tag},
       [&](HttpResponse r) { answered.set_value(std::move(r)); });
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  HttpResponse r = future.get();
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  // Without If-None-Match the head is answered at once.
  EXPECT_EQ(get("/admin/v1/fleet/snapshot").status, 200);
}

TEST_F(AdminApiTest, SnapshotWaitIsCappedByMaxWait) {
  AdminOptions options;
  options.max_wait = std::chrono::seconds(1);
  open(options);
  std::promise<HttpResponse> answered;
  auto future = answered.get_future();
  send({"GET", "/admin/v1/fleet/snapshot?wait=30s", "", kBootstrap, "", "\"0\""},
       [&](HttpResponse r) { answered.set_value(std::move(r)); });
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(future.get().status, 304);
  EXPECT_EQ(get("/admin/v1/fleet/snapshot?wait=soon").status, 422);
}

TEST_F(AdminApiTest, PendingLongPollsAreAnsweredWhenTheApiStops) {
  std::promise<HttpResponse> answered;
  auto future = answered.get_future();
  send({"GET", "/admin/v1/fleet/snapshot?wait=30s", "", kBootstrap, "", "\"0\""},
       [&](HttpResponse r) { answered.set_value(std::move(r)); });
  api.reset();
  ASSERT_EQ(future.wait_for(0ms), std::future_status::ready);
  EXPECT_EQ(future.get().status, 304);
}

TEST_F(AdminApiTest, FleetReportsShowInTheRelaysList) {
  const std::string relay = create_token("relay");
  Answer r = post("/admin/v1/fleet/reports",
                  {{"relay_id", "edge-1"},
                   {"applied_revision", 3},
                   {"status", "error"},
                   {"errors", {"sinks/k: cannot connect"}},
                   {"labels", {{"region", "eu"}}},
                   {"version", "1.2.3"}},
                  relay);
  ASSERT_EQ(r.status, 200) << r.raw;
  Answer list = get("/admin/v1/relays");
  ASSERT_EQ(list.body["items"].size(), 1u);
  const Json& edge = list.body["items"][0];
  EXPECT_EQ(edge["relay_id"], "edge-1");
  EXPECT_EQ(edge["applied_revision"], 3);
  EXPECT_EQ(edge["status"], "error");
  EXPECT_EQ(edge["labels"]["region"], "eu");
  EXPECT_FALSE(edge.value("last_seen", "").empty());
  EXPECT_EQ(post("/admin/v1/fleet/reports", {{"relay_id", "edge-1"}}, relay).status, 422);
}

TEST_F(AdminApiTest, ManagedRelayRefusesWritesNamingTheControlPlane) {
  AdminOptions options;
  options.control_url = "http://control.example:8081";
  open(options);
  Answer a = post("/admin/v1/sources", {{"id", "web"}});
  EXPECT_EQ(a.status, 409);
  EXPECT_EQ(a.code(), "managed_by_control_plane");
  EXPECT_NE(a.body["error"].value("message", "").find("http://control.example:8081"),
            std::string::npos);
  EXPECT_EQ(del("/admin/v1/sinks/x").status, 409);
  EXPECT_EQ(get("/admin/v1/sources").status, 200);
  EXPECT_EQ(head_revision(), 0);
}

TEST_F(AdminApiTest, ListsPageWithAnOpaqueCursor) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(post("/admin/v1/suppressions", {{"user_id", "u" + std::to_string(i)}}).status, 201);
  }
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    Answer a = get("/admin/v1/suppressions?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(a.status, 200) << a.raw;
    ++pages;
    EXPECT_LE(a.body["items"].size(), 2u);
    for (const auto& item : a.body["items"]) seen.push_back(item["user_id"]);
    cursor = a.body.value("next_cursor", "");
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"u0", "u1", "u2", "u3", "u4"}));

  // Revisions page newest first.
  Answer revs = get("/admin/v1/revisions?limit=3");
  ASSERT_EQ(revs.body["items"].size(), 3u);
  Answer rest =
      get("/admin/v1/revisions?limit=3&cursor=" + revs.body["next_cursor"].get<std::string>());
  ASSERT_EQ(rest.body["items"].size(), 2u);
  EXPECT_EQ(rest.body["items"][1]["revision"], 1);
  EXPECT_FALSE(rest.body.contains("next_cursor"));
  EXPECT_EQ(get("/admin/v1/suppressions?limit=0").status, 422);
}

TEST_F(AdminApiTest, UnknownPathsAre404AndWrongMethods405) {
  Answer unknown = get("/admin/v1/nothing-here");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.code(), "not_found");
  EXPECT_EQ(get("/admin/v1/sources/missing").status, 404);
  Answer wrong = call({"DELETE", "/admin/v1/state"});
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.code(), "method_not_allowed");
  EXPECT_NE(wrong.header("Allow").find("PUT"), std::string::npos);
}

TEST_F(AdminApiTest, RoutesGetAnIdAndCanBeReplaced) {
  ASSERT_EQ(post("/admin/v1/sources", {{"id", "web"}}).status, 201);
  ASSERT_EQ(post("/admin/v1/sinks", file_sink("archive")).status, 201);
  Answer r = post("/admin/v1/routes", {{"sources", {"web"}}, {"sinks", {"archive"}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const std::string id = r.body["id"];
  EXPECT_EQ(id.rfind("rt_", 0), 0u);
  Answer put =
      call({"PUT", "/admin/v1/routes/" + id, R"({"types": ["track"], "sinks": ["archive"]})",
            kBootstrap, r.header("ETag")});
  ASSERT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(put.body["types"], Json::array({"track"}));
  EXPECT_EQ(put.body["sources"], Json::array());
  EXPECT_EQ(del("/admin/v1/routes/" + id).status, 204);
}

TEST_F(AdminApiTest, PatchReplacesTheGivenKeysAndNullRemovesOne) {
  ASSERT_EQ(post("/admin/v1/sinks",
                 {{"name", "archive"}, {"type", "file"}, {"dir", "/tmp/x"}, {"gzip", true}})
                .status,
            201);
  Answer a = call({"PATCH", "/admin/v1/sinks/archive", R"({"gzip": null, "max_bytes": "1MiB"})"});
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_FALSE(a.body.contains("gzip"));
  EXPECT_EQ(a.body["max_bytes"], "1MiB");
  EXPECT_EQ(a.body["dir"], "/tmp/x");
  Answer rename = call({"PATCH", "/admin/v1/sinks/archive", R"({"name": "other"})"});
  EXPECT_EQ(rename.status, 422);
  EXPECT_EQ(rename.body["error"]["field"], "name");
}

TEST_F(AdminApiTest, SuppressionsAreAddedOnceAndLifted) {
  Answer a =
      post("/admin/v1/suppressions", {{"user_id", "u-123"}, {"reason", "gdpr-erasure-4711"}});
  ASSERT_EQ(a.status, 201) << a.raw;
  EXPECT_EQ(a.body["reason"], "gdpr-erasure-4711");
  EXPECT_FALSE(a.body.value("created_at", "").empty());
  EXPECT_EQ(post("/admin/v1/suppressions", {{"user_id", "u-123"}}).code(), "already_exists");
  EXPECT_EQ(applier.applied.back().suppressions.size(), 1u);
  EXPECT_EQ(del("/admin/v1/suppressions/u-123").status, 204);
  EXPECT_EQ(get("/admin/v1/suppressions/u-123").status, 404);
  EXPECT_TRUE(applier.applied.back().suppressions.empty());
}

TEST_F(AdminApiTest, DryRunOfAWholeStateShowsItsDiff) {
  ASSERT_EQ(post("/admin/v1/sources", {{"id", "web"}}).status, 201);
  Answer state = get("/admin/v1/state");
  Json doc = state.body;
  doc["sources"].push_back({{"id", "ios"}});
  doc["sources"][0]["rate_limit_eps"] = 50;
  Answer a =
      call({"PUT", "/admin/v1/state?dry_run=true", doc.dump(), kBootstrap, state.header("ETag")});
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.body["valid"], true);
  ASSERT_EQ(a.body["diff"].size(), 2u);
  std::map<std::string, Json> by_resource;
  for (const auto& e : a.body["diff"]) by_resource[e["resource"]] = e;
  EXPECT_EQ(by_resource["sources/ios"]["op"], "add");
  EXPECT_EQ(by_resource["sources/web"]["op"], "change");
  EXPECT_EQ(by_resource["sources/web"]["fields"], Json::array({"rate_limit_eps"}));
  EXPECT_EQ(get("/admin/v1/state").header("ETag"), state.header("ETag"));
}

TEST_F(AdminApiTest, EveryCommitIsAuditedWithWhoAndWhatButNoSecret) {
  const std::string writer = create_token("write");
  Json sink = {{"name", "pg"}, {"type", "postgres"}, {"password", "s3cret-value"}};
  ASSERT_EQ(post("/admin/v1/sinks", sink, writer).status, 201);
  Answer audit = get("/admin/v1/audit");
  ASSERT_EQ(audit.status, 200);
  const Json& last = audit.body["items"][0];
  EXPECT_EQ(last["action"], "sinks.create");
  EXPECT_EQ(last["resource"], "sinks/pg");
  EXPECT_EQ(last["revision"], head_revision());
  EXPECT_EQ(last["token_id"].get<std::string>().rfind("tok_", 0), 0u);
  EXPECT_EQ(audit.raw.find("s3cret-value"), std::string::npos);
  EXPECT_EQ(audit.body["items"][1]["action"], "tokens.create");
}

}  // namespace
}  // namespace tern::relay::control
