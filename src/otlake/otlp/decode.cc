#include "otlake/otlp/decode.h"

#include <algorithm>
#include <vector>

namespace otlake::otlp {

namespace internal {
Status DecodeProtobufImpl(Signal signal, std::string_view body, const DecodeOptions& options,
                          DecodeResult* out);
Status DecodeJsonImpl(Signal signal, std::string_view body, const DecodeOptions& options,
                      DecodeResult* out);
}  // namespace internal

std::string_view SignalName(Signal s) {
  switch (s) {
    case Signal::kTraces: return "traces";
    case Signal::kLogs: return "logs";
    case Signal::kMetrics: return "metrics";
  }
  return "unknown";
}

std::string DecodeResult::ErrorMessage(Signal s) const {
  if (rejected == 0) return {};
  std::string_view unit;
  switch (s) {
    case Signal::kTraces: unit = rejected == 1 ? "span" : "spans"; break;
    case Signal::kLogs: unit = rejected == 1 ? "log record" : "log records"; break;
    case Signal::kMetrics: unit = rejected == 1 ? "data point" : "data points"; break;
  }
  std::vector<std::pair<std::string_view, int64_t>> sorted(reasons.begin(), reasons.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string msg = "rejected " + std::to_string(rejected) + " " + std::string(unit) + ":";
  for (size_t i = 0; i < sorted.size(); ++i) {
    msg += i == 0 ? " " : "; ";
    msg += sorted[i].first;
    msg += " (" + std::to_string(sorted[i].second) + ")";
  }
  return msg;
}

namespace {

// Undoes everything a failed decode appended, so that a 400 leaves the result as it was.
class Checkpoint {
 public:
  explicit Checkpoint(DecodeResult* r) : r_(r), accepted_(r->accepted), rejected_(r->rejected) {
    for (int i = 0; i < table::kNumTables; ++i) {
      const table::RowBatch* b = r->batches.Find(static_cast<table::TableId>(i));
      rows_[i] = b != nullptr ? b->num_rows() : 0;
    }
    if (!r->reasons.empty()) reasons_ = r->reasons;
  }
  void Restore() {
    for (int i = 0; i < table::kNumTables; ++i) {
      auto id = static_cast<table::TableId>(i);
      if (r_->batches.Find(id) != nullptr) r_->batches.Get(id).Truncate(rows_[i]);
    }
    r_->accepted = accepted_;
    r_->rejected = rejected_;
    r_->reasons = std::move(reasons_);
  }

 private:
  DecodeResult* r_;
  int64_t accepted_, rejected_;
  int64_t rows_[table::kNumTables];
  std::map<std::string, int64_t> reasons_;
};

// Room for the spans' attributes JSON before decoding: in protobuf it is about as long as the
// request (the field tags and lengths it drops weigh about what quotes, colons and commas add),
// in OTLP/JSON about half. Saves that column's string a dozen regrowth copies per request
// (protobuf decode -3.9% instructions, callgrind); at most `estimate` bytes too many.
void ReserveSpanAttrs(Signal signal, size_t estimate, DecodeResult* out) {
  if (signal != Signal::kTraces || estimate < 4096) return;
  std::string& attrs =
      out->batches.Get(table::TableId::kSpans).mutable_column(table::spans::kSpanAttrsJson).chars;
  attrs.reserve(attrs.size() + estimate);
}

// Runs one decoder; on failure restores *out as it was, so a rejected request leaves nothing.
// `attrs_estimate`: ReserveSpanAttrs.
Status DecodeOrRestore(Status (*impl)(Signal, std::string_view, const DecodeOptions&,
                                      DecodeResult*),
                       Signal signal, std::string_view body, const DecodeOptions& options,
                       size_t attrs_estimate, DecodeResult* out) {
  ReserveSpanAttrs(signal, attrs_estimate, out);
  Checkpoint cp(out);
  Status st = impl(signal, body, options, out);
  if (!st.ok()) cp.Restore();
  return st;
}

}  // namespace

Status DecodeProtobuf(Signal signal, std::string_view body, const DecodeOptions& options,
                      DecodeResult* out) {
  return DecodeOrRestore(internal::DecodeProtobufImpl, signal, body, options, body.size(), out);
}

Status DecodeJson(Signal signal, std::string_view body, const DecodeOptions& options,
                  DecodeResult* out) {
  return DecodeOrRestore(internal::DecodeJsonImpl, signal, body, options, body.size() / 2, out);
}

}  // namespace otlake::otlp
