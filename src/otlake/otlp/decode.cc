#include "otlake/otlp/decode.h"

#include <algorithm>
#include <vector>

#include "otlake/otlp/wire.h"

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
  explicit Checkpoint(DecodeResult* r)
      : r_(r), accepted_(r->accepted), rejected_(r->rejected), duplicates_(r->duplicate_attr_keys) {
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
    r_->duplicate_attr_keys = duplicates_;
    r_->reasons = std::move(reasons_);
  }

 private:
  DecodeResult* r_;
  int64_t accepted_, rejected_, duplicates_;
  int64_t rows_[table::kNumTables];
  std::map<std::string, int64_t> reasons_;
};

// Rows a protobuf traces or logs request adds to its main table (spans, log records): its
// ResourceSpans/Logs (field 1) -> ScopeSpans/Logs (field 2) -> Span/LogRecord (field 2) entries,
// counted by reading tags and lengths only (~30 instructions per span, 0.2% of its decode). A
// hint, not a check: a malformed body counts what it can and the decoder reports it.
int64_t CountProtobufRows(Signal signal, std::string_view body) {
  if (signal == Signal::kMetrics) return 0;  // rows are data points, three levels further down
  auto each = [](std::string_view msg, auto&& fn) {
    WireReader r(msg);
    WireField f;
    while (r.Next(&f)) {
      if (f.type == WireType::kLen) fn(f);
    }
  };
  int64_t rows = 0;
  each(body, [&](const WireField& resource) {
    if (resource.number != 1) return;
    each(resource.data, [&](const WireField& scope) {
      if (scope.number != 2) return;
      each(scope.data, [&](const WireField& row) { rows += row.number == 2; });
    });
  });
  return rows;
}

// Room before decoding: the main table's per-row vectors for the rows the body holds (a request's
// batch then grows none of its ~40 columns step by step: protobuf decode -8.3% instructions per
// 64-span request, -1.8% per 512-span request, callgrind over decode_bench), the spans' ids
// (fixed-length hex) and their attributes JSON, which in protobuf is about as long as the request
// (the field tags and lengths it drops weigh about what quotes, colons and commas add), in
// OTLP/JSON about half (-3.9% instructions). `rows` is
// capped by what the body could hold (a stored span or log record has at least a 16-byte id or a
// timestamp: 28 bytes) and at 64k, so a hostile count cannot reserve much beyond the body.
void Reserve(Signal signal, int64_t rows, size_t attrs_estimate, size_t body_size, DecodeResult* out) {
  rows = std::min<int64_t>({rows, static_cast<int64_t>(body_size / 28) + 1, int64_t{1} << 16});
  if (signal == Signal::kTraces) {
    table::RowBatch& spans = out->batches.Get(table::TableId::kSpans);
    if (rows > 1) {
      spans.ReserveRows(rows);
      const size_t n = static_cast<size_t>(rows);
      auto chars = [&](int col, size_t per_row) {
        std::string& s = spans.mutable_column(col).chars;
        s.reserve(s.size() + n * per_row);
      };
      chars(table::spans::kTraceId, 32);
      chars(table::spans::kSpanId, 16);
      chars(table::spans::kParentSpanId, 16);
    }
    if (attrs_estimate >= 4096) {
      // Map values are about half of the attribute bytes on the wire (keys are held once each).
      table::Column& attrs = spans.mutable_column(table::spans::kSpanAttrs);
      attrs.val_chars.reserve(attrs.val_chars.size() + attrs_estimate / 2);
    }
  } else if (signal == Signal::kLogs && rows > 1) {
    out->batches.Get(table::TableId::kLogs).ReserveRows(rows);
  }
}

// Runs one decoder; on failure restores *out as it was, so a rejected request leaves nothing.
// `rows`, `attrs_estimate`: Reserve.
Status DecodeOrRestore(Status (*impl)(Signal, std::string_view, const DecodeOptions&,
                                      DecodeResult*),
                       Signal signal, std::string_view body, const DecodeOptions& options,
                       int64_t rows, size_t attrs_estimate, DecodeResult* out) {
  Reserve(signal, rows, attrs_estimate, body.size(), out);
  Checkpoint cp(out);
  Status st = impl(signal, body, options, out);
  if (!st.ok()) cp.Restore();
  return st;
}

}  // namespace

Status DecodeProtobuf(Signal signal, std::string_view body, const DecodeOptions& options,
                      DecodeResult* out) {
  return DecodeOrRestore(internal::DecodeProtobufImpl, signal, body, options,
                         CountProtobufRows(signal, body), body.size(), out);
}

Status DecodeJson(Signal signal, std::string_view body, const DecodeOptions& options,
                  DecodeResult* out) {
  return DecodeOrRestore(internal::DecodeJsonImpl, signal, body, options, /*rows=*/0,
                         body.size() / 2, out);
}

}  // namespace otlake::otlp
