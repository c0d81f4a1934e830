// AWS credentials for the s3 sink, found the way the AWS SDKs find them.
//
// Chain, first configured provider wins (a provider is "configured" when its
// inputs exist: keys in the settings, AWS_ACCESS_KEY_ID in the environment,
// a shared credentials file holding the profile, AWS_WEB_IDENTITY_TOKEN_FILE +
// AWS_ROLE_ARN, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI, else IMDSv2
// unless AWS_EC2_METADATA_DISABLED=true):
//   1. the sink's settings: access_key_id, secret_access_key, session_token
//   2. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
//   3. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
//      ~/.aws/credentials), section `profile` (else AWS_PROFILE, else "default");
//      a `profile` named in the settings skips step 2, as a profile chosen in
//      code does in the AWS SDKs, and a named profile that is missing is an
//      error, not a reason to go on down the chain
//   4. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
//      (+ AWS_ROLE_SESSION_NAME) through STS AssumeRoleWithWebIdentity
//   5. the container credentials endpoint (ECS/EKS Pod Identity):
//      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on http://169.254.170.2) or
//      AWS_CONTAINER_CREDENTIALS_FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN
//      or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE as its Authorization header
//   6. IMDSv2: PUT /latest/api/token, then the role under
//      /latest/meta-data/iam/security-credentials/ (endpoint from
//      AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254)
// Then, with assume_role set, those credentials call STS AssumeRole
// (RoleArn, ExternalId, RoleSessionName) and the role's credentials are used.
//
// Temporary credentials are refreshed in the background of get(): once less
// than 5 minutes are left, the next get() fetches new ones (a failed refresh
// keeps the old ones while they are valid).
//
// Secrets (secret keys, session tokens, web identity tokens) never appear in
// a Status message, a log line or describe().
//
// Threads: get(), invalidate() and describe() are thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tern/base/status.h"

namespace tern::relay::s3 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
  // When temporary credentials expire; nullopt for long-term keys.
  std::optional<std::chrono::system_clock::time_point> expiration;
};

struct CredentialOptions {
  // From the sink's settings (step 1 when access_key_id is set; both keys
  // must then be set).
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string profile;  // empty: AWS_PROFILE, else "default"
  std::string region;   // for STS's endpoint and signature
  // STS's URL; empty: AWS_ENDPOINT_URL_STS, else https://sts.{region}.amazonaws.com.
  std::string sts_endpoint;
  std::string assume_role;  // a role ARN to assume with the chain's credentials
  std::string external_id;
  std::string role_session_name;            // empty: "tern-relay"
  std::chrono::milliseconds timeout{5000};  // each HTTP call of a provider
  // Reads the environment; tests inject their own. Null: ::getenv.
  std::function<const char*(const char*)> getenv;
  // Where "now" comes from for expiry decisions; null: system_clock.
  std::function<std::chrono::system_clock::time_point()> now;
};

class CredentialProvider {
 public:
  virtual ~CredentialProvider() = default;
  // Valid credentials, fetched or refreshed as needed (blocking up to the
  // providers' timeouts). kPermissionDenied when no provider is configured or
  // the configured one refuses (its message says which provider and why);
  // kUnavailable when its endpoint cannot be reached (retry later).
  virtual Result<Credentials> get() = 0;
  // Drops cached temporary credentials (after an ExpiredToken answer): the
  // next get() fetches again.
  virtual void invalidate() = 0;
  // Which provider answered ("settings", "environment", "profile prod",
  // "web identity arn:...", "container", "imds", "... then assume_role arn:...").
  virtual std::string describe() const = 0;
};

// The chain above. kInvalidArgument for settings that contradict themselves
// (a secret without a key id, an external_id without assume_role). No I/O:
// providers are tried at the first get().
Result<std::shared_ptr<CredentialProvider>> make_credential_chain(CredentialOptions options);

// A provider returning fixed credentials (tests, and the settings' keys).
std::shared_ptr<CredentialProvider> make_static_credentials(Credentials credentials);

}  // namespace tern::relay::s3
