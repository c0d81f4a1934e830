// ternctl end to end: a control relay (tern-relay --admin-listen) as a child
// process, ternctl run as a user runs it, its output and exit status, and
// what the relay then accepts.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "process_util.h"
#include "wait_until.h"

namespace tern::testing::fleet {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class TernctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    control_ = std::make_unique<ControlRelay>(dir_.file("control"));
    ASSERT_TRUE(control_->start());
  }

  // ternctl against the control relay, addressed by the environment.
  CtlRun ctl(std::vector<std::string> args) {
    std::vector<std::string> with = {"--token-file", control_->token_file()};
    with.insert(with.end(), args.begin(), args.end());
    return ternctl(with, {"TERN_ADMIN_URL=" + control_->admin_url(), "TERN_ADMIN_TOKEN="}, dir_);
  }

  TempDir dir_;
  std::unique_ptr<ControlRelay> control_;
};

TEST_F(TernctlTest, CreateSourcePrintsAWriteKeyTheRelayAcceptsAtOnce) {
  EXPECT_EQ(post_batch(control_->ingest(), "not-a-key-yet"), 401);

  CtlRun r = ctl({"create", "source", "web"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string key = r.out.substr(0, r.out.find('\n'));
  ASSERT_FALSE(key.empty());
  EXPECT_EQ(r.out, key + "\n") << "only the key, for KEY=$(ternctl create source web)";

  EXPECT_EQ(post_batch(control_->ingest(), key), 200);
}

TEST_F(TernctlTest, GetListsResourcesAsATableOrAsTheApisJson) {
  ASSERT_EQ(ctl({"create", "source", "web"}).code, 0);
  ASSERT_EQ(ctl({"create", "source", "ios-app"}).code, 0);

  CtlRun table = ctl({"get", "sources"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("ID", 0), 0u) << table.out;
  EXPECT_NE(table.out.find("\nweb "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\nios-app "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\ndefault "), std::string::npos) << table.out;

  CtlRun json = ctl({"get", "sources", "-o", "json"});
  ASSERT_EQ(json.code, 0) << json.err;
  Json doc = Json::parse(json.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << json.out;
  std::vector<std::string> ids;
  for (const Json& s : doc["items"]) ids.push_back(s["id"]);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"default", "ios-app", "web"}));

  for (const char* kind : {"sinks", "routes", "revisions", "relays"}) {
    CtlRun r = ctl({"get", kind});
    EXPECT_EQ(r.code, 0) << kind << ": " << r.err;
    CtlRun j = ctl({"get", kind, "-o", "json"});
    EXPECT_EQ(j.code, 0) << kind << ": " << j.err;
    EXPECT_TRUE(Json::parse(j.out, nullptr, false).contains("items")) << kind << ": " << j.out;
  }
  CtlRun sinks = ctl({"get", "sinks"});
  EXPECT_NE(sinks.out.find("\nfile "), std::string::npos) << sinks.out;
  CtlRun revisions = ctl({"get", "revisions", "-o", "json"});
  EXPECT_GE(Json::parse(revisions.out)["items"].size(), 3u) << "the seed and two creations";
}

TEST_F(TernctlTest, PlanShowsTheDiffAndChangesNothingApplyCommitsTheFile) {
  std::string archive = dir_.file("archive");
  std::string file = dir_.file("pipeline.toml");
  write_file(file,
             "data_dir = \"/ignored/by/plan\"\n"
             "[server]\nlisten = \"127.0.0.1:1\"\n"
             "[[sources]]\nid = \"default\"\nwrite_keys = [\"seed-key\"]\n"
             "[[sources]]\nid = \"web\"\nwrite_keys = [\"wk-web-1\"]\n"
             "[[sinks]]\nname = \"file\"\ntype = \"file\"\n"
             "[[sinks]]\nname = \"archive\"\ntype = \"file\"\ndir = \"" +
                 archive +
                 "\"\nbatch_linger = \"10ms\"\n"
                 "[[routes]]\nsinks = [\"file\"]\n"
                 "[[routes]]\nsources = [\"web\"]\nsinks = [\"archive\"]\n");
  int64_t before = control_->head();
  ASSERT_GT(before, 0);

  CtlRun plan = ctl({"plan", "-f", file});
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("+ sources/web"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("+ sinks/archive"), std::string::npos) << plan.out;
  EXPECT_EQ(plan.out.find("sources/default"), std::string::npos)
      << "the stored key is the file's: no change\n"
      << plan.out;
  EXPECT_EQ(plan.out.find("sinks/file"), std::string::npos) << plan.out;
  EXPECT_EQ(control_->head(), before) << "a plan commits nothing";
  EXPECT_EQ(post_batch(control_->ingest(), "wk-web-1"), 401);

  CtlRun apply = ctl({"apply", "-f", file});
  ASSERT_EQ(apply.code, 0) << apply.err;
  int64_t after = control_->head();
  EXPECT_GT(after, before);
  EXPECT_EQ(apply.out, "applied: revision " + std::to_string(after) + "\n");

  EXPECT_EQ(post_batch(control_->ingest(), "wk-web-1"), 200);
  EXPECT_EQ(post_batch(control_->ingest(), "seed-key"), 200);
  EXPECT_TRUE(wait_until(
      [&] {
        if (!fs::exists(archive)) return false;
        for (const auto& e : fs::directory_iterator(archive)) {
          if (read_file(e.path().string()).find("Fleet Test") != std::string::npos) return true;
        }
        return false;
      },
      10s))
      << "the web event reaches the archive sink the file added";

  CtlRun again = ctl({"plan", "-f", file});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, "no changes\n");
}

