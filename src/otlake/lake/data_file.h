// One Delta data file: RowBatches -> Arrow (borrowed) -> sorted by the table's sort key ->
// Parquet (zstd, dictionary, column statistics, bounded row groups) -> fsync'd file.
//
// Contract: WriteDataFile creates `path` (which must not exist), and returns only after the
// file's bytes are on disk (fsync). It does not publish the file under a final name: the caller
// writes to a temp name and renames, then fsyncs the directory. On error the partial file is
// removed. No Arrow in this header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/table/row_batch.h"

namespace otlake::lake {

struct DataFileOptions {
  int zstd_level = 3;
  int64_t max_row_group_rows = 128 * 1024;
  /// Overrides the table's sort key (for measurements); empty = SortKey(table).
  std::vector<std::string> sort_key;
};

struct DataFileInfo {
  int64_t bytes = 0;       ///< file size
  int64_t row_groups = 0;  ///< number of Parquet row groups written
};

/// Writes all rows of `batches` (same table, at least one row) as one sorted Parquet file.
Result<DataFileInfo> WriteDataFile(const std::vector<const table::RowBatch*>& batches,
                                   const DataFileOptions& options, const std::string& path);

}  // namespace otlake::lake
