// The console's files (relay/console) as the admin listener serves them:
// compiled in byte for byte, with the right types and the headers that keep
// the page to its own origin; unknown files are the API's own 404.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "admin_api.h"
#include "admin_console.h"
#include "quiet_applier.h"
#include "request_handler.h"
#include "temp_dir.h"

namespace tern::relay::control {
namespace {

std::string header(const HttpResponse& r, std::string_view name) {
  const std::string* v = r.header(name);
  return v ? *v : std::string();
}

std::string read_source(const std::string& name) {
  std::ifstream in(std::string(TERN_CONSOLE_SOURCE_DIR) + "/" + name, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ConsoleFilesTest, RootServesIndexHtmlWithAContentSecurityPolicyOfItsOwnOrigin) {
  std::optional<HttpResponse> r = console_file("/");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r->body, read_source("index.html"));
  const std::string csp = header(*r, "Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("style-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
  EXPECT_EQ(header(*r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(*r, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(header(*r, "Cache-Control"), "no-cache");
  EXPECT_FALSE(header(*r, "ETag").empty());
}

TEST(ConsoleFilesTest, EveryFileOfRelayConsoleIsServedByteForByteWithItsType) {
  std::size_t served = 0;
  for (const auto& entry : std::filesystem::directory_iterator(TERN_CONSOLE_SOURCE_DIR)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    std::optional<HttpResponse> r = console_file("/console/" + name);
    ASSERT_TRUE(r.has_value()) << name << " is not compiled in";
    EXPECT_EQ(r->body, read_source(name)) << name << " differs from the compiled-in copy";
    EXPECT_FALSE(header(*r, "Content-Security-Policy").empty()) << name;
    const std::string ext = entry.path().extension().string();
    if (ext == ".js") {
      EXPECT_EQ(r->content_type, "text/javascript; charset=utf-8") << name;
    } else if (ext == ".css") {
      EXPECT_EQ(r->content_type, "text/css; charset=utf-8") << name;
    }
    ++served;
  }
  EXPECT_GE(served, 5u);
}

TEST(ConsoleFilesTest, ETagsDifferBetweenFiles) {
  std::optional<HttpResponse> a = console_file("/console/app.js");
  std::optional<HttpResponse> b = console_file("/console/console.css");
  ASSERT_TRUE(a && b);
  EXPECT_NE(header(*a, "ETag"), header(*b, "ETag"));
}

TEST(ConsoleFilesTest, PathsOutsideTheConsoleAreNotItsFiles) {
  EXPECT_FALSE(console_file("/console/no-such-file.js").has_value());
  EXPECT_FALSE(console_file("/console/").has_value());
  EXPECT_FALSE(console_file("/console/../index.html").has_value());
  EXPECT_FALSE(console_file("/app.js").has_value());
  EXPECT_FALSE(console_file("/admin/v1/sources").has_value());
}

class ConsoleThroughTheApiTest : public ::testing::Test {
 protected:
  ConsoleThroughTheApiTest() {
    auto s = ControlStore::open(dir.file("control/state.db"));
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    store = std::move(s).value();
    api = std::make_unique<AdminApi>(store.get(), &applier, &metrics, AdminOptions{});
    api->set_bootstrap_token("tat_console_files_test");
  }

  HttpResponse get(const std::string& target, const std::string& if_none_match = {}) {
    HttpRequest req;
    req.method = "GET";
    req.target = target;
    req.if_none_match = if_none_match;
    req.peer_ip = "127.0.0.1";
    req.received_at = std::chrono::system_clock::now();
    req.received_steady = std::chrono::steady_clock::now();
    std::optional<HttpResponse> got;
    api->handle(std::move(req), *scratch, [&](HttpResponse r) { got = std::move(r); });
    EXPECT_TRUE(got.has_value()) << target << " was not answered inline";
    return got ? std::move(*got) : HttpResponse{};
  }

  testing::TempDir dir;
  QuietApplier applier;  // no state behind the API: it routes the files and 404s
  Metrics metrics;
  std::unique_ptr<ControlStore> store;
  std::unique_ptr<AdminApi> api;
  std::unique_ptr<RequestScratch, void (*)(RequestScratch*)> scratch = make_request_scratch();
};

TEST_F(ConsoleThroughTheApiTest, ThePageIsServedWithoutAToken) {
  HttpResponse r = get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("/console/app.js"), std::string::npos);
  EXPECT_FALSE(header(r, "Content-Security-Policy").empty());
  EXPECT_EQ(get("/console/app.js").status, 200);
}

TEST_F(ConsoleThroughTheApiTest, ABrowserRevalidatingAnUnchangedFileGets304) {
  HttpResponse first = get("/console/app.js");
  const std::string tag = header(first, "ETag");
  ASSERT_FALSE(tag.empty());
  HttpResponse again = get("/console/app.js", tag);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(get("/console/app.js", "\"some-other-version\"").status, 200);
  EXPECT_EQ(get("/", tag).status, 200);  // another file's tag
}

TEST_F(ConsoleThroughTheApiTest, AnUnknownConsoleFileIsTheApisOwn404) {
  HttpResponse r = get("/console/no-such-file.js");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("\"not_found\""), std::string::npos) << r.body;
}

}  // namespace
}  // namespace tern::relay::control
