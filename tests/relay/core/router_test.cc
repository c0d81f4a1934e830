#include "tern/relay/router.h"

#include <gtest/gtest.h>

namespace tern::relay {
namespace {

TEST(RouterTest, AnEventGoesToTheUnionOfEveryMatchingRoute) {
  Router r({
      RouteConfig{{}, {}, {"archive"}},
      RouteConfig{{"web"}, {"track", "page"}, {"kafka", "archive"}},
      RouteConfig{{"mobile"}, {}, {"warehouse"}},
  });
  EXPECT_EQ(r.sinks_for("web", "track"), (std::vector<std::string>{"archive", "kafka"}));
  EXPECT_EQ(r.sinks_for("web", "identify"), (std::vector<std::string>{"archive"}));
  EXPECT_EQ(r.sinks_for("mobile", "track"), (std::vector<std::string>{"archive", "warehouse"}));
  EXPECT_TRUE(r.routes_to("web", "page", "kafka"));
  EXPECT_FALSE(r.routes_to("mobile", "page", "kafka"));
  EXPECT_FALSE(r.routes_to("web", "track", "nowhere"));
  EXPECT_TRUE(r.routed_anywhere("other", "alias"));
}

TEST(RouterTest, NoRoutesSendNothingAnywhere) {
  Router r({});
  EXPECT_TRUE(r.sinks_for("web", "track").empty());
  EXPECT_FALSE(r.routed_anywhere("web", "track"));
  Router only_web({RouteConfig{{"web"}, {}, {"a"}}});
  EXPECT_FALSE(only_web.routed_anywhere("mobile", "track"));
}

}  // namespace
}  // namespace tern::relay
