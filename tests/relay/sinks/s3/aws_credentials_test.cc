// The s3 sink's AWS credential chain: which provider wins, what each one
// sends, when temporary credentials are fetched again, and that no secret
// shows in describe() or an error. The metadata endpoints are a small fake
// HTTP server (aws_test_fakes.h); the STS calls are in aws_sts_test.cc.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aws_credentials.h"
#include "aws_sts.h"
#include "aws_test_fakes.h"
#include "temp_dir.h"
#include "tern/base/iso8601.h"
#include "wait_until.h"

namespace tern::relay::s3 {
namespace {

using namespace std::chrono_literals;
using namespace aws_test;

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

}  // namespace
}  // namespace tern::relay::s3
