#include "otlake/lake/data_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "otlake/lake/arrow_convert.h"
#include "otlake/lake/fs_util.h"
#include "otlake/lake/layout.h"

namespace otlake::lake {
namespace {

std::shared_ptr<parquet::WriterProperties> ParquetProperties(
    const DataFileOptions& o, const arrow::Schema& schema, const std::vector<std::string>& key) {
  parquet::WriterProperties::Builder b;
  b.compression(parquet::Compression::ZSTD)
      ->compression_level(o.zstd_level)
      ->enable_dictionary()
      ->enable_statistics()
      ->enable_write_page_index()
      ->max_row_group_length(o.max_row_group_rows)
      ->created_by("otlake " OTLAKE_VERSION);
  if (o.max_rows_per_page > 0) b.max_rows_per_page(o.max_rows_per_page);
  for (const std::string& c : o.plain_columns) b.disable_dictionary(c);
  for (const std::string& c : o.delta_columns) {
    const int i = schema.GetFieldIndex(c);
    if (i < 0) continue;
    const bool binary = arrow::is_base_binary_like(schema.field(i)->type()->id());
    b.disable_dictionary(c)->encoding(c, binary ? parquet::Encoding::DELTA_LENGTH_BYTE_ARRAY
                                                : parquet::Encoding::DELTA_BINARY_PACKED);
  }
  for (const std::string& c : o.no_statistics_columns) b.disable_statistics(c)->disable_write_page_index(c);
  // Declare the sort order in the footer so engines can rely on it.
  std::vector<parquet::SortingColumn> sorting;
  for (const std::string& k : key) {
    const int i = schema.GetFieldIndex(k);
    if (i >= 0) sorting.push_back({i, /*descending=*/false, /*nulls_first=*/false});
  }
  b.set_sorting_columns(std::move(sorting));
  for (const std::string& c : o.bloom_filter_columns) {
    parquet::BloomFilterOptions bf;
    bf.fpp = o.bloom_filter_fpp;
    b.enable_bloom_filter(c, bf);
  }
  return b.build();
}

// Creates `path`, lets `write` fill the Parquet file, closes and fsyncs it.
Status WriteAndSync(const std::shared_ptr<arrow::Schema>& schema, const DataFileOptions& options,
                    const std::vector<std::string>& key, const std::string& path,
                    const std::function<Status(parquet::arrow::FileWriter*)>& write, int64_t* bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot create '", path, "': ", std::strerror(errno));
  // The stream owns fd from here on and closes it in Close() or its destructor.
  OTLAKE_ASSIGN_OR_RAISE(auto sink, arrow::io::FileOutputStream::Open(fd));
  OTLAKE_ASSIGN_OR_RAISE(
      auto writer,
      parquet::arrow::FileWriter::Open(*schema, arrow::default_memory_pool(), sink,
                                       ParquetProperties(options, *schema, key)));
  OTLAKE_RETURN_NOT_OK(write(writer.get()));
  OTLAKE_RETURN_NOT_OK(writer->Close());
  OTLAKE_ASSIGN_OR_RAISE(*bytes, sink->Tell());
  if (::fsync(sink->file_descriptor()) != 0) {
    return Status::IOError("cannot fsync '", path, "': ", std::strerror(errno));
  }
  return sink->Close();
}

}  // namespace

DataFileOptions DataFileOptions::Defaults(table::TableId id, int zstd_level,
                                          int64_t max_row_group_rows) {
  DataFileOptions o;
  o.zstd_level = zstd_level;
  o.max_row_group_rows = std::min(max_row_group_rows, MaxRowGroupRows(id));
  o.sort_key = SortKey(id);
  o.max_rows_per_page = MaxRowsPerPage(id);
  o.bloom_filter_columns = BloomFilterColumns(id);
  for (std::string& leaf : AttrBloomFilterLeaves(id)) o.bloom_filter_columns.push_back(std::move(leaf));
  o.bloom_filter_fpp = kBloomFilterFpp;
  o.plain_columns = PlainColumns(id);
  o.delta_columns = DeltaColumns(id);
  o.no_statistics_columns = NoStatisticsColumns(id);
  return o;
}

Result<DataFileInfo> WriteDataFile(const std::vector<const table::RowBatch*>& batches,
                                   const DataFileOptions& options, const std::string& path) {
  if (options.max_row_group_rows <= 0) return Status::Invalid("max_row_group_rows must be > 0");
  if (!(options.bloom_filter_fpp > 0 && options.bloom_filter_fpp < 1)) {
    return Status::Invalid("bloom_filter_fpp must be in (0, 1)");
  }
  OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Table> view, BorrowAsTable(batches, options.sort_key));
  if (view->num_rows() == 0) return Status::Invalid("WriteDataFile needs at least one row");
  const std::vector<std::string>& key = options.sort_key;
  if (key.empty()) return WriteSortedTable(view, options, path);
  auto gatherer = RowGatherer::Make(view, arrow::default_memory_pool());
  if (!gatherer.ok()) {  // a column type the gatherer does not handle: sort a whole copy
    OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Table> sorted, SortTable(view, key));
    view.reset();
    return WriteSortedTable(sorted, options, path);
  }
  // Each row group is gathered in sort order from the borrowed batches into the same reused
  // buffers: no concatenated copy of the columns and no whole-file sorted copy (Take). Same row
  // groups, values and encodings as WriteSortedTable(SortTable(view)).
  OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Array> indices, SortIndicesOf(view, key));
  const uint64_t* order = static_cast<const arrow::UInt64Array&>(*indices).raw_values();
  RowGatherer* g = gatherer->get();
  return WriteRowGroups(
      view->schema(), view->num_rows(),
      [&](int64_t offset, int64_t n) { return g->Gather(order + offset, n); }, options, path);
}

