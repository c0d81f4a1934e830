// Which address a request came from, given the socket peer and the
// X-Forwarded-For header, believing the header only from trusted proxies.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tern/base/status.h"

namespace tern::relay {

// One trusted proxy entry: an IPv4/IPv6 address or a CIDR range ("10.0.0.0/8").
class IpRange {
 public:
  static Result<IpRange> parse(std::string_view text);
  bool contains(std::string_view ip) const;

 private:
  unsigned char bytes_[16] = {};
  int family_ = 0;  // AF_INET or AF_INET6
  int prefix_ = 0;
};

// The client address: `peer` when it is not a trusted proxy; otherwise the
// right-most X-Forwarded-For entry that is not a trusted proxy (entries
// left of it could be forged by the client), or the left-most entry when
// all are trusted. Malformed entries stop the walk at the last good one.
std::string client_ip(std::string_view peer, std::string_view forwarded_for,
                      const std::vector<IpRange>& trusted);

}  // namespace tern::relay
