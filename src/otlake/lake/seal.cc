// DeltaTableWriter::Seal: a past day's table gets its final layout, one checkpoint, and nothing
// else on disk (docs/delta.md "Sealing").
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <rapidjson/document.h>

#include <algorithm>

#include "otlake/lake/checkpoint.h"
#include "otlake/lake/day_readers.h"
#include "otlake/lake/data_file.h"
#include "otlake/lake/delta_log.h"
#include "otlake/lake/delta_table.h"
#include "otlake/lake/delta_table_internal.h"
#include "otlake/lake/fs_util.h"
#include "otlake/lake/layout.h"

namespace otlake::lake {
namespace {

struct FileOrder {
  int64_t rows = -1;
  int64_t min_ts = INT64_MAX;
  int64_t bytes = 0;  ///< uncompressed, from the footer (only with a byte bound)
};

FileOrder ReadOrder(const AddFile& a) {
  FileOrder o;
  rapidjson::Document d;
  if (a.stats.empty() || d.Parse(a.stats.data(), a.stats.size()).HasParseError() || !d.IsObject()) return o;
  if (auto it = d.FindMember("numRecords"); it != d.MemberEnd() && it->value.IsInt64()) o.rows = it->value.GetInt64();
  if (auto mv = d.FindMember("minValues"); mv != d.MemberEnd() && mv->value.IsObject()) {
    if (auto ts = mv->value.FindMember("event_ts"); ts != mv->value.MemberEnd() && ts->value.IsInt64()) {
      o.min_ts = ts->value.GetInt64();
    }
  }
  return o;
}

Result<int64_t> FooterRows(const std::string& path) {
  try {
    auto reader = parquet::ParquetFileReader::OpenFile(path, /*memory_map=*/false);
    return reader->metadata()->num_rows();
  } catch (const std::exception& e) {
    return Status::IOError("cannot read the footer of '", path, "': ", e.what());
  }
}

}  // namespace

SealLayout SealLayoutFor(table::TableId id) {
  SealLayout l;
  if (id == table::TableId::kSpans) {
    // Measured on query_bench's day (1M spans, zstd-9): sorted by start time 80.9 B/span, by
    // trace_id 97.2: a request's spans (one resource, one scope, one trace's siblings) stay
    // together, so resource and scope columns collapse and trace/parent ids dictionary-encode
    // within a row group; start times compress as near-sorted numbers. Trace lookups still read
    // the one or two row groups whose bloom filter admits the id (a trace's spans start within
    // seconds of each other). Plain encoding for the nearly unique columns: 72.1 B/span.
    //
    // Then (ship_bench's 1M-span day, sealed at 75.7 B/span, rewritten with pyarrow at zstd-9):
    // pages by bytes (1 MiB) instead of 4096 rows: 73.9 — in a start-time-sorted file the page
    // index cannot prune trace ids, so small pages only cost headers and zstd context; start,
    // end and event_ts DELTA_BINARY_PACKED (differences of near-sorted times) instead of plain
    // or dictionary: 71.1, and 17% less CPU. Tried and not taken: BYTE_STREAM_SPLIT for
    // duration_ms (+1.4), 8 MiB pages (-0.3 for 20% more CPU),
    // zstd-15 for span_attrs_json (-0.8 B/span for 4.7x the CPU).
    //
    // Then (ship_bench's 1M-span day, 2026-12-03, sealed at 71.4 B/span, rewritten with pyarrow
    // at zstd-9): span_id DELTA_LENGTH_BYTE_ARRAY instead of plain (the 4-byte length before
    // every 16 hex characters collapses) -1.27; span_attrs_json without a dictionary (16k rows
    // of ~650-byte documents overflow it and fall back to plain anyway) -0.17; the JSON columns
    // without statistics or page index (NoStatisticsColumns) -0.7. Tried and not taken:
    // span_attrs_json at zstd-12 (-0.74 for 1.5x the rewrite's CPU), zstd-15 (-1.08, 5x),
    // zstd-19 (-2.89, 55x), 4 MiB pages (-0.28), brotli 5/7/9 on it (+0.75/+0.07/-0.14),
    // DELTA_LENGTH/DELTA_BYTE_ARRAY on it (+0.31/+1.28), parent_span_id without a dictionary
    // (+0.13), BYTE_STREAM_SPLIT on end_time (+0.24).
    l.sort_key = {"start_time_unix_nano", "trace_id", "span_id"};
    // Schema 2 (attribute maps): the values leaf plain, the keys leaf with its dictionary
    // (layout.cc PlainColumns: zstd-9 33.3 vs 39.7 B/span for the values).
    l.plain_columns = {"duration_ms", MapLeafPath("span_attrs", true)};
    l.delta_columns = {"start_time_unix_nano", "end_time_unix_nano", "event_ts", "span_id"};
    l.max_rows_per_page = MaxRowGroupRows(id);
  }
  return l;
}

Result<SealResult> DeltaTableWriter::Seal(const SealOptions& o,
                                          const std::function<void(int64_t, int64_t)>& progress) {
  if (o.target_file_rows <= 0) return Status::Invalid("seal target_file_rows must be > 0");
  if (o.zstd_level < 1 || o.zstd_level > 22) return Status::Invalid("seal zstd level must be 1..22");
  SealResult res;
  for (const auto& [path, add] : state_->adds) {
    ++res.files_before;
    res.bytes_before += add.size;
  }

  DataFileOptions dopts = DataFileOptions::Defaults(
      id_, o.zstd_level, o.max_row_group_rows > 0 ? o.max_row_group_rows : MaxRowGroupRows(id_));
  const SealLayout layout = SealLayoutFor(id_);
  if (!layout.sort_key.empty()) dopts.sort_key = layout.sort_key;
  dopts.plain_columns = layout.plain_columns;
  dopts.delta_columns = layout.delta_columns;
  if (layout.max_rows_per_page > 0) dopts.max_rows_per_page = layout.max_rows_per_page;
  if (!o.sort_key.empty()) dopts.sort_key = o.sort_key;
  if (o.max_rows_per_page > 0) dopts.max_rows_per_page = o.max_rows_per_page;

  // 1. Unsealed files in event-time order, merged in runs of up to target_file_rows rows.
  std::vector<std::pair<FileOrder, const AddFile*>> todo;
  int64_t total_rows = 0;
  for (const auto& [path, add] : state_->adds) {
    FileOrder ord = ReadOrder(add);
    total_rows += std::max<int64_t>(ord.rows, 0);
    if (IsSealedFileName(path)) continue;
    if (ord.rows < 0) return Status::Invalid("file '", path, "' has no numRecords stats; cannot seal it");
    if (o.max_file_bytes > 0) {
      OTLAKE_ASSIGN_OR_RAISE(ord.bytes, UncompressedBytes(table_dir_ + "/" + path));
    }
    todo.emplace_back(ord, &add);
  }
  std::sort(todo.begin(), todo.end(), [](const auto& a, const auto& b) {
    return a.first.min_ts != b.first.min_ts ? a.first.min_ts < b.first.min_ts : a.second->path < b.second->path;
  });
  // Group first (Rewrite changes state_->adds, which the pointers point into): by path. A
  // group ends before it would pass target_file_rows rows or max_file_bytes uncompressed bytes
  // (Rewrite's memory is about its inputs'); one file over either bound is a group alone.
  std::vector<std::vector<std::string>> groups;
  int64_t group_rows = 0, group_bytes = 0;
  for (const auto& [ord, add] : todo) {
    const bool full = group_rows > 0 && (group_rows + ord.rows > o.target_file_rows ||
                                         (o.max_file_bytes > 0 && group_bytes + ord.bytes > o.max_file_bytes));
    if (groups.empty() || full) {
      groups.emplace_back();
      group_rows = 0;
      group_bytes = 0;
    }
    groups.back().push_back(add->path);
    group_rows += ord.rows;
    group_bytes += ord.bytes;
  }
  int64_t done_rows = total_rows;
  for (const auto& [ord, add] : todo) done_rows -= ord.rows;
  for (const auto& g : groups) {
    std::vector<const AddFile*> inputs;
    int64_t rows = 0;
    for (const std::string& p : g) {
      auto it = state_->adds.find(p);
      if (it == state_->adds.end()) return Status::Invalid("file '", p, "' left the table while sealing");
      inputs.push_back(&it->second);
      rows += ReadOrder(it->second).rows;
    }
    OTLAKE_RETURN_NOT_OK(Rewrite(inputs, dopts, /*sealed=*/true).status());
    res.files_rewritten += static_cast<int64_t>(g.size());
    done_rows += rows;
    if (progress) progress(done_rows, total_rows);
  }

  // 2. Tombstones are not needed once the files they name are deleted (below): a sealed day has
  //    no concurrent writer and its readers load the final checkpoint.
  state_->removes.clear();

  // 3. The final checkpoint and _last_checkpoint.
  OTLAKE_RETURN_NOT_OK(Checkpoint());
  checkpoint_pending_ = false;
  checkpoint_status_ = Status::OK();
  res.version = state_->version;

  // 4. Delete what the checkpoint does not reference, once no query holds the day (a query that
  //    loaded an older snapshot reads the replaced files). Only names otlake writes are touched.
  std::unique_ptr<DayLock> no_readers;
  if (!opts_.readers_dir.empty()) {
    OTLAKE_ASSIGN_OR_RAISE(no_readers, ExclusiveDay(opts_.readers_dir, o.readers_wait_ms, o.stop));
    if (!no_readers && o.stop != nullptr && o.stop->load()) {
      return Status::Cancelled("sealed ", table_dir_, " at version ", res.version,
                               "; stopping before its replaced files were deleted (sealing again deletes them)");
    }
    if (!no_readers) {
      return Status::IOError("sealed ", table_dir_, " at version ", res.version,
                             " but queries held the day for ", o.readers_wait_ms,
                             " ms; the replaced files stay until sealing runs again");
    }
  }
  OTLAKE_ASSIGN_OR_RAISE(auto names, ListDir(table_dir_));
  for (const std::string& n : names) {
    if (n == "_delta_log") continue;
    const bool ours = n.rfind("part-", 0) == 0 || n.rfind(".tmp-", 0) == 0;
    if (!ours || state_->adds.count(n) > 0) continue;
    OTLAKE_RETURN_NOT_OK(RemoveIfExists(table_dir_ + "/" + n));
    ++res.files_deleted;
  }
  OTLAKE_ASSIGN_OR_RAISE(auto log_names, ListDir(log_dir_));
  for (const std::string& n : log_names) {
    int64_t v;
    const bool old = (ParseCommitFileName(n, &v) || ParseCheckpointFileName(n, &v)) && v < res.version;
    if (!old && n.rfind(".tmp-", 0) != 0) continue;
    OTLAKE_RETURN_NOT_OK(RemoveIfExists(log_dir_ + "/" + n));
    ++res.log_files_deleted;
  }
  if (res.files_deleted > 0) OTLAKE_RETURN_NOT_OK(FsyncDir(table_dir_));
  if (res.log_files_deleted > 0) OTLAKE_RETURN_NOT_OK(FsyncDir(log_dir_));
  no_readers.reset();

  // 5. The rows, from the files themselves.
  for (const auto& [path, add] : state_->adds) {
    OTLAKE_ASSIGN_OR_RAISE(int64_t rows, FooterRows(table_dir_ + "/" + path));
    const int64_t stated = ReadOrder(add).rows;
    if (stated != rows) {
      return Status::Invalid("data file '", table_dir_, "/", path, "' holds ", rows,
                             " rows but the Delta log says ", stated);
    }
    res.rows += rows;
    ++res.files;
    res.bytes += add.size;
  }
  return res;
}

}  // namespace otlake::lake
