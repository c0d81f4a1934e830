// The s3 sink's AWS credential chain: which provider wins, what each one
// sends, when temporary credentials are fetched again, and that no secret
// shows in describe() or an error. The metadata endpoints are a small fake
// HTTP server in this file; STS is moto's server, started here (or reached
// at TERN_MOTO_ENDPOINT when a fixture provides one).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aws_credentials.h"
#include "aws_sts.h"
#include "child_process.h"
#include "temp_dir.h"
#include "tern/base/iso8601.h"
#include "wait_until.h"

namespace tern::relay::s3 {
namespace {

using namespace std::chrono_literals;
using SysClock = std::chrono::system_clock;
using TimePoint = SysClock::time_point;

// ---- a fake HTTP endpoint (container credentials, IMDS, STS errors) ----

struct SeenRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct Reply {
  int status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};
};

// Serves one connection at a time on 127.0.0.1 (a free port), answering
// every request with what the handler says and closing the connection.
class FakeHttpServer {
 public:
  using Handler = std::function<Reply(const SeenRequest&)>;

  explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "fake server: bind/listen failed";
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<SeenRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  std::size_t count(const std::string& path) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t n = 0;
    for (const auto& r : seen_) n += r.path == path;
    return n;
  }
  void set_handler(Handler handler) {
    std::lock_guard<std::mutex> lock(mu_);
    handler_ = std::move(handler);
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      handle(c);
      ::close(c);
    }
  }

  bool read_more(int c, std::string& buf) {
    pollfd p{c, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    char tmp[4096];
    ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  void handle(int c) {
    std::string buf;
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more(c, buf)) return;
    }
    SeenRequest r;
    std::string head = buf.substr(0, end);
    std::size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    r.method = first.substr(0, first.find(' '));
    r.path = first.substr(r.method.size() + 1, first.rfind(' ') - r.method.size() - 1);
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      std::size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(pos, next - pos);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        r.headers[name] = line.substr(v);
      }
      pos = next + 2;
    }
    std::size_t length = 0;
    if (r.headers.count("content-length")) length = std::stoul(r.headers["content-length"]);
    r.body = buf.substr(end + 4);
    while (r.body.size() < length) {
      if (!read_more(c, r.body)) break;
    }
    Handler handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(r);
      handler = handler_;
    }
    Reply reply = handler(r);
    if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) +
                      " X\r\nContent-Length: " + std::to_string(reply.body.size()) +
                      "\r\nConnection: close\r\n\r\n" + reply.body;
    ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<SeenRequest> seen_;
};

// A port nothing listens on (bound, then closed).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// ---- injected environment and clock ----

struct World {
  std::shared_ptr<std::map<std::string, std::string>> vars =
      std::make_shared<std::map<std::string, std::string>>();
  std::shared_ptr<TimePoint> now = std::make_shared<TimePoint>(SysClock::now());

  // Every chain here starts with IMDS off and no home directory, so that
  // the machine's own ~/.aws or EC2 role never leaks into a test.
  World() {
    set("AWS_EC2_METADATA_DISABLED", "true");
    set("HOME", "/nonexistent-tern-test-home");
  }
  void set(const std::string& name, const std::string& value) { (*vars)[name] = value; }
  void unset(const std::string& name) { vars->erase(name); }

  CredentialOptions options() const {
    CredentialOptions o;
    auto v = vars;
    o.getenv = [v](const char* name) -> const char* {
      auto it = v->find(name);
      return it == v->end() ? nullptr : it->second.c_str();
    };
    auto n = now;
    o.now = [n] { return *n; };
    o.timeout = 3000ms;
    return o;
  }
};

std::shared_ptr<CredentialProvider> chain(CredentialOptions o) {
  auto r = make_credential_chain(std::move(o));
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r.value() : nullptr;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string metadata_json(const std::string& key, const std::string& secret,
                          const std::string& token, TimePoint expiration) {
  nlohmann::json j = {{"Code", "Success"},  {"Type", "AWS-HMAC"},
                      {"AccessKeyId", key}, {"SecretAccessKey", secret},
                      {"Token", token},     {"Expiration", base::format_iso8601_ms(expiration)}};
  return j.dump();
}

// True when `text` holds none of the secrets.
::testing::AssertionResult no_secret(const std::string& text,
                                     std::initializer_list<std::string> secrets) {
  for (const auto& s : secrets) {
    if (!s.empty() && text.find(s) != std::string::npos) {
      return ::testing::AssertionFailure() << "\"" << text << "\" holds a secret";
    }
  }
  return ::testing::AssertionSuccess();
}

// ---- the chain's order ----

TEST(AwsCredentialChainTest, SettingsWinOverTheEnvironment) {
  World w;
  w.set("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT");
  w.set("AWS_SECRET_ACCESS_KEY", "env-secret");
  CredentialOptions o = w.options();
  o.access_key_id = "AKIASETTINGS";
  o.secret_access_key = "settings-secret";
  o.session_token = "settings-token";
  auto p = chain(o);
  auto c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "AKIASETTINGS");
  EXPECT_EQ(c->secret_access_key, "settings-secret");
  EXPECT_EQ(c->session_token, "settings-token");
  EXPECT_FALSE(c->expiration.has_value());
  EXPECT_EQ(p->describe(), "settings");
  EXPECT_TRUE(no_secret(p->describe(), {"settings-secret", "settings-token"}));
}

