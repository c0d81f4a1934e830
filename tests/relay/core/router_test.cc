#include "tern/relay/router.h"

#include <gtest/gtest.h>

namespace tern::relay {
namespace {

TEST(EventTypeTest, FindsTheTopLevelTypeOnly) {
  EXPECT_EQ(event_type(R"({"type":"track","event":"x"})"), "track");
  EXPECT_EQ(event_type(R"( { "event" : "x" , "type" : "identify" } )"), "identify");
  // A "type" inside properties or inside a string is not the event's type.
  EXPECT_EQ(event_type(R"({"properties":{"type":"inner"},"note":"\"type\":\"fake\"","type":"page"})"),
            "page");
  EXPECT_EQ(event_type(R"({"list":[{"type":"a"},[1,2]],"n":-1.5e3,"ok":true,"type":"screen"})"), "screen");
  EXPECT_EQ(event_type(R"({"event":"x"})"), "");
  EXPECT_EQ(event_type(R"({"type":5})"), "");
  EXPECT_EQ(event_type("not json"), "");
  EXPECT_EQ(event_type(R"({"type":"tr)"), "");
}

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
