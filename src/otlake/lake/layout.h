// Physical layout of otlake's data files, per table: sort key, Parquet page size, bloom filters.
// These are the choices docs/delta.md justifies with measurements (lake_bench_test.cc); change
// them only with a new measurement. No Arrow dependency.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/table/schema.h"

namespace otlake::lake {

/// Rows per Parquet data page at most: the page index's granularity. For the tables with
/// trace_id, 4096 makes a trace-id lookup read ~4% of a 100k-row file instead of 20% (Arrow's
/// default 20000) at no size cost; metric rows are so small (~5 B) that page overhead would add
/// ~20%, so they keep 20000. Spans (arrival order) use the row group: pages bounded by bytes.
int64_t MaxRowsPerPage(table::TableId id);

/// False-positive rate of the bloom filters in BloomFilterColumns.
inline constexpr double kBloomFilterFpp = 0.01;

/// Column names of the sort key of table `id`'s data files, most significant first.
std::vector<std::string> SortKey(table::TableId id);

/// Columns that get a Parquet bloom filter: trace_id wherever it exists, so a lookup of one
/// trace can skip files and row groups whose random trace ids span the whole min/max range.
std::vector<std::string> BloomFilterColumns(table::TableId id);

/// Parquet leaf paths of attribute map values that get a bloom filter (e.g.
/// "span_attrs.key_value.value"): an `attr.k=v` filter skips row groups where no value equals v.
std::vector<std::string> AttrBloomFilterLeaves(table::TableId id);

/// The Parquet leaf path of map column `name`'s keys or values ("<name>.key_value.key|value").
std::string MapLeafPath(std::string_view name, bool value);

/// Columns of table `id`'s data files written without a dictionary (plain + zstd): nearly unique
/// values, where a dictionary costs a hash insert per value and then falls back to plain anyway.
std::vector<std::string> PlainColumns(table::TableId id);

/// Columns written with a delta encoding and no dictionary (DataFileOptions::delta_columns):
/// integers that grow within a sort run (DELTA_BINARY_PACKED), nearly unique fixed-length ids
/// (DELTA_LENGTH_BYTE_ARRAY: the lengths collapse, the bytes stay for zstd).
std::vector<std::string> DeltaColumns(table::TableId id);

/// Columns written without Parquet min/max statistics and without a page index: the JSON text
/// columns (`*_json`) and the attribute type letters (`*_attrs_types`). Nothing prunes by the min/max of a JSON document, and each page and row
/// group would carry two copies of a ~700-byte document (0.7 B/span in a sealed spans file) and
/// cost a long string compare per row to write. Delta `add.stats` are computed separately.
std::vector<std::string> NoStatisticsColumns(table::TableId id);

/// Upper bound on rows per Parquet row group for table `id` (the writer option can only lower it).
int64_t MaxRowGroupRows(table::TableId id);

}  // namespace otlake::lake
