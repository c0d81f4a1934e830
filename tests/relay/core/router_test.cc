#include "tern/relay/router.h"

#include <gtest/gtest.h>

#include <memory>

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

TEST(RouterTest, AChainJudgesEachEventByTheRoutesOfItsTimeAndPrunesWhatEverySinkRead) {
  auto first = std::make_shared<const Router>(std::vector<RouteConfig>{RouteConfig{{}, {}, {"a"}}});
  auto second =
      std::make_shared<const Router>(std::vector<RouteConfig>{RouteConfig{{}, {}, {"b"}}}, first);
  // Until its boundary is set, the new router judges nothing of its own.
  EXPECT_TRUE(second->at(100).routes_to("web", "track", "a"));
  second->begin_at(10);
  EXPECT_TRUE(second->at(9).routes_to("web", "track", "a"));
  EXPECT_FALSE(second->at(9).routes_to("web", "track", "b"));
  EXPECT_TRUE(second->at(10).routes_to("web", "track", "b"));
  EXPECT_EQ(second->chain_length(), 2u);
  // Every sink read up to 9: the first router is no longer needed.
  EXPECT_EQ(Router::pruned(second, 9)->chain_length(), 2u);
  // The chain, oldest first, picks the same router as at() for each seq.
  auto third =
      std::make_shared<const Router>(std::vector<RouteConfig>{RouteConfig{{}, {}, {"c"}}}, second);
  auto links = third->chain();
  ASSERT_EQ(links.size(), 3u);
  std::size_t link = 0;
  for (uint64_t seq = 1; seq < 30; ++seq) {
    if (seq == 20) third->begin_at(20);
    links = third->chain();
    link = 0;
    while (link + 1 < links.size() && links[link + 1].first <= seq) ++link;
    EXPECT_EQ(links[link].second, &third->at(seq)) << seq;
  }
  auto pruned = Router::pruned(second, 10);
  EXPECT_EQ(pruned->chain_length(), 1u);
  EXPECT_TRUE(pruned->at(10).routes_to("web", "track", "b"));
}

}  // namespace
}  // namespace tern::relay
