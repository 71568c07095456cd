// Delta `add.stats` for one data file, computed from the RowBatch columns that make up the file
// (cheap: one pass over plain vectors, no re-read of the Parquet file).
//
// The stats JSON holds numRecords, nullCount for every column, and minValues/maxValues for
//  - int64 and double columns (doubles skip NaN; ±Inf and all-NaN/all-null columns are omitted,
//    JSON cannot hold them and an absent bound only costs pruning), and
//  - string columns whose ColumnDef::stats is true, compared as UTF-8 bytes (= code point order,
//    what Delta readers use). A min longer than kMaxStatsStringBytes is truncated at a character
//    boundary (a prefix is still <= every value); a max that long is omitted, because no short
//    string is guaranteed >= every value with that prefix.
// Bool columns get nullCount only. No Arrow dependency.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "otlake/table/row_batch.h"

namespace otlake::lake {

/// Longest string bound (in bytes) written into stats.
inline constexpr size_t kMaxStatsStringBytes = 64;

struct FileStats {
  int64_t num_records = 0;
  std::string json;  ///< the value of add.stats
  /// Range of the event_ts column (ms); 0/0 when there are no rows.
  int64_t min_event_ts = 0;
  int64_t max_event_ts = 0;
};

/// Computes the stats of the rows of `batches` (all of table `id`).
FileStats ComputeStats(table::TableId id, const std::vector<const table::RowBatch*>& batches);

/// Longest prefix of `s` of at most `max_bytes` bytes that ends on a UTF-8 character boundary.
std::string_view Utf8Prefix(std::string_view s, size_t max_bytes);

}  // namespace otlake::lake
