#include "otlake/lake/layout.h"

#include <string_view>

namespace otlake::lake {

std::vector<std::string> SortKey(table::TableId id) {
  switch (id) {
    // Spans stay in arrival order: a request's spans (one resource, one scope, near-equal
    // times) sit together, and the trace_id bloom filter of each 16k-row group finds a trace.
    // Measured against sorting by (trace_id, start, span_id) with query_bench on 2M spans
    // (31 flush files), 2026-12-03: 74.9 vs 84.9 B/span as ingested; Parquet+Delta CPU 4 vs 8 s;
    // trace by id p50 15.7 vs 25.2 ms; one service over one hour 20 vs 101 ms (35 vs 904 ms
    // after compaction, whose merged files then keep time order); compaction 74.6 -> 74.3 vs
    // 87.6 -> 93.6 B/span. ingest_bench: -30% user CPU per span. Seal sorts by start time.
    case table::TableId::kSpans: return {};
    case table::TableId::kSpanEvents: return {"trace_id", "span_id", "event_index"};
    case table::TableId::kSpanLinks: return {"trace_id", "span_id", "link_index"};
    // Service + time filters prune pages; each service's messages sit together.
    case table::TableId::kLogs: return {"service_name", "event_ts"};
    // Metric queries name an instrument: instrument first prunes pages 5x (measured).
    case table::TableId::kMetricsPoints:
    case table::TableId::kMetricsHist: return {"instrument_name", "service_name", "event_ts"};
  }
  return {};
}

int64_t MaxRowsPerPage(table::TableId id) {
  switch (id) {
    case table::TableId::kMetricsPoints:
    case table::TableId::kMetricsHist: return 20'000;
    // Spans are in arrival order (SortKey): a page's trace_id range is the whole range, so small
    // pages only cost headers and a zstd context each; pages are bounded by bytes (1 MiB).
    case table::TableId::kSpans: return MaxRowGroupRows(id);
    default: return 4096;
  }
}

int64_t MaxRowGroupRows(table::TableId id) {
  switch (id) {
    // A trace lookup reads the one row group (per file) whose trace_id range and bloom filter
    // admit the id: 16k-row groups make that 6x cheaper than 128k (query_bench: 6.2 -> 1.6 MB
    // and ~67 -> ~21 ms per lookup on 1M spans) for +1% bytes.
    case table::TableId::kSpans:
    case table::TableId::kSpanEvents:
    case table::TableId::kSpanLinks: return 16 * 1024;
    default: return 128 * 1024;
  }
}

// Measured on the spans of bench/ingest_bench.py (120k spans, one flush file, zstd-1, 16k-row
// groups; B/span, all-dictionary first, then sorted by trace_id): start_time 4.49 -> 0.81
// (delta), span_id 10.75 -> 8.07 (delta lengths), parent_span_id 1.74 -> 1.10, duration_ms 9.23
// -> 7.55, trace_id 2.32 -> 2.13, span_attrs_json 46.8 -> 46.6 (plain; delta lengths 47.2): the
// file 84.0 -> 73.2 B/span. Then in arrival order (query_bench's flush file of 65k spans,
// pyarrow at zstd-1, 2026-12-03): end_time and event_ts delta instead of plain -2.06 and -0.30
// (start plain instead of delta +2.14, trace_id and event_ts as dictionaries +0.12 and +1.66).
// The other tables keep dictionaries until measured.
std::vector<std::string> PlainColumns(table::TableId id) {
  switch (id) {
    // The span attribute values: plain (no dictionary) measured smaller than a dictionary on the
    // ingest bench's spans (pyarrow rewrite of a flush file, 2026-12-07): zstd-1 39.35 vs 41.35
    // B/span, zstd-9 33.34 vs 39.67 (a 16k-row group's ~300k values of ids, addresses, amounts
    // overflow the dictionary); the keys keep theirs (0.03 B/span).
    case table::TableId::kSpans:
      return {"trace_id", "duration_ms", MapLeafPath("span_attrs", true)};
    default: return {};
  }
}

std::vector<std::string> DeltaColumns(table::TableId id) {
  switch (id) {
    case table::TableId::kSpans:
      return {"start_time_unix_nano", "end_time_unix_nano", "event_ts", "span_id", "parent_span_id"};
    default: return {};
  }
}

std::vector<std::string> NoStatisticsColumns(table::TableId id) {
  std::vector<std::string> out;
  for (const table::ColumnDef& c : table::Columns(id)) {
    const std::string_view name(c.name);
    if (name.ends_with("_json") || name.ends_with("_attrs_types")) out.emplace_back(c.name);
    // A map's value leaf mixes every key's values: its min/max prune nothing (the key leaf's do).
    if (c.type == table::ColType::kMap) out.push_back(MapLeafPath(name, true));
  }
  return out;
}

std::vector<std::string> BloomFilterColumns(table::TableId id) {
  switch (id) {
    case table::TableId::kSpans:
    case table::TableId::kSpanEvents:
    case table::TableId::kSpanLinks:
    case table::TableId::kLogs: return {"trace_id"};
    case table::TableId::kMetricsPoints:
    case table::TableId::kMetricsHist: return {};
  }
  return {};
}

}  // namespace otlake::lake

namespace otlake::lake {

std::string MapLeafPath(std::string_view name, bool value) {
  return std::string(name) + (value ? ".key_value.value" : ".key_value.key");
}

// None yet: a split-block filter on span_attrs' values, sized by Arrow's default (~32k distinct
// values per 16k-row group), cost 2.3 B/span (+3.4% of the file, ingest bench 2026-12-07) while a
// group holds ~100k distinct values (ids, addresses, amounts), so it would answer "maybe" for
// most needles. The engine uses such filters when a file has them.
std::vector<std::string> AttrBloomFilterLeaves(table::TableId) { return {}; }

}  // namespace otlake::lake
