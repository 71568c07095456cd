// OTLP request decoding: protobuf (hand-written wire-format reader) and OTLP/JSON, straight into
// the columns of the six tables (table::RowBatch), with no intermediate message objects.
//
// Contract (docs/tables.md and docs/http-api.md describe the user-visible side):
// - A request that cannot be decoded (truncated/garbage protobuf, invalid JSON, a JSON value of
//   the wrong type, a top-level value that is not an object, invalid UTF-8 in any string, AnyValue
//   nesting deeper than DecodeOptions::max_nesting_depth) returns Status::Invalid with a message
//   that names the problem and, where known, the field path. Nothing is appended then: the caller
//   discards the whole DecodeResult.
// - A decodable request may still carry records that are invalid on their own (an ID of the wrong
//   length, a timestamp beyond int64). Such a record -- a span (with its events and links), a log
//   record or a metric data point -- is rejected alone: counted in `rejected`, its reason in
//   `reasons`, and nothing of it is stored.
// - An empty body is a valid, empty request.
// - Decoding is deterministic and the same rows result from the JSON and protobuf forms of one
//   request.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "otlake/common/status.h"
#include "otlake/table/row_batch.h"

namespace otlake::otlp {

enum class Signal : uint8_t { kTraces, kLogs, kMetrics };

/// "traces", "logs" or "metrics".
std::string_view SignalName(Signal s);

struct DecodeOptions {
  /// Written to every row's project_id column (validated by the caller).
  std::string project_id = "default";
  /// Arrival time; used as event time when a log record or data point carries no time at all.
  int64_t now_unix_nano = 0;
  /// Deepest AnyValue nesting accepted (arrays and kvlists inside each other).
  int max_nesting_depth = 64;
};

struct DecodeResult {
  table::TableBatches batches;
  /// Records accepted and rejected, in the signal's OTLP unit: spans, log records, data points.
  int64_t accepted = 0;
  int64_t rejected = 0;
  /// Rejection reason (short, stable text such as "span_id must be 8 bytes, got 7") -> count.
  std::map<std::string, int64_t> reasons;
  /// Attribute entries dropped because a later entry of the same list had the same key (the map
  /// keeps the last value; docs/attributes.md). Counted per list stored.
  int64_t duplicate_attr_keys = 0;

  /// The partialSuccess error message: "rejected 3 spans: <reason> (2); <reason> (1)".
  /// Empty when nothing was rejected.
  std::string ErrorMessage(Signal s) const;
};

/// Decodes an Export{Trace,Logs,Metrics}ServiceRequest in protobuf wire format.
Status DecodeProtobuf(Signal signal, std::string_view body, const DecodeOptions& options,
                      DecodeResult* out);

/// Decodes an Export{Trace,Logs,Metrics}ServiceRequest in OTLP/JSON.
Status DecodeJson(Signal signal, std::string_view body, const DecodeOptions& options,
                  DecodeResult* out);

}  // namespace otlake::otlp
