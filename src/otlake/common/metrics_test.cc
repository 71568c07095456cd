#include "otlake/common/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace otlake::metrics {
namespace {

TEST(Histogram, BucketsAreCumulativeAndBoundsInclusive) {
  Histogram h({10, 100, 1000});
  for (int64_t v : {0, 10, 11, 100, 500, 1000, 1001, 5000}) h.Observe(v);
  const HistogramSnapshot s = h.Snapshot();
  ASSERT_EQ(s.cumulative.size(), 4u);  // three bounds + Inf
  EXPECT_EQ(s.cumulative[0], 2u);      // 0, 10 (le is inclusive)
  EXPECT_EQ(s.cumulative[1], 4u);      // + 11, 100
  EXPECT_EQ(s.cumulative[2], 6u);      // + 500, 1000
  EXPECT_EQ(s.cumulative[3], 8u);      // + 1001, 5000 in +Inf
  EXPECT_EQ(s.count, 8u);
  EXPECT_DOUBLE_EQ(s.sum, 0 + 10 + 11 + 100 + 500 + 1000 + 1001 + 5000);
}

TEST(Histogram, UnitScaleConvertsBoundsAndSum) {
  Histogram h({1'000'000, 1'000'000'000}, 1'000'000'000);  // ns recorded, seconds exposed
  h.Observe(500'000);
  h.Observe(2'000'000'000);
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_DOUBLE_EQ(s.upper_bounds[0], 0.001);
  EXPECT_DOUBLE_EQ(s.upper_bounds[1], 1.0);
  EXPECT_EQ(s.cumulative[0], 1u);
  EXPECT_EQ(s.cumulative[1], 1u);
  EXPECT_EQ(s.cumulative[2], 2u);
  EXPECT_NEAR(s.sum, 2.0005, 1e-12);
}

TEST(Histogram, ConcurrentRecordingLosesNothing) {
  Histogram h(Histogram::LatencyBoundsNs(), 1'000'000'000);
  constexpr int kThreads = 4, kPer = 50'000;
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  // A reader snapshots while the writers record: every snapshot is a valid histogram.
  std::thread reader([&] {
    while (!stop.load()) {
      const HistogramSnapshot s = h.Snapshot();
      for (size_t i = 1; i < s.cumulative.size(); ++i) ASSERT_LE(s.cumulative[i - 1], s.cumulative[i]);
      ASSERT_EQ(s.cumulative.back(), s.count);
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kPer; ++i) h.Observe((t + 1) * 1000 * (i % 7));
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  reader.join();
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kThreads) * kPer);
  int64_t want_ns = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPer; ++i) want_ns += (t + 1) * 1000 * (i % 7);
  }
  EXPECT_NEAR(s.sum, want_ns * 1e-9, 1e-6);
}

TEST(PromWriter, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue(R"(a\b"c)" "\n" "d"), R"(a\\b\"c\nd)");
  PromWriter w;
  w.Family("otlake_x_total", "counter", "help with \\ and\nnewline");
  w.Sample("otlake_x_total", {{"reason", "bad \"id\"\nline 2 \\ end"}, {"signal", "traces"}}, int64_t{3});
  EXPECT_EQ(w.text(),
            "# HELP otlake_x_total help with \\\\ and\\nnewline\n"
            "# TYPE otlake_x_total counter\n"
            "otlake_x_total{reason=\"bad \\\"id\\\"\\nline 2 \\\\ end\",signal=\"traces\"} 3\n");
}

TEST(PromWriter, SamplesWithoutLabelsAndDoubles) {
  PromWriter w;
  w.Sample("a", int64_t{-5}).Sample("b", {}, 0.25).Sample("c", {}, 1e300 * 1e300);
  EXPECT_EQ(w.text(), "a -5\nb 0.25\nc +Inf\n");
  EXPECT_EQ(FormatValue(1.0), "1");
  EXPECT_EQ(FormatValue(0.0001), "0.0001");
}

TEST(PromWriter, HistogramLines) {
  Histogram h({1'000'000, 5'000'000}, 1'000'000'000);
  h.Observe(2'000'000);
  h.Observe(9'000'000);
  PromWriter w;
  w.Histogram("lat_seconds", {{"phase", "total"}}, h.Snapshot());
  EXPECT_EQ(w.text(),
            "lat_seconds_bucket{phase=\"total\",le=\"0.001\"} 0\n"
            "lat_seconds_bucket{phase=\"total\",le=\"0.005\"} 1\n"
            "lat_seconds_bucket{phase=\"total\",le=\"+Inf\"} 2\n"
            "lat_seconds_sum{phase=\"total\"} 0.011\n"
            "lat_seconds_count{phase=\"total\"} 2\n");
}

// Not a pass/fail bound: prints what rendering a scrape's histograms costs (the receiver renders
// about 8 histograms and ~150 samples per scrape).
TEST(PromWriter, RenderCost) {
  std::vector<std::unique_ptr<Histogram>> hs;
  for (int i = 0; i < 8; ++i) {
    hs.push_back(std::make_unique<Histogram>(Histogram::LatencyBoundsNs(), 1'000'000'000));
    for (int j = 0; j < 1000; ++j) hs.back()->Observe(j * 7919);
  }
  constexpr int kRounds = 2000;
  size_t bytes = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < kRounds; ++r) {
    PromWriter w;
    for (const auto& h : hs) {
      w.Family("otlake_ack_latency_seconds", "histogram", "x");
      w.Histogram("otlake_ack_latency_seconds", {{"phase", "total"}}, h->Snapshot());
    }
    for (int i = 0; i < 150; ++i) w.Sample("otlake_rows_accepted_total", {{"table", "spans"}}, int64_t{i});
    bytes = w.text().size();
  }
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / kRounds;
  std::printf("render: %.1f us per scrape-sized document (%zu bytes)\n", us, bytes);
  EXPECT_GT(bytes, 0u);
}

}  // namespace
}  // namespace otlake::metrics
