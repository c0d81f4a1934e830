// The s3 sink's STS calls (AssumeRole, AssumeRoleWithWebIdentity) and their
// text helpers: refusals that never show a secret against the fake endpoint
// of aws_test_fakes.h, and real role assumption against moto's STS, started
// here (or reached at TERN_MOTO_ENDPOINT when a fixture provides one).
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aws_credentials.h"
#include "aws_sts.h"
#include "aws_test_fakes.h"
#include "child_process.h"
#include "temp_dir.h"
#include "tern/base/iso8601.h"
#include "wait_until.h"

namespace tern::relay::s3 {
namespace {

using namespace std::chrono_literals;
using namespace aws_test;

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
  // No zone is UTC, as everywhere in Tern.
  EXPECT_EQ(detail::parse_iso8601("2026-12-06T12:35:01"), a);
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
