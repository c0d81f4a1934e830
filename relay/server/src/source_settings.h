// The SDK settings endpoint, GET /v1/projects/{writeKey}/settings: the path
// Segment's mobile SDKs fetch from their CDN host, so a Segment SDK whose API
// host and CDN host both name the relay works unchanged, and Tern's SDK reads
// its own block ("tern") from the same answer. No I/O, no Beast.
//
// The body (application/json), for a source whose settings set nothing:
//   {"integrations":{"Segment.io":{"apiKey":"<writeKey>","apiHost":"<host>/v1",
//    "protocol":"http"}},"plan":{"track":{"__default":{"enabled":true}},
//    "identify":{},"group":{}},"enabledMiddleware":{},"metrics":{"sampleRate":0},
//    "tern":{"enabled":true,"sampleRate":1,"flushAt":20,"flushIntervalMs":30000,
//    "sessionTimeoutMs":300000,"ttlSeconds":86400}}
// apiHost has no scheme (Segment's SDKs add "https://"): the request's Host,
// or X-Forwarded-Host from a trusted proxy. "protocol" is "https" over TLS
// (or when a trusted proxy's X-Forwarded-Proto says so), else "http".
// "tern" holds the source's settings over their defaults, then any other key
// the source set, by name.
//
// Answers: 200 with a strong ETag (a hash of the body) and
// Cache-Control: public, max-age=60; 304 without a body when If-None-Match
// names that ETag; 404 for a write key no source has (unknown, or revoked);
// 400 for a Host header that is not a host name or address.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http_message.h"
#include "request_handler.h"
#include "tern/relay/config.h"

namespace tern::relay {

// The write key of a settings path ("/v1/projects/KEY/settings", without the
// query; KEY percent-decoded), nothing for any other path.
std::optional<std::string> settings_path_write_key(std::string_view path);

// The body above for `settings`.
std::string source_settings_body(const SourceSettings& settings, std::string_view write_key,
                                 std::string_view api_host, std::string_view protocol);

// A strong entity tag for `body`, quotes included: 32 hex digits of its SHA-256.
std::string strong_etag(std::string_view body);

// True when an If-None-Match value ("*", or a list of tags, weak or strong)
// names `etag` (compared weakly, as RFC 9110 says for If-None-Match).
bool if_none_match_matches(std::string_view header, std::string_view etag);

// The answer to a GET or HEAD of the settings of `write_key`.
HttpResponse answer_source_settings(const IngestConfig& config, const HttpRequest& request,
                                    std::string_view write_key);

}  // namespace tern::relay