TEST(AwsCredentialChainTest, EnvironmentWinsOverTheCredentialsFile) {
  World w;
  tern::testing::TempDir dir;
  write_file(dir.file("credentials"),
             "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = file-secret\n");
  w.set("AWS_SHARED_CREDENTIALS_FILE", dir.file("credentials"));
  w.set("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT");
  w.set("AWS_SECRET_ACCESS_KEY", "env-secret");
  w.set("AWS_SESSION_TOKEN", "env-token");
  auto p = chain(w.options());
  auto c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "AKIAENVIRONMENT");
  EXPECT_EQ(c->secret_access_key, "env-secret");
  EXPECT_EQ(c->session_token, "env-token");
  EXPECT_EQ(p->describe(), "environment");
}

TEST(AwsCredentialChainTest, EnvironmentWithoutASecretIsRefusedWithoutFallingThrough) {
  World w;
  w.set("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT");
  auto c = chain(w.options())->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(c.status().message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
}

const char* kCredentialsFile =
    "# keys for the lake\n"
    "; an old-style comment\n"
    "[default]\n"
    "aws_access_key_id = AKIADEFAULT\n"
    "aws_secret_access_key = default-secret\n"
    "\n"
    "[prod]\n"
    "  aws_access_key_id=AKIAPROD   # the prod writer\n"
    "aws_secret_access_key = prod/secret+key\n"
    "aws_session_token = prod-token ; rotated daily\n"
    "[staging]\n"
    "aws_access_key_id = AKIASTAGING\n"
    "aws_secret_access_key = staging-secret\n";

TEST(AwsCredentialChainTest, NamedProfileIsReadFromTheCredentialsFile) {
  World w;
  tern::testing::TempDir dir;
  write_file(dir.file("credentials"), kCredentialsFile);
  w.set("AWS_SHARED_CREDENTIALS_FILE", dir.file("credentials"));
  w.set("AWS_PROFILE", "staging");  // the sink's setting wins over it
  CredentialOptions o = w.options();
  o.profile = "prod";
  auto p = chain(o);
  auto c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "AKIAPROD");
  EXPECT_EQ(c->secret_access_key, "prod/secret+key");
  EXPECT_EQ(c->session_token, "prod-token");
  EXPECT_EQ(p->describe(), "profile prod");
}

TEST(AwsCredentialChainTest, ProfileNamedInTheSettingsWinsOverTheEnvironmentButAwsProfileDoesNot) {
  World w;
  tern::testing::TempDir dir;
  write_file(dir.file("credentials"), kCredentialsFile);
  w.set("AWS_SHARED_CREDENTIALS_FILE", dir.file("credentials"));
  w.set("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT");
  w.set("AWS_SECRET_ACCESS_KEY", "env-secret");
  CredentialOptions o = w.options();
  o.profile = "prod";
  auto c = chain(o)->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "AKIAPROD");

  w.set("AWS_PROFILE", "prod");
  c = chain(w.options())->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "AKIAENVIRONMENT");
}

TEST(AwsCredentialChainTest, AwsProfileSelectsTheProfileWhenTheSinkNamesNone) {
  World w;
  tern::testing::TempDir dir;
  write_file(dir.file("credentials"), kCredentialsFile);
  w.set("AWS_SHARED_CREDENTIALS_FILE", dir.file("credentials"));
  w.set("AWS_PROFILE", "staging");
  auto p = chain(w.options());
  auto c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "AKIASTAGING");
  EXPECT_EQ(c->session_token, "");
  EXPECT_EQ(p->describe(), "profile staging");
}

TEST(AwsCredentialChainTest, DefaultProfileUnderHomeIsUsedWhenNoneIsNamed) {
  World w;
  tern::testing::TempDir dir;
  std::filesystem::create_directories(dir.file(".aws"));
  write_file(dir.file(".aws/credentials"), kCredentialsFile);
  w.set("HOME", dir.path());
  auto p = chain(w.options());
  auto c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "AKIADEFAULT");
  EXPECT_EQ(p->describe(), "profile default");
}

