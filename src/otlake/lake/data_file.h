// One Delta data file: RowBatches -> Arrow (borrowed) -> sorted by the table's sort key ->
// Parquet (zstd, dictionary, column statistics, bounded row groups) -> fsync'd file.
//
// Contract: WriteDataFile creates `path` (which must not exist), and returns only after the
// file's bytes are on disk (fsync). It does not publish the file under a final name: the caller
// writes to a temp name and renames, then fsyncs the directory. On error the partial file is
// removed. No Arrow in this header.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/table/row_batch.h"

namespace arrow {
class Schema;
class Table;
}

namespace otlake::lake {

/// How to write one file. Defaults() gives the table's layout (layout.h); the fields exist
/// separately so measurements can vary them.
struct DataFileOptions {
  int zstd_level = 1;
  int64_t max_row_group_rows = 128 * 1024;
  /// Sort key, most significant first; empty = no sorting (arrival order).
  std::vector<std::string> sort_key;
  /// Upper bound on rows per data page (the page index's granularity); 0 = Arrow's 20000.
  int64_t max_rows_per_page = 0;
  /// Columns that get a Parquet split-block bloom filter (for equality lookups).
  std::vector<std::string> bloom_filter_columns;
  double bloom_filter_fpp = 0.01;
  /// Columns written without a dictionary (plain + zstd): nearly unique values (span ids,
  /// nanosecond times) where a dictionary only adds a second copy.
  std::vector<std::string> plain_columns;
  /// Columns written with a delta encoding and no dictionary: DELTA_BINARY_PACKED for integers
  /// (near-sorted times: each value is a small difference from the last), DELTA_LENGTH_BYTE_ARRAY
  /// for strings.
  std::vector<std::string> delta_columns;
  /// Columns written without min/max statistics or page index (layout.h NoStatisticsColumns).
  std::vector<std::string> no_statistics_columns;

  /// The layout of table `id` (sort key, page size, bloom filters, plain, delta and
  /// statistics-free columns) with
  /// the given zstd level and row-group bound.
  static DataFileOptions Defaults(table::TableId id, int zstd_level, int64_t max_row_group_rows);
};

struct DataFileInfo {
  int64_t bytes = 0;       ///< file size
  int64_t row_groups = 0;  ///< number of Parquet row groups written
};

/// Writes all rows of `batches` (same table, at least one row) as one Parquet file sorted by
/// `options.sort_key`.
Result<DataFileInfo> WriteDataFile(const std::vector<const table::RowBatch*>& batches,
                                   const DataFileOptions& options, const std::string& path);

/// Writes `table` (rows already in `options.sort_key` order; compaction's merged output) as one
/// Parquet file with the same properties as WriteDataFile.
Result<DataFileInfo> WriteSortedTable(const std::shared_ptr<arrow::Table>& table,
                                      const DataFileOptions& options, const std::string& path);

/// Rows [offset, offset + length) of a file being written by WriteRowGroups, as a table with
/// the file's schema.
using RowGroupSource =
    std::function<Result<std::shared_ptr<arrow::Table>>(int64_t offset, int64_t length)>;

/// Writes `num_rows` rows (> 0, already in `options.sort_key` order) with schema `schema` as one
/// Parquet file with the same properties and row-group boundaries as WriteSortedTable, asking
/// `source` for one row group (up to `options.max_row_group_rows` rows) at a time, in order, and
/// dropping it once written: only one row group of output is in memory (compaction, seal).
Result<DataFileInfo> WriteRowGroups(const std::shared_ptr<arrow::Schema>& schema, int64_t num_rows,
                                    const RowGroupSource& source, const DataFileOptions& options,
                                    const std::string& path);

}  // namespace otlake::lake
