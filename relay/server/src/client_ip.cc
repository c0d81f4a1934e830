#include "client_ip.h"

#include <arpa/inet.h>

#include <cstring>

namespace tern::relay {
namespace {

bool parse_ip(std::string_view text, int* family, unsigned char* bytes) {
  // inet_pton stops at a NUL: "9.9.9.4\0junk" must not pass as 9.9.9.4 and
  // carry the junk into context.ip (found by fuzz_request_handler).
  if (text.find('\0') != std::string_view::npos) return false;
  std::string s(text);
  // "[::1]" and an IPv4-mapped form both occur in headers and peers.
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (inet_pton(AF_INET, s.c_str(), bytes) == 1) {
    *family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), bytes) == 1) {
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, kMapped, 12) == 0) {
      std::memmove(bytes, bytes + 12, 4);
      *family = AF_INET;
    } else {
      *family = AF_INET6;
    }
    return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<IpRange> IpRange::parse(std::string_view text) {
  IpRange r;
  std::string_view addr = text;
  int prefix = -1;
  auto slash = text.find('/');
  if (slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3)
      return Status(StatusCode::kInvalidArgument,
                    "bad prefix in trusted proxy '" + std::string(text) + "'");
    prefix = 0;
    for (char c : p) {
      if (c < '0' || c > '9')
        return Status(StatusCode::kInvalidArgument,
                      "bad prefix in trusted proxy '" + std::string(text) + "'");
      prefix = prefix * 10 + (c - '0');
    }
  }
  if (!parse_ip(addr, &r.family_, r.bytes_)) {
    return Status(StatusCode::kInvalidArgument,
                  "trusted proxy '" + std::string(text) + "' is not an IP address or CIDR range");
  }
  int max = r.family_ == AF_INET ? 32 : 128;
  if (prefix > max)
    return Status(StatusCode::kInvalidArgument,
                  "prefix too long in trusted proxy '" + std::string(text) + "'");
  r.prefix_ = prefix < 0 ? max : prefix;
  return r;
}

bool IpRange::contains(std::string_view ip) const {
  int family = 0;
  unsigned char bytes[16] = {};
  if (!parse_ip(ip, &family, bytes) || family != family_) return false;
  int full = prefix_ / 8, rest = prefix_ % 8;
  if (std::memcmp(bytes, bytes_, static_cast<std::size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (bytes[full] & mask) == (bytes_[full] & mask);
}

std::string client_ip(std::string_view peer, std::string_view forwarded_for,
                      const std::vector<IpRange>& trusted) {
  auto is_trusted = [&](std::string_view ip) {
    for (const IpRange& r : trusted) {
      if (r.contains(ip)) return true;
    }
    return false;
  };
  if (!is_trusted(peer) || trim(forwarded_for).empty()) return std::string(peer);
  std::string_view chosen = peer;
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    auto comma = rest.rfind(',');
    std::string_view entry = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    int family = 0;
    unsigned char bytes[16];
    if (!parse_ip(entry, &family, bytes)) break;
    chosen = entry;
    if (!is_trusted(entry)) break;
  }
  return std::string(chosen);
}

}  // namespace tern::relay
