// The six otlake tables: names, columns, types. This is the code side of docs/tables.md; the two
// change together.
//
// Every table starts with the same shared columns (resource, scope, event time, identity), so
// code that fills them works for every table by index. Per-table columns follow, numbered from
// kNumShared. The schema is plain data with no Arrow dependency: decoders fill RowBatch columns
// by these indices and the lake module maps them to Arrow, Parquet and Delta types.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace otlake::table {

/// Storage type of a column. Strings are UTF-8; integers are signed 64-bit (no unsigned types
/// anywhere: Delta readers disagree on them).
enum class ColType : uint8_t { kString, kInt64, kDouble, kBool };

struct ColumnDef {
  const char* name;
  ColType type;
  bool nullable;  ///< false: every row has a value
  bool stats;     ///< true: min/max go into the Delta add action's stats
};

enum class TableId : uint8_t { kSpans, kSpanEvents, kSpanLinks, kLogs, kMetricsPoints, kMetricsHist };
inline constexpr int kNumTables = 6;
inline constexpr TableId kAllTables[kNumTables] = {TableId::kSpans,  TableId::kSpanEvents,
                                                   TableId::kSpanLinks, TableId::kLogs,
                                                   TableId::kMetricsPoints, TableId::kMetricsHist};

/// Columns every table starts with, in this order.
enum Shared : int {
  kProjectId,
  kSchemaVersion,
  kServiceName,
  kServiceNamespace,
  kServiceInstanceId,
  kServiceVersion,
  kDeploymentEnv,
  kResourceAttrsJson,
  kResourceDroppedAttributesCount,
  kResourceSchemaUrl,
  kScopeName,
  kScopeVersion,
  kScopeAttrsJson,
  kScopeDroppedAttributesCount,
  kScopeSchemaUrl,
  kEventTs,
  kEventDate,
  kSessionId,
  kSessionPreviousId,
  kUserId,
  kUserName,
  kUserRolesJson,
  kNumShared
};

namespace spans {
enum : int {
  kTraceId = kNumShared, kSpanId, kParentSpanId, kTraceState, kFlags, kName, kKind,
  kStartTimeUnixNano, kEndTimeUnixNano, kDurationMs, kStatusCode, kStatusMessage, kSpanAttrsJson,
  kDroppedAttributesCount, kDroppedEventsCount, kDroppedLinksCount, kNumColumns
};
}  // namespace spans

namespace span_events {
enum : int {
  kTraceId = kNumShared, kSpanId, kEventIndex, kTimeUnixNano, kName, kEventAttrsJson,
  kDroppedAttributesCount, kNumColumns
};
}  // namespace span_events

namespace span_links {
enum : int {
  kTraceId = kNumShared, kSpanId, kLinkIndex, kLinkedTraceId, kLinkedSpanId, kLinkTraceState,
  kLinkFlags, kLinkAttrsJson, kDroppedAttributesCount, kNumColumns
};
}  // namespace span_links

namespace logs {
enum : int {
  kTimeUnixNano = kNumShared, kObservedTimeUnixNano, kSeverityText, kSeverityNumber, kBody,
  kBodyType, kLogAttrsJson, kTraceId, kSpanId, kFlags, kDroppedAttributesCount, kEventName,
  kNumColumns
};
}  // namespace logs

namespace metrics_points {
enum : int {
  kInstrumentName = kNumShared, kInstrumentType, kUnit, kDescription, kMetricMetadataJson,
  kAggregationTemporality, kIsMonotonic, kTimeUnixNano, kStartTimeUnixNano, kValue, kValueInt,
  kFlags, kPointAttrsJson, kExemplarsJson, kNumColumns
};
}  // namespace metrics_points

namespace metrics_hist {
enum : int {
  kInstrumentName = kNumShared, kInstrumentType, kUnit, kDescription, kMetricMetadataJson,
  kAggregationTemporality, kTimeUnixNano, kStartTimeUnixNano, kCount, kSum, kMin, kMax,
  kBoundsJson, kCountsJson, kExpScale, kExpZeroCount, kExpZeroThreshold, kExpPositiveJson,
  kExpNegativeJson, kQuantilesJson, kFlags, kPointAttrsJson, kExemplarsJson, kNumColumns
};
}  // namespace metrics_hist

/// The table's directory name, e.g. "metrics_points".
std::string_view TableName(TableId id);

/// Parses a table name (as TableName returns it); false if unknown.
bool ParseTableName(std::string_view name, TableId* out);

/// The table's columns, shared ones first.
std::span<const ColumnDef> Columns(TableId id);

}  // namespace otlake::table
