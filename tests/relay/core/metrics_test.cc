#include "tern/relay/metrics.h"

#include <gtest/gtest.h>

namespace tern::relay {
namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(MetricsTest, CountersAndGaugesRenderWithHelpTypeAndLabels) {
  Metrics m;
  m.counter("tern_dropped_total", "reason=\"too_large\"", "Events dropped, by reason").inc(3);
  m.counter("tern_dropped_total", "reason=\"bad_json\"").inc();
  m.gauge("tern_spool_bytes", {}, "Bytes in the spool").set(4096);
  std::string text = m.render();
  EXPECT_TRUE(contains(text, "# HELP tern_dropped_total Events dropped, by reason\n")) << text;
  EXPECT_TRUE(contains(text, "# TYPE tern_dropped_total counter\n")) << text;
  EXPECT_TRUE(contains(text, "tern_dropped_total{reason=\"too_large\"} 3\n")) << text;
  EXPECT_TRUE(contains(text, "tern_dropped_total{reason=\"bad_json\"} 1\n")) << text;
  EXPECT_TRUE(contains(text, "# TYPE tern_spool_bytes gauge\ntern_spool_bytes 4096\n")) << text;
  // Families sorted by name.
  EXPECT_LT(text.find("tern_dropped_total"), text.find("tern_spool_bytes"));
}

TEST(MetricsTest, SameNameAndLabelsReturnTheSameSeries) {
  Metrics m;
  Counter& a = m.counter("c", "x=\"1\"");
  Counter& b = m.counter("c", "x=\"1\"");
  EXPECT_EQ(&a, &b);
  a.inc(2);
  EXPECT_EQ(b.value(), 2u);
  Gauge& g = m.gauge("g");
  g.add(5);
  g.add(-2);
  EXPECT_EQ(m.gauge("g").value(), 3);
}

TEST(MetricsTest, HistogramRendersCumulativeBucketsSumAndCount) {
  Metrics m;
  Histogram& h = m.histogram("tern_latency_seconds", "sink=\"file\"", "Delivery latency");
  h.observe(0.0004);
  h.observe(0.003);
  h.observe(100);  // beyond the last bound: only +Inf
  std::string text = m.render();
  EXPECT_TRUE(contains(text, "# TYPE tern_latency_seconds histogram\n")) << text;
  EXPECT_TRUE(contains(text, "tern_latency_seconds_bucket{sink=\"file\",le=\"0.0005\"} 1\n"))
      << text;
  EXPECT_TRUE(contains(text, "tern_latency_seconds_bucket{sink=\"file\",le=\"0.005\"} 2\n"))
      << text;
  EXPECT_TRUE(contains(text, "tern_latency_seconds_bucket{sink=\"file\",le=\"30\"} 2\n")) << text;
  EXPECT_TRUE(contains(text, "tern_latency_seconds_bucket{sink=\"file\",le=\"+Inf\"} 3\n")) << text;
  EXPECT_TRUE(contains(text, "tern_latency_seconds_sum{sink=\"file\"} 100.0034\n")) << text;
  EXPECT_TRUE(contains(text, "tern_latency_seconds_count{sink=\"file\"} 3\n")) << text;
  EXPECT_EQ(h.count(), 3u);
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Histogram h({0.1, 1, 10});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  EXPECT_EQ(h.bucket(0), 1u);
  EXPECT_EQ(h.bucket(1), 2u);
  EXPECT_EQ(h.bucket(2), 3u);
  EXPECT_EQ(h.bucket(3), 3u);
  EXPECT_NEAR(h.sum(), 5.55, 1e-6);
}

TEST(MetricsTest, HelpTextIsEscaped) {
  Metrics m;
  m.counter("c", {}, "line one\nback\\slash").inc();
  EXPECT_TRUE(contains(m.render(), "# HELP c line one\\nback\\\\slash\n"));
}

}  // namespace
}  // namespace tern::relay
