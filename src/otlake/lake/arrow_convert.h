// RowBatch <-> Arrow: the table's Arrow schema, and RowBatches as Arrow tables without copying the
// value vectors where Arrow's layout matches ours.
//
// Type mapping (the same facts as SchemaString in delta_log.h):
//   kString -> utf8 (int32 offsets)   Delta "string"
//   kInt64  -> int64                  Delta "long"
//   kDouble -> float64                Delta "double"
//   kBool   -> bool (bit-packed)      Delta "boolean"
//   kMap    -> map<utf8, utf8>        Delta {"type":"map","keyType":"string","valueType":"string",
//                                     "valueContainsNull":true}
// Fields are non-nullable unless ColumnDef::nullable. Nullable columns get a validity bitmap
// packed from Column::valid (omitted when there is no null).
//
// This header includes Arrow: include it only from .cc files that use Arrow (the query module,
// the lake writer), never from a widely included header.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <arrow/type_fwd.h>

#include "otlake/common/status.h"
#include "otlake/table/row_batch.h"

namespace otlake::lake {

/// The Arrow type of an attribute map column: map<utf8 (non-null), utf8 (nullable)>; Parquet
/// stores it as MAP { repeated group key_value { key; value } }, Delta as map<string,string>.
std::shared_ptr<arrow::DataType> AttrMapType();
/// The map type of BorrowAsTable's map columns: the same map whose keys (and, with
/// `dict_values`, values: resource and scope attributes) are codes into one dictionary
/// (dictionary<int32, utf8>). A Parquet file written from it is the same as from AttrMapType (the
/// dictionary is only how the writer receives the strings). A column whose keys or values are
/// too many for one dictionary (over 4096, or 256 KiB) is AttrMapType instead.
std::shared_ptr<arrow::DataType> AttrMapDictKeyType(bool dict_values = false);

/// Registers Arrow's compute kernels once per process (toolchain.md pitfall 1). Thread-safe.
Status EnsureArrowComputeInitialized();

/// The Arrow schema of table `id`.
std::shared_ptr<arrow::Schema> ArrowSchema(table::TableId id);

/// A table over `batches` (all of the same table, one chunk per non-empty batch). Int64, double
/// and string data and offsets are *borrowed*: the batches must stay alive and unmodified while
/// the result (or anything sliced from it) is in use. Bools and validity are packed into new
/// bitmaps. Zero batches or zero rows give an empty table.
///
/// Dictionary columns (table::IsDictColumn) become one `dictionary<int32, utf8>` chunk over all
/// batches: the batches' entries unified into one dictionary (first appearance order), their
/// codes remapped into new indices; Parquet then writes that dictionary once per row group and
/// the indices without hashing a value per row. Columns named in `dense_columns` (a sort key:
/// sorting works on plain strings) are copied into utf8 instead. Map columns are
/// AttrMapDictKeyType: their keys (and request-level maps' values) codes into one dictionary
/// per column, offsets and values borrowed; request-level maps expanded row by row. The table's
/// schema is this one, not ArrowSchema's; Parquet stores both the same (BYTE_ARRAY UTF8).
Result<std::shared_ptr<arrow::Table>> BorrowAsTable(
    const std::vector<const table::RowBatch*>& batches,
    const std::vector<std::string>& dense_columns = {});

/// A table that owns the data of `batch`: its vectors are moved into Arrow buffers (no copy of
/// numbers or strings; dictionary columns are expanded into plain utf8 copies); the schema is
/// ArrowSchema's. `batch` is left empty in unspecified state.
Result<std::shared_ptr<arrow::Table>> MoveToTable(table::RowBatch&& batch);

/// `table` reordered by `sort_key` (ascending, nulls last) with arrow::compute SortIndices + Take.
/// The result owns its data.
Result<std::shared_ptr<arrow::Table>> SortTable(const std::shared_ptr<arrow::Table>& table,
                                                const std::vector<std::string>& sort_key);

/// The row order of `table` sorted by `sort_key` (SortTable's order): a uint64 array of row
/// numbers, SortIndices' output.
Result<std::shared_ptr<arrow::Array>> SortIndicesOf(const std::shared_ptr<arrow::Table>& table,
                                                    const std::vector<std::string>& sort_key);

/// Copies rows of one table, picked by row number, into one-chunk tables of the same schema:
/// what arrow::compute::Take of those rows gives, but without concatenating the table's chunks
/// first, and into buffers from `pool` that the next Gather reuses once the previous result is
/// released (a file written row group by row group then touches one row group's worth of new
/// memory instead of two copies of every column). Handles int32/int64/double, bool, utf8 and
/// dictionary<int32, utf8> columns whose chunks share one dictionary; Make returns
/// map<utf8, utf8> columns; Make returns NotImplemented for anything else (WriteDataFile then falls back to SortTable; compaction's
/// read-back columns are all of these types).
class RowGatherer {
 public:
  /// `table` must stay alive and unmodified while the gatherer and its results are in use.
  static Result<std::unique_ptr<RowGatherer>> Make(std::shared_ptr<arrow::Table> table,
                                                   arrow::MemoryPool* pool);
  ~RowGatherer();

  /// Rows `rows[0..n)` (each < table->num_rows()) as a table of n rows in that order.
  Result<std::shared_ptr<arrow::Table>> Gather(const uint64_t* rows, int64_t n);

 private:
  struct Col;
  RowGatherer(std::shared_ptr<arrow::Table> table, arrow::MemoryPool* pool);

  std::shared_ptr<arrow::Table> table_;
  arrow::MemoryPool* pool_;  // not owned; outlives the gatherer
  std::vector<Col> cols_;
  // Distinct chunk layouts of the columns: chunk start rows, then the total.
  std::vector<std::vector<int64_t>> layouts_;
  // Per layout, for the rows of the current Gather: chunk and row within it.
  std::vector<std::vector<int32_t>> chunk_;
  std::vector<std::vector<int64_t>> local_;
};

}  // namespace otlake::lake
