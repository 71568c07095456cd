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
/// anywhere: Delta readers disagree on them). kMap is an attribute map, MAP<STRING, STRING> (keys
/// never null, values null for an empty AnyValue); it is always followed by its `<name>_types`
/// kString column, one type letter per entry in map order (docs/attributes.md).
enum class ColType : uint8_t { kString, kInt64, kDouble, kBool, kMap };

/// The schema_version every row carries and the Delta tables' metaData names
/// (configuration "otlake.schemaVersion"). 2: attributes as map + type-letter columns; 1 (before):
/// attributes as *_attrs_json text, not readable by this version (docs/attributes.md).
inline constexpr int64_t kCurrentSchemaVersion = 2;

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
  kResourceAttrs,
  kResourceAttrsTypes,
  kResourceDroppedAttributesCount,
  kResourceSchemaUrl,
  kScopeName,
  kScopeVersion,
  kScopeAttrs,
  kScopeAttrsTypes,
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
  kStartTimeUnixNano, kEndTimeUnixNano, kDurationMs, kStatusCode, kStatusMessage, kSpanAttrs,
  kSpanAttrsTypes,
  kDroppedAttributesCount, kDroppedEventsCount, kDroppedLinksCount, kNumColumns
};
}  // namespace spans

namespace span_events {
enum : int {
  kTraceId = kNumShared, kSpanId, kEventIndex, kTimeUnixNano, kName, kEventAttrs, kEventAttrsTypes,
  kDroppedAttributesCount, kNumColumns
};
}  // namespace span_events

namespace span_links {
enum : int {
  kTraceId = kNumShared, kSpanId, kLinkIndex, kLinkedTraceId, kLinkedSpanId, kLinkTraceState,
  kLinkFlags, kLinkAttrs, kLinkAttrsTypes, kDroppedAttributesCount, kNumColumns
};
}  // namespace span_links

namespace logs {
enum : int {
  kTimeUnixNano = kNumShared, kObservedTimeUnixNano, kSeverityText, kSeverityNumber, kBody,
  kBodyType, kLogAttrs, kLogAttrsTypes, kTraceId, kSpanId, kFlags, kDroppedAttributesCount, kEventName,
  kNumColumns
};
}  // namespace logs

namespace metrics_points {
enum : int {
  kInstrumentName = kNumShared, kInstrumentType, kUnit, kDescription, kMetricMetadataJson,
  kAggregationTemporality, kIsMonotonic, kTimeUnixNano, kStartTimeUnixNano, kValue, kValueInt,
  kFlags, kPointAttrs, kPointAttrsTypes, kExemplarsJson, kNumColumns
};
}  // namespace metrics_points

namespace metrics_hist {
enum : int {
  kInstrumentName = kNumShared, kInstrumentType, kUnit, kDescription, kMetricMetadataJson,
  kAggregationTemporality, kTimeUnixNano, kStartTimeUnixNano, kCount, kSum, kMin, kMax,
  kBoundsJson, kCountsJson, kExpScale, kExpZeroCount, kExpZeroThreshold, kExpPositiveJson,
  kExpNegativeJson, kQuantilesJson, kFlags, kPointAttrs, kPointAttrsTypes, kExemplarsJson, kNumColumns
};
}  // namespace metrics_hist

/// The table's directory name, e.g. "metrics_points".
std::string_view TableName(TableId id);

/// Parses a table name (as TableName returns it); false if unknown.
bool ParseTableName(std::string_view name, TableId* out);

/// The table's columns, shared ones first.
std::span<const ColumnDef> Columns(TableId id);

/// The index of column `col`'s first Parquet leaf: a kMap column has two leaves (its key and
/// value), every other column one. Parquet readers and footers count leaves, not columns.
int LeafIndex(TableId id, int col);

/// The number of Parquet leaves of table `id`'s files.
int NumLeaves(TableId id);

/// True if column `col` of `id` is the type-letter column of the attribute map before it.
bool IsAttrTypesColumn(TableId id, int col);

}  // namespace otlake::table