TEST(AwsCredentialChainTest, MissingProfileSaysWhichFileAndProfile) {
  World w;
  tern::testing::TempDir dir;
  write_file(dir.file("credentials"), kCredentialsFile);
  w.set("AWS_SHARED_CREDENTIALS_FILE", dir.file("credentials"));
  CredentialOptions o = w.options();
  o.profile = "archive";
  auto c = chain(o)->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(c.status().message().find("archive"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find(dir.file("credentials")), std::string::npos)
      << c.status().message();
  EXPECT_TRUE(no_secret(c.status().message(), {"default-secret", "prod/secret+key"}));

  w.set("AWS_SHARED_CREDENTIALS_FILE", dir.file("nowhere"));
  w.set("AWS_PROFILE", "archive");
  c = chain(w.options())->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("archive"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find(dir.file("nowhere")), std::string::npos)
      << c.status().message();
}

TEST(AwsCredentialChainTest, NothingConfiguredIsPermissionDeniedNamingEveryProviderTried) {
  World w;
  auto p = chain(w.options());
  auto c = p->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  const std::string m = c.status().message();
  for (const char* provider : {"settings", "environment", "shared credentials file", "web identity",
                               "container", "imds"}) {
    EXPECT_NE(m.find(provider), std::string::npos) << provider << " missing from: " << m;
  }
  EXPECT_EQ(p->describe(), "none yet");
}

TEST(AwsCredentialChainTest, ContradictorySettingsAreInvalidArguments) {
  World w;
  CredentialOptions o = w.options();
  o.secret_access_key = "a-secret-without-key";
  auto r = make_credential_chain(o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(no_secret(r.status().message(), {"a-secret-without-key"}));

  o = w.options();
  o.access_key_id = "AKIAONLY";
  EXPECT_EQ(make_credential_chain(o).status().code(), StatusCode::kInvalidArgument);

  o = w.options();
  o.external_id = "ext-1";
  r = make_credential_chain(o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("assume_role"), std::string::npos);
}

TEST(AwsCredentialChainTest, StaticCredentialsAreReturnedAsGiven) {
  Credentials given{"AKIASTATIC", "static-secret", "static-token", std::nullopt};
  auto p = make_static_credentials(given);
  auto c = p->get();
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->access_key_id, "AKIASTATIC");
  EXPECT_EQ(c->secret_access_key, "static-secret");
  EXPECT_EQ(c->session_token, "static-token");
  p->invalidate();
  EXPECT_EQ(p->get()->access_key_id, "AKIASTATIC");
  EXPECT_TRUE(no_secret(p->describe(), {"static-secret", "static-token"}));
}

// ---- the container endpoint ----

TEST(AwsCredentialChainTest, ContainerEndpointGetsTheAuthorizationTokenAndGivesCredentials) {
  World w;
  TimePoint expiration = *w.now + 6h;
  FakeHttpServer server([&](const SeenRequest&) {
    return Reply{200,
                 metadata_json("ASIACONTAINER", "container-secret", "container-token", expiration)};
  });
  w.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/v2/credentials/abc");
  w.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-token-123");
  auto p = chain(w.options());
  auto c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "ASIACONTAINER");
  EXPECT_EQ(c->secret_access_key, "container-secret");
  EXPECT_EQ(c->session_token, "container-token");
  ASSERT_TRUE(c->expiration.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(*c->expiration - expiration).count(),
            0);
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/v2/credentials/abc");
  EXPECT_EQ(seen[0].headers["authorization"], "auth-token-123");
  EXPECT_EQ(p->describe(), "container");
}

TEST(AwsCredentialChainTest, ContainerTokenFileWinsOverTheTokenVariable) {
  World w;
  tern::testing::TempDir dir;
  write_file(dir.file("token"), "token-from-file\n");
  FakeHttpServer server([&](const SeenRequest&) {
    return Reply{200, metadata_json("ASIAC", "s", "t", *w.now + 1h)};
  });
  w.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds");
  w.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "token-from-variable");
  w.set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", dir.file("token"));
  auto c = chain(w.options())->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].headers["authorization"], "token-from-file");
}

TEST(AwsCredentialChainTest, ContainerRefusalIsPermissionDeniedWithoutTheToken) {
  World w;
  FakeHttpServer server([](const SeenRequest&) { return Reply{403, "denied"}; });
  w.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds");
  w.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-token-456");
  auto p = chain(w.options());
  auto c = p->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(c.status().message().find("403"), std::string::npos) << c.status().message();
  EXPECT_TRUE(no_secret(c.status().message(), {"auth-token-456"}));
  EXPECT_TRUE(no_secret(p->describe(), {"auth-token-456"}));
}

TEST(AwsCredentialChainTest, ContainerFullUriOnAForeignPlainHttpHostIsRefused) {
  World w;
  w.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://198.51.100.7/creds");
  auto c = chain(w.options())->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(c.status().message().find("198.51.100.7"), std::string::npos);
}

// ---- IMDSv2 ----

// An EC2 metadata service: IMDSv2 unless v1_only (then the token PUT is refused).
Reply imds(const SeenRequest& r, bool v1_only, TimePoint expiration, const std::string& key) {
  if (r.method == "PUT" && r.path == "/latest/api/token") {
    if (v1_only) return Reply{405, ""};
    if (r.headers.count("x-aws-ec2-metadata-token-ttl-seconds") == 0) return Reply{400, ""};
    return Reply{200, "imds-session-token"};
  }
  if (!v1_only && (r.headers.count("x-aws-ec2-metadata-token") == 0 ||
                   r.headers.at("x-aws-ec2-metadata-token") != "imds-session-token")) {
    return Reply{401, ""};
  }
  if (r.path == "/latest/meta-data/iam/security-credentials/") return Reply{200, "lake-writer"};
  if (r.path == "/latest/meta-data/iam/security-credentials/lake-writer") {
    return Reply{200, metadata_json(key, "imds-secret", "imds-token", expiration)};
  }
  return Reply{404, ""};
}