Result<DataFileInfo> WriteSortedTable(const std::shared_ptr<arrow::Table>& sorted,
                                      const DataFileOptions& options, const std::string& path) {
  if (options.max_row_group_rows <= 0) return Status::Invalid("max_row_group_rows must be > 0");
  DataFileInfo info;
  Status st = WriteAndSync(
      sorted->schema(), options, options.sort_key, path,
      [&](parquet::arrow::FileWriter* w) { return w->WriteTable(*sorted, options.max_row_group_rows); },
      &info.bytes);
  if (!st.ok()) {
    (void)RemoveIfExists(path);
    return st;
  }
  const int64_t rows = sorted->num_rows();
  info.row_groups = (rows + options.max_row_group_rows - 1) / options.max_row_group_rows;
  return info;
}

Result<DataFileInfo> WriteRowGroups(const std::shared_ptr<arrow::Schema>& schema, int64_t num_rows,
                                    const RowGroupSource& source, const DataFileOptions& options,
                                    const std::string& path) {
  if (options.max_row_group_rows <= 0) return Status::Invalid("max_row_group_rows must be > 0");
  if (num_rows <= 0) return Status::Invalid("WriteRowGroups needs at least one row");
  DataFileInfo info;
  auto write = [&](parquet::arrow::FileWriter* w) -> Status {
    for (int64_t offset = 0; offset < num_rows; offset += options.max_row_group_rows) {
      const int64_t n = std::min(options.max_row_group_rows, num_rows - offset);
      OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Table> group, source(offset, n));
      if (group->num_rows() != n || !group->schema()->Equals(*schema, /*check_metadata=*/false)) {
        return Status::Invalid("row group source gave ", group->num_rows(), " rows of schema ",
                               group->schema()->ToString(), " for ", n, " rows of ", schema->ToString());
      }
      // One WriteTable call per row group: the same boundaries as WriteSortedTable's.
      OTLAKE_RETURN_NOT_OK(w->WriteTable(*group, options.max_row_group_rows));
      ++info.row_groups;
    }
    return Status::OK();
  };
  Status st = WriteAndSync(schema, options, options.sort_key, path, write, &info.bytes);
  if (!st.ok()) {
    (void)RemoveIfExists(path);
    return st;
  }
  return info;
}

}  // namespace otlake::lake
