// The S3 REST API's text on the wire, apart from any HTTP call: SigV4 URI
// and query encoding, the few XML helpers S3's flat answers need, and the
// checks that choose the URL style. Pure functions, no I/O; used by
// s3_client.cc (whose top comment says why the query is built canonical).
//
// Internal to the s3 sink.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tern::relay::s3::wire {

// SigV4's URI encoding: everything but A-Z a-z 0-9 - _ . ~ as %XX (upper
// case); '/' kept only when `keep_slash` (object key paths).
std::string uri_encode(std::string_view s, bool keep_slash);

using Query = std::vector<std::pair<std::string, std::string>>;

// The canonical query string: names and values encoded by uri_encode, pairs
// sorted, a bare subresource written "name=".
std::string canonical_query(const Query& query);

// XML character data: the five named entities and numeric ones (as UTF-8)
// decoded; escaped for an element's text (&, <, >, ").
std::string xml_unescape(std::string_view s);
std::string xml_escape(std::string_view s);

// The next <tag>...</tag> at or after `*pos`: its raw inner text in
// `*inner`, `*pos` moved past it. An empty element (<Prefix/>) yields "".
bool xml_next(std::string_view xml, std::string_view tag, size_t* pos, std::string_view* inner);

// The first <tag>'s text, unescaped; "" when there is none.
std::string xml_text(std::string_view xml, std::string_view tag);

// A body whose root element is <Error> (after an XML declaration).
bool is_error_document(std::string_view body);

// A host that is an IPv4 or bracketed IPv6 literal.
bool is_ip_literal(const std::string& host);

// A bucket name that can be a DNS label of a virtual-hosted URL.
bool dns_compatible(const std::string& bucket, bool https);

}  // namespace tern::relay::s3::wire