TEST(AwsCredentialChainTest, ImdsV2SendsTheSessionTokenWithEveryMetadataRequest) {
  World w;
  FakeHttpServer server(
      [&](const SeenRequest& r) { return imds(r, false, *w.now + 6h, "ASIAIMDS"); });
  w.set("AWS_EC2_METADATA_DISABLED", "false");
  w.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url() + "/");
  auto p = chain(w.options());
  auto c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "ASIAIMDS");
  EXPECT_EQ(c->secret_access_key, "imds-secret");
  EXPECT_EQ(c->session_token, "imds-token");
  EXPECT_EQ(p->describe(), "imds");

  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].path, "/latest/api/token");
  EXPECT_EQ(seen[0].headers["x-aws-ec2-metadata-token-ttl-seconds"], "21600");
  for (int i : {1, 2}) {
    EXPECT_EQ(seen[i].method, "GET");
    EXPECT_EQ(seen[i].headers["x-aws-ec2-metadata-token"], "imds-session-token");
  }
  EXPECT_EQ(seen[1].path, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(seen[2].path, "/latest/meta-data/iam/security-credentials/lake-writer");
}

TEST(AwsCredentialChainTest, ImdsV1OnlyEndpointIsAnErrorNotASilentFallback) {
  World w;
  FakeHttpServer server([&](const SeenRequest& r) { return imds(r, true, *w.now + 6h, "ASIAV1"); });
  w.set("AWS_EC2_METADATA_DISABLED", "false");
  w.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url());
  auto c = chain(w.options())->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(c.status().message().find("token"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("405"), std::string::npos) << c.status().message();
  // Only the refused PUT: no IMDSv1 GET followed it.
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].method, "PUT");
}

TEST(AwsCredentialChainTest, ImdsWithoutAnInstanceRoleSaysSo) {
  World w;
  FakeHttpServer server([](const SeenRequest& r) {
    if (r.method == "PUT") return Reply{200, "imds-session-token"};
    return Reply{404, ""};
  });
  w.set("AWS_EC2_METADATA_DISABLED", "false");
  w.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url());
  auto c = chain(w.options())->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(c.status().message().find("no IAM role"), std::string::npos) << c.status().message();
  EXPECT_TRUE(no_secret(c.status().message(), {"imds-session-token"}));
}

TEST(AwsCredentialChainTest, UnreachableImdsIsUnavailable) {
  World w;
  w.set("AWS_EC2_METADATA_DISABLED", "false");
  w.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:" + std::to_string(closed_port()));
  auto p = chain(w.options());
  auto c = p->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("imds"), std::string::npos) << c.status().message();
  EXPECT_EQ(p->describe(), "none yet (imds has not answered)");
}

// ---- refresh ----

TEST(AwsCredentialChainTest, TemporaryCredentialsAreFetchedAgainOnlyWithinFiveMinutesOfExpiry) {
  World w;
  const TimePoint start = *w.now;
  std::atomic<int> served{0};
  FakeHttpServer server([&](const SeenRequest&) {
    int n = ++served;
    // Each answer lasts one hour from the (injected) time it is given.
    return Reply{200, metadata_json("ASIA" + std::to_string(n), "secret-" + std::to_string(n),
                                    "token-" + std::to_string(n), *w.now + 1h)};
  });
  w.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds");
  auto p = chain(w.options());

  ASSERT_EQ(p->get()->access_key_id, "ASIA1");
  *w.now = start + 54min;
  EXPECT_EQ(p->get()->access_key_id, "ASIA1");
  *w.now = start + 54min + 59s;
  EXPECT_EQ(p->get()->access_key_id, "ASIA1");
  EXPECT_EQ(served.load(), 1);

  *w.now = start + 55min + 1s;  // less than 5 minutes left
  auto c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "ASIA2");
  EXPECT_EQ(c->secret_access_key, "secret-2");
  EXPECT_EQ(served.load(), 2);
  EXPECT_EQ(p->get()->access_key_id, "ASIA2");
  EXPECT_EQ(served.load(), 2);
}

TEST(AwsCredentialChainTest, AFailedRefreshKeepsCredentialsThatAreStillValid) {
  World w;
  const TimePoint start = *w.now;
  FakeHttpServer server([&](const SeenRequest&) {
    return Reply{200, metadata_json("ASIAOLD", "old-secret", "old-token", start + 1h)};
  });
  w.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds");
  auto p = chain(w.options());
  ASSERT_EQ(p->get()->access_key_id, "ASIAOLD");

  server.set_handler([](const SeenRequest&) { return Reply{500, "down"}; });
  *w.now = start + 58min;  // inside the margin: a refresh is attempted, and fails
  auto c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "ASIAOLD");
  EXPECT_EQ(server.requests().size(), 2u);

  *w.now = start + 1h + 1s;  // the old ones have expired: the failure shows
  c = p->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("500"), std::string::npos) << c.status().message();
  EXPECT_TRUE(no_secret(c.status().message(), {"old-secret", "old-token"}));
  EXPECT_EQ(server.requests().size(), 3u);

  // The endpoint is back: the next get() fetches anew.
  server.set_handler([&](const SeenRequest&) {
    return Reply{200, metadata_json("ASIANEW", "new-secret", "new-token", *w.now + 1h)};
  });
  *w.now += 11s;
  c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "ASIANEW");
}

