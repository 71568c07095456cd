// Metrics: a fixed-bucket Histogram whose recording never blocks, and a writer of the Prometheus
// text exposition format 0.0.4 (what GET /metrics answers; docs/http-api.md lists the names).
//
// Histogram: observations are int64 in the unit the caller measures (ns, bytes); bucket upper
// bounds are in the same unit; `per_base_unit` converts to the base unit on output (1e9: ns ->
// seconds). Observe() is a few relaxed atomic adds (no lock, no allocation), safe from any thread.
// A snapshot reads the buckets one by one, so under concurrent recording it may lag a few
// observations behind, but it is always a valid histogram: `count` is the sum of the bucket
// counts, so the +Inf bucket equals it.
//
// PromWriter: appends `# HELP` / `# TYPE` lines and samples to a string. Label values are escaped
// as the format requires (\\, \", \n); names are the caller's (constants, not checked). Not
// thread-safe (one writer per scrape).
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otlake::metrics {

/// A consistent copy of a Histogram: bucket counts are cumulative, count == cumulative.back().
struct HistogramSnapshot {
  std::vector<double> upper_bounds;  ///< in the base unit, ascending; +Inf is implied
  std::vector<uint64_t> cumulative;  ///< one per bound, then the +Inf bucket
  double sum = 0;                    ///< in the base unit
  uint64_t count = 0;
};

class Histogram {
 public:
  /// `upper_bounds`: ascending, in the recorded unit. They and the sum are divided by
  /// `per_base_unit` on output (1'000'000'000 to record ns and expose seconds).
  explicit Histogram(std::vector<int64_t> upper_bounds, int64_t per_base_unit = 1);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  /// Records one observation: the first bucket whose bound is >= v (Prometheus `le`), else +Inf.
  void Observe(int64_t v);

  HistogramSnapshot Snapshot() const;

  /// Bounds (ns) for latencies from 50 us to 10 s.
  static std::vector<int64_t> LatencyBoundsNs();
  /// Bounds (bytes) from 256 B to 64 MiB, by 4x.
  static std::vector<int64_t> SizeBoundsBytes();

 private:
  const std::vector<int64_t> bounds_;
  const double per_base_unit_;
  // bounds_.size() + 1 counters (the last is +Inf); each on its own cache line would be faster
  // under heavy contention, but an observation per request is far below that.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<int64_t> sum_{0};  // in the recorded unit
};

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

/// `v` escaped for a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view v);

class PromWriter {
 public:
  /// Starts a metric family: `# HELP name help` and `# TYPE name type` (counter, gauge,
  /// histogram). Every sample of the family must follow before the next Family.
  PromWriter& Family(std::string_view name, std::string_view type, std::string_view help);
  /// One sample line `name{labels} value`.
  PromWriter& Sample(std::string_view name, Labels labels, double value);
  PromWriter& Sample(std::string_view name, Labels labels, int64_t value);
  PromWriter& Sample(std::string_view name, int64_t value) { return Sample(name, {}, value); }
  /// The `_bucket` (with `le`), `_sum` and `_count` lines of histogram `name`.
  PromWriter& Histogram(std::string_view name, Labels labels, const HistogramSnapshot& h);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Begin(std::string_view name, Labels labels, std::string_view extra_key = {},
             std::string_view extra_value = {});
  std::string out_;
};

/// A number as the format writes it: shortest round-trip form, "+Inf", "-Inf", "NaN".
std::string FormatValue(double v);

/// The Content-Type of the text format.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace otlake::metrics