TEST_F(TernctlTest, RestoreCommitsAnOldStateAsANewRevision) {
  int64_t before = control_->head();
  CtlRun created = ctl({"create", "source", "temp"});
  ASSERT_EQ(created.code, 0) << created.err;
  std::string key = created.out.substr(0, created.out.find('\n'));
  ASSERT_EQ(post_batch(control_->ingest(), key), 200);

  CtlRun r = ctl({"restore", std::to_string(before)});
  ASSERT_EQ(r.code, 0) << r.err;
  int64_t now = control_->head();
  EXPECT_EQ(now, before + 2);
  EXPECT_EQ(r.out, "restored revision " + std::to_string(before) + " as revision " +
                       std::to_string(now) + "\n");
  EXPECT_EQ(post_batch(control_->ingest(), key), 401);
  EXPECT_EQ(ctl({"get", "sources"}).out.find("temp"), std::string::npos);
}

TEST_F(TernctlTest, ErrorsExitWithOneAndTheApisMessage) {
  CtlRun missing = ctl({"delete", "sink", "nope"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("not_found"), std::string::npos) << missing.err;
  EXPECT_TRUE(missing.out.empty());

  ASSERT_EQ(ctl({"create", "source", "web"}).code, 0);
  CtlRun twice = ctl({"create", "source", "web"});
  EXPECT_EQ(twice.code, 1);
  EXPECT_NE(twice.err.find("already_exists"), std::string::npos) << twice.err;

  CtlRun bad_id = ctl({"create", "source", "no spaces allowed"});
  EXPECT_EQ(bad_id.code, 1);
  EXPECT_NE(bad_id.err.find("invalid_field"), std::string::npos) << bad_id.err;

  CtlRun wrong_token = ternctl({"--server", control_->admin_url(), "get", "sources"},
                               {"TERN_ADMIN_TOKEN=tat_wrong"}, dir_);
  EXPECT_EQ(wrong_token.code, 1);
  EXPECT_NE(wrong_token.err.find("unauthenticated"), std::string::npos) << wrong_token.err;

  CtlRun down = ternctl({"--server", "http://127.0.0.1:1", "get", "sources"},
                        {"TERN_ADMIN_TOKEN=tat_any"}, dir_);
  EXPECT_EQ(down.code, 1);
  EXPECT_NE(down.err.find("127.0.0.1:1"), std::string::npos) << down.err;

  std::string bad_toml = dir_.file("bad.toml");
  write_file(bad_toml, "[[sources]]\nid = \"x\"\nwrite_keys = [\"k\"]\nack_mode = \"sometimes\"\n");
  CtlRun plan = ctl({"plan", "-f", bad_toml});
  EXPECT_EQ(plan.code, 1);
  EXPECT_NE(plan.err.find("bad.toml:4"), std::string::npos) << plan.err;
  EXPECT_TRUE(plan.out.empty()) << plan.out;

  // Valid TOML the relay cannot build (a setting the file sink does not
  // know): the server's dry run says so, and nothing is committed.
  std::string unbuildable = dir_.file("unbuildable.toml");
  write_file(unbuildable,
             "[[sources]]\nid = \"default\"\nwrite_keys = [\"seed-key\"]\n"
             "[[sinks]]\nname = \"file\"\ntype = \"file\"\nbogus_key = 1\n");
  int64_t before = control_->head();
  CtlRun refused = ctl({"plan", "-f", unbuildable});
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(refused.err.find("sinks/file"), std::string::npos) << refused.err;
  CtlRun not_applied = ctl({"apply", "-f", unbuildable});
  EXPECT_EQ(not_applied.code, 1) << not_applied.out;
  EXPECT_NE(not_applied.err.find("bogus_key"), std::string::npos) << not_applied.err;
  EXPECT_EQ(control_->head(), before);
}

TEST_F(TernctlTest, BadUsageExitsWithTwo) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{},
                                             {"frobnicate"},
                                             {"get"},
                                             {"get", "widgets"},
                                             {"get", "sources", "-o", "yaml"},
                                             {"create", "sink", "x"},
                                             {"delete", "source"},
                                             {"plan"},
                                             {"apply", "pipeline.toml"},
                                             {"restore", "latest"},
                                             {"get", "sources", "--no-such-flag"}}) {
    CtlRun r = ctl(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.code, 2) << joined << "\n" << r.err;
    EXPECT_NE(r.err.find("ternctl"), std::string::npos) << joined;
  }
  CtlRun no_token = ternctl({"get", "sources"},
                            {"TERN_ADMIN_URL=" + control_->admin_url(), "TERN_ADMIN_TOKEN="}, dir_);
  EXPECT_EQ(no_token.code, 2);
  EXPECT_NE(no_token.err.find("TERN_ADMIN_TOKEN"), std::string::npos) << no_token.err;

  CtlRun help = ternctl({"--help"}, {}, dir_);
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("get sources|sinks|routes|relays|revisions"), std::string::npos)
      << help.out;
}

TEST_F(TernctlTest, TheTokenComesFromTheEnvironmentToo) {
  CtlRun r = ternctl({"--server", control_->admin_url(), "get", "sources"},
                     {std::string("TERN_ADMIN_TOKEN=") + ControlRelay::kBootstrapToken}, dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("default"), std::string::npos);
}

}  // namespace
}  // namespace tern::testing::fleet