TEST(AwsCredentialChainTest, InvalidateMakesTheNextGetFetchAgain) {
  World w;
  std::atomic<int> served{0};
  FakeHttpServer server([&](const SeenRequest&) {
    int n = ++served;
    return Reply{200, metadata_json("ASIA" + std::to_string(n), "s", "t", *w.now + 1h)};
  });
  w.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds");
  auto p = chain(w.options());
  ASSERT_EQ(p->get()->access_key_id, "ASIA1");
  EXPECT_EQ(p->get()->access_key_id, "ASIA1");
  p->invalidate();
  EXPECT_EQ(p->get()->access_key_id, "ASIA2");
}

TEST(AwsCredentialChainTest, ConcurrentGetsShareOneFetch) {
  World w;
  std::atomic<int> served{0};
  FakeHttpServer server([&](const SeenRequest&) {
    ++served;
    return Reply{200, metadata_json("ASIASHARED", "s", "t", *w.now + 1h), 200ms};
  });
  w.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds");
  auto p = chain(w.options());
  ASSERT_TRUE(p->get().is_ok());  // the chain has picked its provider
  p->invalidate();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto c = p->get();
      if (c.is_ok() && c->access_key_id == "ASIASHARED") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(served.load(), 2);
}

// ---- STS ----

TEST(AwsCredentialChainTest, StsRefusalGivesItsCodeButNeverTheWebIdentityToken) {
  World w;
  tern::testing::TempDir dir;
  const std::string token = "eyJhbGciOiJSUzI1NiJ9.web-identity-secret";
  write_file(dir.file("token"), token + "\n");
  FakeHttpServer sts([&](const SeenRequest&) {
    return Reply{400,
                 "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                 "<Message>Bad token " +
                     token + " &amp; more</Message></Error></ErrorResponse>"};
  });
  w.set("AWS_WEB_IDENTITY_TOKEN_FILE", dir.file("token"));
  w.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web");
  CredentialOptions o = w.options();
  o.sts_endpoint = sts.url();
  auto p = chain(o);
  auto c = p->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(c.status().message().find("InvalidIdentityToken"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("arn:aws:iam::123456789012:role/web"), std::string::npos);
  EXPECT_TRUE(no_secret(c.status().message(), {token, "web-identity-secret"}));
  EXPECT_TRUE(no_secret(p->describe(), {token}));

  // What was sent: an unsigned form POST carrying the token.
  auto seen = sts.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].headers.count("authorization"), 0u);
  EXPECT_NE(seen[0].body.find("Action=AssumeRoleWithWebIdentity"), std::string::npos);
  EXPECT_NE(seen[0].body.find("Version=2011-06-15"), std::string::npos);
  EXPECT_NE(seen[0].body.find("RoleSessionName=tern-relay"), std::string::npos);
  EXPECT_NE(seen[0].body.find("WebIdentityToken=" + detail::form_escape(token)), std::string::npos);
}

