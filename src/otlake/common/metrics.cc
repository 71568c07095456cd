#include "otlake/common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace otlake::metrics {

Histogram::Histogram(std::vector<int64_t> upper_bounds, int64_t per_base_unit)
    : bounds_(std::move(upper_bounds)),
      per_base_unit_(static_cast<double>(per_base_unit)),
      buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(int64_t v) {
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot s;
  s.upper_bounds.reserve(bounds_.size());
  for (int64_t b : bounds_) s.upper_bounds.push_back(static_cast<double>(b) / per_base_unit_);
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.count = total;
  s.sum = static_cast<double>(sum_.load(std::memory_order_relaxed)) / per_base_unit_;
  return s;
}

std::vector<int64_t> Histogram::LatencyBoundsNs() {
  constexpr int64_t us = 1000;
  return {50 * us,       100 * us,      250 * us,      500 * us,       1000 * us,
          2500 * us,     5000 * us,     10'000 * us,   25'000 * us,    50'000 * us,
          100'000 * us,  250'000 * us,  500'000 * us,  1'000'000 * us, 2'500'000 * us,
          5'000'000 * us, 10'000'000 * us};
}

std::vector<int64_t> Histogram::SizeBoundsBytes() {
  std::vector<int64_t> b;
  for (int64_t v = 256; v <= (64ll << 20); v *= 4) b.push_back(v);
  return b;
}

namespace {

// HELP text escapes only backslash and newline.
void AppendHelp(std::string_view v, std::string* out) {
  for (char c : v) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else {
      *out += c;
    }
  }
}

void AppendLabelValue(std::string_view v, std::string* out) {
  for (char c : v) {
    switch (c) {
      case '\\': *out += "\\\\"; break;
      case '"': *out += "\\\""; break;
      case '\n': *out += "\\n"; break;
      default: *out += c;
    }
  }
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

}  // namespace

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  AppendLabelValue(v, &out);
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  return std::string(buf, r.ptr);
}

PromWriter& PromWriter::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  AppendHelp(help, &out_);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
  return *this;
}

void PromWriter::Begin(std::string_view name, Labels labels, std::string_view extra_key,
                       std::string_view extra_value) {
  out_ += name;
  if (labels.size() > 0 || !extra_key.empty()) {
    out_ += '{';
    bool first = true;
    auto add = [&](std::string_view k, std::string_view v) {
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      AppendLabelValue(v, &out_);
      out_ += '"';
    };
    for (const auto& [k, v] : labels) add(k, v);
    if (!extra_key.empty()) add(extra_key, extra_value);
    out_ += '}';
  }
  out_ += ' ';
}

PromWriter& PromWriter::Sample(std::string_view name, Labels labels, double value) {
  Begin(name, labels);
  out_ += FormatValue(value);
  out_ += '\n';
  return *this;
}

PromWriter& PromWriter::Sample(std::string_view name, Labels labels, int64_t value) {
  Begin(name, labels);
  AppendInt(value, &out_);
  out_ += '\n';
  return *this;
}

PromWriter& PromWriter::Histogram(std::string_view name, Labels labels, const HistogramSnapshot& h) {
  std::string metric(name);
  const size_t base = metric.size();
  metric += "_bucket";
  for (size_t i = 0; i < h.cumulative.size(); ++i) {
    const std::string le = i < h.upper_bounds.size() ? FormatValue(h.upper_bounds[i]) : "+Inf";
    Begin(metric, labels, "le", le);
    AppendInt(static_cast<int64_t>(h.cumulative[i]), &out_);
    out_ += '\n';
  }
  metric.resize(base);
  metric += "_sum";
  Begin(metric, labels);
  out_ += FormatValue(h.sum);
  out_ += '\n';
  metric.resize(base);
  metric += "_count";
  Begin(metric, labels);
  AppendInt(static_cast<int64_t>(h.count), &out_);
  out_ += '\n';
  return *this;
}

}  // namespace otlake::metrics
