// Query: reads rows back from the lake -- the six Delta tables of every UTC day under
// <instance>/staging/days/<YYYY-MM-DD>/otel/<table>/ -- for the HTTP read API (/api/*), `otlake
// view` and `otlake trace`. docs/http-api.md and docs/querying.md are the user-facing contract.
//
// How a query runs:
//  1. Plan days: with date_from/date_to, those (arrival) day folders; otherwise every day, with an
//     event-time window (the last 24 hours unless time_ms_from/time_ms_to say otherwise).
//  2. Per day and table, a snapshot of the Delta log (cached, refreshed when the log changes) lists
//     the live files with their add.stats; files whose event_ts or column min/max exclude the
//     filters are skipped without being opened.
//  3. Files are read newest first (oldest first for order=asc). Per row group: Parquet statistics
//     and the trace_id bloom filter skip groups; the filter columns are read first, and the other
//     columns only for row groups with a match. Once max_rows rows are held, files and row groups
//     that cannot hold a newer row are skipped.
//  4. Rows are ordered by event_ts (desc by default) and cut to max_rows.
// Every query has a deadline and row/byte caps (QueryLimits); going past them is an error
// (Status::Invalid for caps the caller can fix, IOError-free) rather than an unbounded answer.
// Thread-safe: one QueryEngine serves concurrent queries. This header is Arrow-free.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/table/schema.h"

namespace arrow::fs {
class FileSystem;
}

namespace otlake::query {

/// Where a query reads each day (docs/querying.md "Local and S3 days"): kLocal only local day
/// folders, kS3 only days on S3, kAuto each day from wherever it is complete — S3 once the days
/// index records it verified there, else the local folder.
enum class Storage { kAuto, kLocal, kS3 };

/// A comparison in a filter. kLike: SQL LIKE ('%' any run, '_' one character, '\' escapes);
/// kContains: literal substring (Depths' *_like without wildcards).
enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kLike, kContains };

/// A filter on a table column.
struct ColumnFilter {
  int column = -1;  ///< index into table::Columns(table)
  Op op = Op::kEq;
  std::string value;  ///< as given; parsed per the column's type
};

/// A filter on one key of an attribute JSON column (`attr.<key>`, `resource.<key>`,
/// `scope.<key>`). Keys are flat OTLP keys ("http.route"), not paths.
struct AttrFilter {
  int column = -1;  ///< the attribute map column (its type letters are the column after it)
  std::string key;
  Op op = Op::kEq;
  std::string value;
};

struct Query {
  table::TableId table = table::TableId::kSpans;
  std::optional<int64_t> day_from, day_to;           ///< days since epoch, inclusive
  std::optional<int64_t> time_ms_from, time_ms_to;   ///< inclusive bounds on event_ts
  std::vector<ColumnFilter> filters;
  std::vector<AttrFilter> attr_filters;
  std::vector<int> select;  ///< output columns; empty = all
  int64_t max_rows = 100;
  bool ascending = false;
  Storage storage = Storage::kAuto;
  /// Paging (from a previous answer's next_cursor): continue after the row at event_ts
  /// `after_ts`, skipping `after_skip` rows that share that event_ts.
  std::optional<int64_t> after_ts;
  int64_t after_skip = 0;
  /// Checked between row groups: true stops the query with Status::Cancelled (the client left).
  std::function<bool()> cancelled;
};

/// Caps that keep one query from hurting the server.
struct QueryLimits {
  int64_t max_rows = 10000;                 ///< largest max_rows a caller may ask for
  int64_t max_result_bytes = 64ll << 20;    ///< rendered answer size
  int64_t timeout_ms = 30000;               ///< wall-clock budget of one query
  int64_t max_trace_spans = 100000;         ///< spans returned by a trace lookup
};

/// Builds a Query for `table` from URL query parameters (already percent-decoded, in order).
/// Status::Invalid names the offending parameter. `now_ms` anchors the default 24-hour window.
Result<Query> ParseQuery(table::TableId table,
                         const std::vector<std::pair<std::string, std::string>>& params,
                         int64_t now_ms, const QueryLimits& limits);

/// One cell of a result. Strings of *_json columns (and of attribute maps, rendered as typed
/// JSON objects) hold JSON text (kind kJson).
using Cell = std::variant<std::monostate, int64_t, double, bool, std::string>;

enum class CellKind : uint8_t { kString, kInt64, kDouble, kBool, kJson };

/// One table of one day as a query read it: the Delta snapshot (version) it read from start to end.
struct SnapshotRead {
  std::string day;  ///< YYYY-MM-DD
  table::TableId table = table::TableId::kSpans;
  bool remote = false;  ///< read from S3 (else the local folder)
  int64_t version = -1;
};

/// What a scan touched (for the API's "scan" object and the benchmarks).
struct ScanStats {
  std::vector<SnapshotRead> snapshots;  ///< every day and table read, with its version
  int64_t days = 0;
  int64_t files_total = 0;     ///< live files in the planned days' tables
  int64_t files_read = 0;      ///< files opened
  int64_t row_groups_total = 0;
  int64_t row_groups_read = 0;
  int64_t rows_scanned = 0;    ///< rows whose filter columns were evaluated
  int64_t bytes_read = 0;      ///< compressed bytes of the column chunks read
  int64_t elapsed_us = 0;
};

