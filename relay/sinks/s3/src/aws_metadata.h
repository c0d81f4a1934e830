// The two metadata endpoints of the credential chain (aws_credentials.h,
// steps 5 and 6), each read from the environment at every call: the
// container credentials endpoint (ECS, EKS Pod Identity) and EC2's IMDSv2.
//
// Internal to the s3 sink. Errors start with `who`; kPermissionDenied when
// the endpoint refuses, kUnavailable when it does not answer or answers 5xx.
// No token or secret appears in them.
#pragma once

#include <chrono>
#include <string>

#include "aws_credentials.h"
#include "aws_sts.h"
#include "tern/base/status.h"

namespace tern::relay::s3::detail {

// GET AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on http://169.254.170.2, else
// AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http on loopback or the ECS /
// EKS agents' addresses), with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE's
// content, else AWS_CONTAINER_AUTHORIZATION_TOKEN, as Authorization.
Result<Credentials> fetch_container_credentials(const GetEnv& getenv,
                                                std::chrono::milliseconds timeout,
                                                const std::string& who);

// IMDSv2 at AWS_EC2_METADATA_SERVICE_ENDPOINT (else http://169.254.169.254):
// PUT a session token, then the instance role's credentials with it. No
// IMDSv1 fallback. Connect timeout 1 s; each call at most min(timeout, 2 s).
Result<Credentials> fetch_imds_credentials(const GetEnv& getenv, std::chrono::milliseconds timeout,
                                           const std::string& who);

}  // namespace tern::relay::s3::detail