TEST(AwsCredentialChainTest, AssumeRoleIsSignedWithTheSourceCredentialsAndItsRefusalHidesThem) {
  World w;
  FakeHttpServer sts([](const SeenRequest&) {
    return Reply{403,
                 "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                 "<Message>not allowed to assume the role</Message></Error></ErrorResponse>"};
  });
  CredentialOptions o = w.options();
  o.access_key_id = "AKIASOURCE";
  o.secret_access_key = "source-secret";
  o.session_token = "source-session-token";
  o.assume_role = "arn:aws:iam::123456789012:role/lake-writer";
  o.external_id = "ext-7";
  o.region = "eu-west-1";
  o.sts_endpoint = sts.url();
  auto p = chain(o);
  auto c = p->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(c.status().message().find("AccessDenied"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("assume_role arn:aws:iam::123456789012:role/lake-writer"),
            std::string::npos)
      << c.status().message();
  EXPECT_TRUE(no_secret(c.status().message(), {"source-secret", "source-session-token"}));
  EXPECT_TRUE(no_secret(p->describe(), {"source-secret", "source-session-token"}));

  auto seen = sts.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  const std::string& auth = seen[0].headers["authorization"];
  EXPECT_EQ(auth.rfind("AWS4-HMAC-SHA256 Credential=AKIASOURCE/", 0), 0u) << auth;
  EXPECT_NE(auth.find("/eu-west-1/sts/aws4_request"), std::string::npos) << auth;
  EXPECT_NE(auth.find("Signature="), std::string::npos) << auth;
  EXPECT_TRUE(no_secret(auth, {"source-secret"}));
  EXPECT_EQ(seen[0].headers["x-amz-security-token"], "source-session-token");
  EXPECT_EQ(seen[0].headers.count("x-amz-date"), 1u);
  EXPECT_NE(seen[0].body.find("Action=AssumeRole&"), std::string::npos) << seen[0].body;
  EXPECT_NE(seen[0].body.find("ExternalId=ext-7"), std::string::npos) << seen[0].body;
  EXPECT_NE(seen[0].body.find("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Flake-writer"),
            std::string::npos)
      << seen[0].body;
}

TEST(AwsCredentialChainTest, WebIdentityUsesAwsEndpointUrlStsAndReadsStsAnswer) {
  World w;
  tern::testing::TempDir dir;
  write_file(dir.file("token"), "header.payload.sig");
  FakeHttpServer sts([](const SeenRequest&) {
    return Reply{200,
                 "<AssumeRoleWithWebIdentityResponse "
                 "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                 "<AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>system:sa"
                 "</SubjectFromWebIdentityToken><Credentials>"
                 "<SessionToken>web-session-token</SessionToken>"
                 "<SecretAccessKey>web/secret+key</SecretAccessKey>"
                 "<Expiration>2031-01-02T03:04:05Z</Expiration>"
                 "<AccessKeyId>ASIAWEB</AccessKeyId></Credentials>"
                 "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"};
  });
  w.set("AWS_WEB_IDENTITY_TOKEN_FILE", dir.file("token"));
  w.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web");
  w.set("AWS_ENDPOINT_URL_STS", sts.url());
  auto c = chain(w.options())->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id, "ASIAWEB");
  EXPECT_EQ(c->secret_access_key, "web/secret+key");
  EXPECT_EQ(c->session_token, "web-session-token");
  ASSERT_TRUE(c->expiration.has_value());
  EXPECT_EQ(base::format_iso8601_ms(*c->expiration), "2031-01-02T03:04:05.000Z");
  ASSERT_EQ(sts.requests().size(), 1u);
  EXPECT_EQ(sts.requests()[0].path, "/");
  EXPECT_NE(sts.requests()[0].body.find("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fweb"),
            std::string::npos);
}

TEST(AwsCredentialChainTest, MissingWebIdentityTokenFileNamesTheFile) {
  World w;
  w.set("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/tern/token");
  w.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web");
  auto c = chain(w.options())->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(c.status().message().find("/nonexistent/tern/token"), std::string::npos);
}

TEST(AwsStsTextTest, ExpirationsParseWithFractionsAndOffsets) {
  auto a = detail::parse_iso8601("2026-12-06T12:35:01Z");
  auto b = detail::parse_iso8601("2026-12-06T12:35:01.524022Z");
  auto c = detail::parse_iso8601("2026-12-06T14:35:01+02:00");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(base::format_iso8601_ms(*a), "2026-12-06T12:35:01.000Z");
  EXPECT_EQ(base::format_iso8601_ms(*b), "2026-12-06T12:35:01.524Z");
  EXPECT_EQ(*a, *c);
  EXPECT_FALSE(detail::parse_iso8601("2026-12-06 junk").has_value());
  EXPECT_FALSE(detail::parse_iso8601("2026-12-06T12:35:01").has_value());
}

TEST(AwsStsTextTest, XmlFieldsAreFoundAndUnescaped) {
  std::string xml =
      "<R><Error><Code>AccessDenied</Code><Message>a &lt;b&gt; &amp; c</Message>"
      "</Error><Empty/></R>";
  EXPECT_EQ(detail::xml_text(xml, "Code").value_or("?"), "AccessDenied");
  EXPECT_EQ(detail::xml_text(xml, "Message").value_or("?"), "a <b> & c");
  EXPECT_EQ(detail::xml_text(xml, "Empty").value_or("?"), "");
  EXPECT_FALSE(detail::xml_text(xml, "Missing").has_value());
  EXPECT_FALSE(detail::xml_text(xml, "Err").has_value());  // a prefix of <Error> is not it
}

// ---- against moto's STS ----

// moto's servers for this test process, each started on first use and
// killed when the process ends. plain() accepts any signature (or is the one
// at TERN_MOTO_ENDPOINT when a fixture runs it); signing() checks SigV4
// against its IAM after the first `free_actions` calls, which the test spends
// on creating the IAM user and role it signs with.
class Moto {
 public:
  static Moto& plain() {
    static Moto moto({}, true);
    return moto;
  }
  static constexpr int kFreeActions = 5;
  static Moto& signing() {
    static Moto moto({"INITIAL_NO_AUTH_ACTION_COUNT=" + std::to_string(kFreeActions)}, false);
    return moto;
  }

  const std::string& endpoint() const { return endpoint_; }
  const std::string& error() const { return error_; }
  // moto's recorded state (/moto-api/data.json).
  nlohmann::json state() const {
    detail::HttpRequest req;
    req.url = endpoint_ + "/moto-api/data.json";
    detail::HttpAnswer a = detail::http_call(req);
    return nlohmann::json::parse(a.body, nullptr, false);
  }

 private:
  Moto(std::vector<std::string> env, bool fixture_ok) {
    if (const char* e = std::getenv("TERN_MOTO_ENDPOINT"); fixture_ok && e && *e) {
      endpoint_ = e;
      return;
    }
    std::string python = TERN_TEST_PYTHON;
    if (::access(python.c_str(), X_OK) != 0) {
      error_ = "no Python at " + python + " (scripts/install-deps.sh makes the venv with moto)";
      return;
    }
    tern::testing::ChildProcess::Options opts;
    opts.log_file = log_dir_.file("moto.log");
    opts.env = std::move(env);
    // A port taken between its probe and moto's bind: try another.
    for (int attempt = 0; attempt < 3 && endpoint_.empty(); ++attempt) {
      int port = closed_port();
      if (!process_.start(
              {python, "-m", "moto.server", "-H", "127.0.0.1", "-p", std::to_string(port)}, opts)) {
        error_ = "cannot start moto: " + process_.error();
        return;
      }
      std::string host = "127.0.0.1:" + std::to_string(port);
      bool up = tern::testing::wait_until(
          [&] {
            return !process_.running() ||
                   !tern::testing::http_get(host, "/moto-api/data.json").empty();
          },
          60s);
      if (up && process_.running()) {
        endpoint_ = "http://" + host;
        error_.clear();
        return;
      }
      process_.kill9();
      std::ifstream log(opts.log_file);
      std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      error_ = "moto did not start on " + host + ": " + text.substr(0, 2000);
    }
  }

  tern::testing::TempDir log_dir_;
  tern::testing::ChildProcess process_;
  std::string endpoint_;
  std::string error_;
};

const nlohmann::json* assumed_role(const nlohmann::json& state, const std::string& access_key) {
  if (!state.is_object() || !state.contains("sts") || !state["sts"].contains("AssumedRole")) {
    return nullptr;
  }
  for (const auto& r : state["sts"]["AssumedRole"]) {
    if (r.value("access_key_id", "") == access_key) return &r;
  }
  return nullptr;
}

TEST(AwsCredentialChainMotoTest, WebIdentityAssumesTheRoleThroughSts) {
  Moto& moto = Moto::plain();
  ASSERT_FALSE(moto.endpoint().empty()) << moto.error();
  World w;
  tern::testing::TempDir dir;
  const std::string token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJsYWtlIn0.signature-part";
  write_file(dir.file("token"), token);
  w.set("AWS_WEB_IDENTITY_TOKEN_FILE", dir.file("token"));
  w.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/lake-web");
  w.set("AWS_ROLE_SESSION_NAME", "lake-writer-pod");
  CredentialOptions o = w.options();
  o.now = nullptr;  // moto's expirations are real time
  o.sts_endpoint = moto.endpoint();
  o.region = "us-east-1";
  auto p = chain(o);
  auto c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id.rfind("ASIA", 0), 0u) << c->access_key_id;
  EXPECT_FALSE(c->secret_access_key.empty());
  EXPECT_FALSE(c->session_token.empty());
  ASSERT_TRUE(c->expiration.has_value());
  EXPECT_GT(*c->expiration, SysClock::now() + 10min);
  EXPECT_EQ(p->describe(), "web identity arn:aws:iam::123456789012:role/lake-web");
  EXPECT_TRUE(no_secret(p->describe(), {token, c->secret_access_key, c->session_token}));

  const nlohmann::json state = moto.state();
  const nlohmann::json* role = assumed_role(state, c->access_key_id);
  ASSERT_NE(role, nullptr) << state.dump();
  EXPECT_EQ((*role)["role_arn"], "arn:aws:iam::123456789012:role/lake-web");
  EXPECT_EQ((*role)["session_name"], "lake-writer-pod");
  EXPECT_EQ((*role)["secret_access_key"], c->secret_access_key);
  EXPECT_EQ((*role)["session_token"], c->session_token);
}

