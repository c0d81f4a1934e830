#include "s3_wire.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace tern::relay::s3::wire {
namespace {

// RFC 3986's unreserved set, in ASCII whatever the C locale says.
bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

}  // namespace

// SigV4's URI encoding: everything but A-Z a-z 0-9 - _ . ~ as %XX (upper
// case); '/' kept only when `keep_slash` (object key paths).
std::string uri_encode(std::string_view s, bool keep_slash) {
  static const char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

// The canonical query string (see s3_wire.h).
std::string canonical_query(const Query& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query) enc.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::string xml_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out.push_back(s[i]);
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    unsigned long cp = 0;
    bool numeric = false;
    if (ent == "amp") {
      out.push_back('&');
    } else if (ent == "lt") {
      out.push_back('<');
    } else if (ent == "gt") {
      out.push_back('>');
    } else if (ent == "quot") {
      out.push_back('"');
    } else if (ent == "apos") {
      out.push_back('\'');
    } else if (ent.size() > 1 && ent[0] == '#') {
      std::string digits(ent.substr(1));
      char* end = nullptr;
      cp = (digits[0] == 'x' || digits[0] == 'X') ? std::strtoul(digits.c_str() + 1, &end, 16)
                                                  : std::strtoul(digits.c_str(), &end, 10);
      numeric = end && *end == '\0';
      if (!numeric) {
        out.push_back(s[i]);
        continue;
      }
    } else {
      out.push_back(s[i]);
      continue;
    }
    if (numeric) {  // UTF-8
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    }
    i = semi;
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// S3's answers are flat, well-known documents: a tag's text is found by
// name, in order, without a general XML parser. `pos` advances past the
// element found. An empty element (<Prefix/>) yields "".
bool xml_next(std::string_view xml, std::string_view tag, size_t* pos, std::string_view* inner) {
  const std::string open = "<" + std::string(tag);
  size_t at = *pos;
  while (true) {
    at = xml.find(open, at);
    if (at == std::string_view::npos) return false;
    size_t after = at + open.size();
    if (after >= xml.size()) return false;
    char c = xml[after];
    if (c == '/' && xml.substr(after, 2) == "/>") {
      *inner = {};
      *pos = after + 2;
      return true;
    }
    if (c == '>' || c == ' ') {
      size_t gt = xml.find('>', after);
      if (gt == std::string_view::npos) return false;
      if (xml[gt - 1] == '/') {
        *inner = {};
        *pos = gt + 1;
        return true;
      }
      const std::string close = "</" + std::string(tag) + ">";
      size_t end = xml.find(close, gt + 1);
      if (end == std::string_view::npos) return false;
      *inner = xml.substr(gt + 1, end - gt - 1);
      *pos = end + close.size();
      return true;
    }
    at = after;  // a longer tag name (<KeyMarker> when looking for <Key>)
  }
}

std::string xml_text(std::string_view xml, std::string_view tag) {
  size_t pos = 0;
  std::string_view inner;
  return xml_next(xml, tag, &pos, &inner) ? xml_unescape(inner) : std::string();
}

// A body whose root element is <Error> (after an XML declaration).
bool is_error_document(std::string_view body) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
  };
  skip_space();
  if (body.substr(i, 5) == "<?xml") {
    size_t end = body.find("?>", i);
    if (end == std::string_view::npos) return false;
    i = end + 2;
    skip_space();
  }
  return body.substr(i, 7) == "<Error>";
}

bool is_ip_literal(const std::string& host) {
  if (!host.empty() && host.front() == '[') return true;  // IPv6
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  });
}

// A bucket name that can be a DNS label of a virtual-hosted URL.
bool dns_compatible(const std::string& bucket, bool https) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.'))
      return false;
    if (c == '.' && https) return false;  // would not match the wildcard certificate
  }
  return true;
}

}  // namespace tern::relay::s3::wire