struct ResultSet {
  table::TableId table = table::TableId::kSpans;
  std::vector<std::string> columns;
  std::vector<CellKind> kinds;
  std::vector<std::vector<Cell>> rows;
  ScanStats stats;
  /// Set when the answer holds max_rows rows (more may follow): pass as `cursor`.
  std::string next_cursor;
  /// Days the plan could not read at all (shipped to S3 with S3 not configured here). A table
  /// or file of a planned day that cannot be read fails the query instead.
  std::vector<std::string> warnings;
};

/// One day of the lake as the catalog sees it.
struct TableInfo {
  table::TableId table = table::TableId::kSpans;
  int64_t version = -1;
  int64_t rows = 0;
  int64_t files = 0;
  int64_t bytes = 0;
  std::optional<int64_t> min_event_ts, max_event_ts;
  std::string error;  ///< set when the table's log cannot be read
};
struct DayInfo {
  std::string day;  ///< YYYY-MM-DD
  std::string storage = "local";  ///< where this answer read it: "local" or "s3"
  std::string phase = "none";     ///< shipping phase from the days index (none … cleaned)
  bool local = false;             ///< a local copy exists
  std::vector<TableInfo> tables;
};

/// A whole trace: its spans (with events and links) from every day that holds any.
struct Trace {
  ResultSet spans, events, links;
};

/// Per-day service counts for /api/services.
struct ServiceCount {
  std::string day, service;
  int64_t spans = 0, logs = 0;
};

struct EngineOptions {
  std::string instance_dir;  ///< <dir>/<instance_id>
  QueryLimits limits;
  /// The S3 filesystem holding shipped days (null: not configured) and the days' root on it
  /// ("<bucket>/<prefix>/<instance_id>/days").
  std::shared_ptr<arrow::fs::FileSystem> s3;
  std::string s3_days_root;
  /// Why S3 is not available (incomplete configuration), for storage=s3 errors.
  std::string s3_problem;
};

class QueryEngine {
 public:
  explicit QueryEngine(EngineOptions options);
  ~QueryEngine();
  QueryEngine(const QueryEngine&) = delete;
  QueryEngine& operator=(const QueryEngine&) = delete;

  /// Runs `q`. Each day's table is read from one Delta snapshot, whose files stay on disk until
  /// the query returns (lake/day_readers.h). Status::Invalid for a storage this instance has not
  /// got (s3 before shipping exists), Status::Cancelled when the deadline passes, IOError when a
  /// Delta log or a data file of the snapshot cannot be read (never a shorter answer).
  Result<ResultSet> Run(const Query& q);

  /// Every span, event and link of `trace_id` (32 lowercase hex) across all days.
  Result<Trace> GetTrace(const std::string& trace_id, Storage storage = Storage::kAuto,
                         std::function<bool()> cancelled = nullptr);

  /// Days with their tables (newest first), each from where `storage` reads it.
  Result<std::vector<DayInfo>> Days(Storage storage = Storage::kAuto);

  /// Span and log counts per service and day, for days in [day_from, day_to] (all if unset).
  Result<std::vector<ServiceCount>> Services(std::optional<int64_t> day_from,
                                             std::optional<int64_t> day_to,
                                             Storage storage = Storage::kAuto);

  const QueryLimits& limits() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Renders rows as a JSON array of objects (attribute columns as JSON values, not strings).
/// Stops before `max_bytes` and returns the number of rows written.
int64_t AppendRowsJson(const ResultSet& rs, size_t first, size_t count, int64_t max_bytes,
                       std::string* out);

/// Renders one row as a JSON object.
void AppendRowJson(const ResultSet& rs, size_t row, std::string* out);

/// An aligned text table for terminals: at most `width` columns of characters per line (0 = no
/// limit); long cells are cut with "…".
std::string FormatTable(const ResultSet& rs, int width);

/// The trace as one OTLP/JSON ExportTraceServiceRequest (spans grouped under their resource and
/// scope, events and links nested), loadable by OTel tools and accepted by POST /v1/traces.
Result<std::string> TraceToOtlpJson(const Trace& trace);

/// Log rows (every column of the logs table) as one OTLP/JSON ExportLogsServiceRequest, records
/// grouped under their resource and scope in row order. IOError if a stored cell does not decode.
Result<std::string> LogsToOtlpJson(const ResultSet& logs);

/// Metric rows (every column of metrics_points and metrics_hist) as one OTLP/JSON
/// ExportMetricsServiceRequest: points grouped under resource, scope and metric (name,
/// description, unit, type, temporality, monotonicity, metadata) in row order.
Result<std::string> MetricsToOtlpJson(const ResultSet& points, const ResultSet& hist);

/// The name the read API gives column `col` of `t`: "<name>_json" for an attribute map (whose
/// cells the API answers as typed JSON objects, docs/attributes-json.md), else the column's own
/// name. The type-letter columns are never in an answer (the typed JSON carries the types).
std::string ApiColumnName(table::TableId t, int col);

/// True if `s` is a valid 32-character lowercase (or uppercase) hex trace id.
bool IsHexId(std::string_view s, size_t length);

}  // namespace otlake::query