TEST(AwsCredentialChainMotoTest, AssumeRoleSendsTheExternalIdAndUsesTheRolesCredentials) {
  Moto& moto = Moto::plain();
  ASSERT_FALSE(moto.endpoint().empty()) << moto.error();
  World w;
  CredentialOptions o = w.options();
  o.now = nullptr;
  o.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  o.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  o.assume_role = "arn:aws:iam::123456789012:role/lake-writer";
  o.external_id = "tern-ext-42";
  o.sts_endpoint = moto.endpoint();
  o.region = "us-east-1";
  auto p = chain(o);
  auto c = p->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_NE(c->access_key_id, o.access_key_id);
  EXPECT_EQ(c->access_key_id.rfind("ASIA", 0), 0u) << c->access_key_id;
  EXPECT_FALSE(c->session_token.empty());
  ASSERT_TRUE(c->expiration.has_value());
  EXPECT_EQ(p->describe(), "settings then assume_role arn:aws:iam::123456789012:role/lake-writer");
  EXPECT_TRUE(
      no_secret(p->describe(), {o.secret_access_key, c->secret_access_key, c->session_token}));

  const nlohmann::json state = moto.state();
  const nlohmann::json* role = assumed_role(state, c->access_key_id);
  ASSERT_NE(role, nullptr) << state.dump();
  EXPECT_EQ((*role)["role_arn"], "arn:aws:iam::123456789012:role/lake-writer");
  EXPECT_EQ((*role)["external_id"], "tern-ext-42");
  EXPECT_EQ((*role)["session_name"], "tern-relay");

  // Cached: a second get() asks STS nothing new.
  auto again = p->get();
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->access_key_id, c->access_key_id);

  // After an ExpiredToken answer the sink invalidates: the role is assumed anew.
  p->invalidate();
  auto fresh = p->get();
  ASSERT_TRUE(fresh.is_ok()) << fresh.status().to_string();
  EXPECT_NE(fresh->access_key_id, c->access_key_id);
  const nlohmann::json after = moto.state();
  EXPECT_NE(assumed_role(after, fresh->access_key_id), nullptr);
}

