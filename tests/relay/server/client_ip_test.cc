#include "client_ip.h"

#include <gtest/gtest.h>

namespace tern::relay {
namespace {

std::vector<IpRange> ranges(std::initializer_list<const char*> list) {
  std::vector<IpRange> out;
  for (const char* r : list) out.push_back(IpRange::parse(r).value());
  return out;
}

TEST(ClientIpTest, UntrustedPeerIgnoresForwardedFor) {
  EXPECT_EQ(client_ip("203.0.113.9", "1.2.3.4", ranges({"10.0.0.1"})), "203.0.113.9");
  EXPECT_EQ(client_ip("203.0.113.9", "1.2.3.4", {}), "203.0.113.9");
}

TEST(ClientIpTest, TrustedPeerYieldsRightMostUntrustedEntry) {
  auto trusted = ranges({"10.0.0.0/8", "192.168.1.1"});
  // The client forged "6.6.6.6"; the first proxy saw 198.51.100.7.
  EXPECT_EQ(client_ip("10.1.2.3", "6.6.6.6, 198.51.100.7, 192.168.1.1", trusted), "198.51.100.7");
  EXPECT_EQ(client_ip("10.1.2.3", "198.51.100.7", trusted), "198.51.100.7");
}

TEST(ClientIpTest, AllTrustedYieldsLeftMost) {
  auto trusted = ranges({"10.0.0.0/8"});
  EXPECT_EQ(client_ip("10.0.0.1", "10.0.0.5, 10.0.0.6", trusted), "10.0.0.5");
}

TEST(ClientIpTest, MalformedEntryStopsTheWalk) {
  auto trusted = ranges({"10.0.0.0/8"});
  EXPECT_EQ(client_ip("10.0.0.1", "1.1.1.1, garbage, 10.0.0.7", trusted), "10.0.0.7");
  EXPECT_EQ(client_ip("10.0.0.1", "", trusted), "10.0.0.1");
}

TEST(ClientIpTest, EntryWithAnEmbeddedNulIsMalformed) {
  // inet_pton would read "9.9.9.4" and the rest would reach context.ip.
  auto trusted = ranges({"10.0.0.1"});
  std::string forwarded(
      "9.9.9.4\0\xe4"
      "1.1",
      12);
  EXPECT_EQ(client_ip("10.0.0.1", forwarded, trusted), "10.0.0.1");
}

TEST(ClientIpTest, Ipv6AndMappedAddresses) {
  auto trusted = ranges({"::1", "fd00::/8"});
  EXPECT_EQ(client_ip("::1", "2001:db8::1", trusted), "2001:db8::1");
  EXPECT_EQ(client_ip("fd12::3", "[2001:db8::2]", trusted), "[2001:db8::2]");
  EXPECT_TRUE(IpRange::parse("10.0.0.0/8").value().contains("::ffff:10.9.9.9"));
}

TEST(ClientIpTest, BadRangesAreRefusedWithTheirText) {
  auto r = IpRange::parse("10.0.0.0/33");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("10.0.0.0/33"), std::string::npos);
  EXPECT_FALSE(IpRange::parse("example.com"));
  EXPECT_FALSE(IpRange::parse("1.2.3.4/"));
}

}  // namespace
}  // namespace tern::relay
