#include "otlake/table/schema.h"

#include <array>

namespace otlake::table {
namespace {

constexpr ColType S = ColType::kString;
constexpr ColType I = ColType::kInt64;
constexpr ColType D = ColType::kDouble;
constexpr ColType B = ColType::kBool;
constexpr ColType M = ColType::kMap;

// Shared prefix; order must match enum Shared.
#define OTLAKE_SHARED_COLUMNS                                                               \
  {"project_id", S, false, true}, {"schema_version", I, false, false},                      \
      {"service_name", S, false, true}, {"service_namespace", S, false, true},              \
      {"service_instance_id", S, false, true}, {"service_version", S, false, true},         \
      {"deployment_env", S, false, true}, {"resource_attrs", M, false, false},              \
      {"resource_attrs_types", S, false, false},                                            \
      {"resource_dropped_attributes_count", I, false, false},                               \
      {"resource_schema_url", S, false, false}, {"scope_name", S, false, true},             \
      {"scope_version", S, false, true}, {"scope_attrs", M, false, false},                  \
      {"scope_attrs_types", S, false, false},                                               \
      {"scope_dropped_attributes_count", I, false, false},                                  \
      {"scope_schema_url", S, false, false}, {"event_ts", I, false, true},                  \
      {"event_date", S, false, true}, {"session_id", S, false, true},                       \
      {"session_previous_id", S, false, true}, {"user_id", S, false, true},                 \
      {"user_name", S, false, true}, {"user_roles_json", S, false, false}

constexpr ColumnDef kSpans[] = {
    OTLAKE_SHARED_COLUMNS,
    {"trace_id", S, false, true},
    {"span_id", S, false, true},
    {"parent_span_id", S, false, true},
    {"trace_state", S, false, false},
    {"flags", I, false, false},
    {"name", S, false, true},
    {"kind", S, false, true},
    {"start_time_unix_nano", I, false, true},
    {"end_time_unix_nano", I, false, true},
    {"duration_ms", D, false, true},
    {"status_code", S, false, true},
    {"status_message", S, false, false},
    {"span_attrs", M, false, false},
    {"span_attrs_types", S, false, false},
    {"dropped_attributes_count", I, false, false},
    {"dropped_events_count", I, false, false},
    {"dropped_links_count", I, false, false},
};
static_assert(std::size(kSpans) == spans::kNumColumns);

constexpr ColumnDef kSpanEvents[] = {
    OTLAKE_SHARED_COLUMNS,
    {"trace_id", S, false, true},
    {"span_id", S, false, true},
    {"event_index", I, false, false},
    {"time_unix_nano", I, false, true},
    {"name", S, false, true},
    {"event_attrs", M, false, false},
    {"event_attrs_types", S, false, false},
    {"dropped_attributes_count", I, false, false},
};
static_assert(std::size(kSpanEvents) == span_events::kNumColumns);

constexpr ColumnDef kSpanLinks[] = {
    OTLAKE_SHARED_COLUMNS,
    {"trace_id", S, false, true},
    {"span_id", S, false, true},
    {"link_index", I, false, false},
    {"linked_trace_id", S, false, true},
    {"linked_span_id", S, false, true},
    {"link_trace_state", S, false, false},
    {"link_flags", I, false, false},
    {"link_attrs", M, false, false},
    {"link_attrs_types", S, false, false},
    {"dropped_attributes_count", I, false, false},
};
static_assert(std::size(kSpanLinks) == span_links::kNumColumns);

constexpr ColumnDef kLogs[] = {
    OTLAKE_SHARED_COLUMNS,
    {"time_unix_nano", I, false, true},
    {"observed_time_unix_nano", I, false, true},
    {"severity_text", S, false, true},
    {"severity_number", I, false, true},
    {"body", S, false, false},
    {"body_type", S, false, false},
    {"log_attrs", M, false, false},
    {"log_attrs_types", S, false, false},
    {"trace_id", S, false, true},
    {"span_id", S, false, true},
    {"flags", I, false, false},
    {"dropped_attributes_count", I, false, false},
    {"event_name", S, false, true},
};
static_assert(std::size(kLogs) == logs::kNumColumns);

constexpr ColumnDef kMetricsPoints[] = {
    OTLAKE_SHARED_COLUMNS,
    {"instrument_name", S, false, true},
    {"instrument_type", S, false, true},
    {"unit", S, false, false},
    {"description", S, false, false},
    {"metric_metadata_json", S, false, false},
    {"aggregation_temporality", S, false, false},
    {"is_monotonic", B, false, false},
    {"time_unix_nano", I, false, true},
    {"start_time_unix_nano", I, false, false},
    {"value", D, true, true},
    {"value_int", I, true, true},
    {"flags", I, false, false},
    {"point_attrs", M, false, false},
    {"point_attrs_types", S, false, false},
    {"exemplars_json", S, false, false},
};
static_assert(std::size(kMetricsPoints) == metrics_points::kNumColumns);

constexpr ColumnDef kMetricsHist[] = {
    OTLAKE_SHARED_COLUMNS,
    {"instrument_name", S, false, true},
    {"instrument_type", S, false, true},
    {"unit", S, false, false},
    {"description", S, false, false},
    {"metric_metadata_json", S, false, false},
    {"aggregation_temporality", S, false, false},
    {"time_unix_nano", I, false, true},
    {"start_time_unix_nano", I, false, false},
    {"count", I, false, true},
    {"sum", D, true, true},
    {"min", D, true, true},
    {"max", D, true, true},
    {"bounds_json", S, true, false},
    {"counts_json", S, true, false},
    {"exp_scale", I, true, false},
    {"exp_zero_count", I, true, false},
    {"exp_zero_threshold", D, true, false},
    {"exp_positive_json", S, true, false},
    {"exp_negative_json", S, true, false},
    {"quantiles_json", S, true, false},
    {"flags", I, false, false},
    {"point_attrs", M, false, false},
    {"point_attrs_types", S, false, false},
    {"exemplars_json", S, false, false},
};
static_assert(std::size(kMetricsHist) == metrics_hist::kNumColumns);

#undef OTLAKE_SHARED_COLUMNS

constexpr std::string_view kNames[kNumTables] = {"spans", "span_events",    "span_links",
                                                 "logs",  "metrics_points", "metrics_hist"};

}  // namespace

std::string_view TableName(TableId id) { return kNames[static_cast<int>(id)]; }

bool ParseTableName(std::string_view name, TableId* out) {
  for (int i = 0; i < kNumTables; ++i) {
    if (kNames[i] == name) {
      *out = static_cast<TableId>(i);
      return true;
    }
  }
  return false;
}

int LeafIndex(TableId id, int col) {
  auto cols = Columns(id);
  int leaf = 0;
  for (int c = 0; c < col && c < static_cast<int>(cols.size()); ++c) {
    leaf += cols[c].type == ColType::kMap ? 2 : 1;
  }
  return leaf;
}

int NumLeaves(TableId id) { return LeafIndex(id, static_cast<int>(Columns(id).size())); }

bool IsAttrTypesColumn(TableId id, int col) {
  auto cols = Columns(id);
  return col > 0 && col < static_cast<int>(cols.size()) && cols[col - 1].type == ColType::kMap;
}

std::span<const ColumnDef> Columns(TableId id) {
  switch (id) {
    case TableId::kSpans: return kSpans;
    case TableId::kSpanEvents: return kSpanEvents;
    case TableId::kSpanLinks: return kSpanLinks;
    case TableId::kLogs: return kLogs;
    case TableId::kMetricsPoints: return kMetricsPoints;
    case TableId::kMetricsHist: return kMetricsHist;
  }
  return {};
}

}  // namespace otlake::table