// One IAM query call to moto, signed with any key: moto does not check the
// first kFreeActions calls.
std::string iam_call(const std::string& endpoint, const std::string& body) {
  detail::HttpRequest req;
  req.method = "POST";
  req.url = endpoint + "/";
  req.headers = {"Content-Type: application/x-www-form-urlencoded"};
  req.body = body + "&Version=2010-05-08";
  req.sigv4 = "aws:amz:us-east-1:iam";
  req.user_pwd = "AKIABOOTSTRAP:bootstrap";
  detail::HttpAnswer a = detail::http_call(req);
  EXPECT_EQ(a.status, 200) << body << ": " << a.error << a.body;
  return a.body;
}

const char* kAllowAll =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";
const char* kTrustAll =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},)"
    R"("Action":"sts:AssumeRole"}]})";

// With signing enforced: an IAM user's key, and a role it may assume.
struct SigningMoto {
  std::string endpoint;
  std::string key_id;
  std::string secret;
  std::string role_arn;
};

const SigningMoto& signing_moto() {
  static SigningMoto m = [] {
    SigningMoto out;
    Moto& moto = Moto::signing();
    if (moto.endpoint().empty()) return out;
    const std::string& e = moto.endpoint();
    // Exactly Moto::kFreeActions unchecked calls.
    iam_call(e, "Action=CreateUser&UserName=lake-relay");
    iam_call(e, "Action=PutUserPolicy&UserName=lake-relay&PolicyName=all&PolicyDocument=" +
                    detail::form_escape(kAllowAll));
    std::string role = iam_call(e,
                                "Action=CreateRole&RoleName=lake-writer&"
                                "AssumeRolePolicyDocument=" +
                                    detail::form_escape(kTrustAll));
    iam_call(e, "Action=PutRolePolicy&RoleName=lake-writer&PolicyName=all&PolicyDocument=" +
                    detail::form_escape(kAllowAll));
    std::string key = iam_call(e, "Action=CreateAccessKey&UserName=lake-relay");
    out.key_id = detail::xml_text(key, "AccessKeyId").value_or("");
    out.secret = detail::xml_text(key, "SecretAccessKey").value_or("");
    out.role_arn = detail::xml_text(role, "Arn").value_or("");
    out.endpoint = e;
    return out;
  }();
  return m;
}

TEST(AwsCredentialChainMotoTest, AssumeRoleIsSignedSoThatStsCheckingSignaturesAcceptsIt) {
  const SigningMoto& m = signing_moto();
  ASSERT_FALSE(m.endpoint.empty()) << Moto::signing().error();
  ASSERT_FALSE(m.key_id.empty());
  ASSERT_FALSE(m.role_arn.empty());
  World w;
  CredentialOptions o = w.options();
  o.now = nullptr;
  o.access_key_id = m.key_id;
  o.secret_access_key = m.secret;
  o.assume_role = m.role_arn;
  o.external_id = "ext-signed";
  o.sts_endpoint = m.endpoint;
  o.region = "us-east-1";
  auto c = chain(o)->get();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->access_key_id.rfind("ASIA", 0), 0u) << c->access_key_id;

  // The role's temporary credentials (with their session token) assume the
  // role again: X-Amz-Security-Token is sent and signed.
  CredentialOptions again = w.options();
  again.now = nullptr;
  again.access_key_id = c->access_key_id;
  again.secret_access_key = c->secret_access_key;
  again.session_token = c->session_token;
  again.assume_role = m.role_arn;
  again.sts_endpoint = m.endpoint;
  again.region = "us-east-1";
  auto c2 = chain(again)->get();
  ASSERT_TRUE(c2.is_ok()) << c2.status().to_string();
  EXPECT_NE(c2->access_key_id, c->access_key_id);
}

TEST(AwsCredentialChainMotoTest, AssumeRoleWithAWrongSecretIsPermissionDeniedWithoutTheSecret) {
  const SigningMoto& m = signing_moto();
  ASSERT_FALSE(m.endpoint.empty()) << Moto::signing().error();
  World w;
  CredentialOptions o = w.options();
  o.access_key_id = m.key_id;
  o.secret_access_key = "wrong-secret-0123456789";
  o.assume_role = m.role_arn;
  o.sts_endpoint = m.endpoint;
  o.region = "us-east-1";
  auto p = chain(o);
  auto c = p->get();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied) << c.status().to_string();
  EXPECT_NE(c.status().message().find("SignatureDoesNotMatch"), std::string::npos)
      << c.status().message();
  EXPECT_TRUE(no_secret(c.status().message(), {"wrong-secret-0123456789", m.secret}));
  EXPECT_TRUE(no_secret(p->describe(), {"wrong-secret-0123456789"}));
}

}  // namespace
}  // namespace tern::relay::s3
