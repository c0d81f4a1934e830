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

TEST(MetricsTest, ValuesReadEachSeriesOfACounterOrGaugeFamilyByLabels) {
  Metrics m;
  m.counter("tern_dropped_total", "reason=\"too_large\"").inc(3);
  m.counter("tern_dropped_total", "reason=\"bad_json\"").inc();
  m.gauge("tern_spool_bytes").set(-7);
  auto dropped = m.values("tern_dropped_total");
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0].labels, "reason=\"bad_json\"");
  EXPECT_EQ(dropped[0].value, 1);
  EXPECT_EQ(dropped[1].labels, "reason=\"too_large\"");
  EXPECT_EQ(dropped[1].value, 3);
  auto bytes = m.values("tern_spool_bytes");
  ASSERT_EQ(bytes.size(), 1u);
  EXPECT_EQ(bytes[0].labels, "");
  EXPECT_EQ(bytes[0].value, -7);
  // A later increment shows in the next read.
  m.counter("tern_dropped_total", "reason=\"bad_json\"").inc(4);
  EXPECT_EQ(m.values("tern_dropped_total")[0].value, 5);
}

TEST(MetricsTest, ValuesOfAnUnknownFamilyOrAHistogramAreEmpty) {
  Metrics m;
  m.histogram("tern_latency_seconds").observe(0.1);
  EXPECT_TRUE(m.values("tern_latency_seconds").empty());
  EXPECT_TRUE(m.values("tern_nothing_total").empty());
}

TEST(MetricsTest, LabelValueFindsALabelAndUndoesItsEscapes) {
  EXPECT_EQ(label_value("source=\"web\",reason=\"too_large\"", "source"), "web");
  EXPECT_EQ(label_value("source=\"web\",reason=\"too_large\"", "reason"), "too_large");
  EXPECT_EQ(label_value("source=\"\",reason=\"x\"", "source"), "");
  EXPECT_EQ(label_value("reason=\"x\"", "source"), std::nullopt);
  EXPECT_EQ(label_value("source=\"unterminated", "source"), std::nullopt);
  // What sink_label() writes reads back as the name it was given.
  const std::string odd = "a \"quoted\" \\ name\n\x01";
  EXPECT_EQ(label_value(sink_label(odd) + ",cause=\"x\"", "sink"), odd);
  EXPECT_EQ(label_value("sink=\"caf\\u00e9 \\ud83d\\ude00\"", "sink"),
            "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

}  // namespace
}  // namespace tern::relay
