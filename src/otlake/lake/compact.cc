// DeltaTableWriter::Compact: merge small files into one sorted file, swapped in by one commit.
#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <unistd.h>

#include <algorithm>

#include "otlake/lake/arrow_convert.h"
#include "otlake/lake/data_file.h"
#include "otlake/lake/delta_log.h"
#include "otlake/lake/day_readers.h"
#include "otlake/lake/delta_table.h"
#include "otlake/lake/delta_table_internal.h"
#include "otlake/lake/fs_util.h"

namespace otlake::lake {
namespace {

int64_t NumRecords(const AddFile& a) {
  rapidjson::Document d;
  if (a.stats.empty() || d.Parse(a.stats.data(), a.stats.size()).HasParseError() || !d.IsObject()) return -1;
  auto it = d.FindMember("numRecords");
  return it != d.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : -1;
}

// -1/0/1 for two JSON bounds of the same column (numbers or strings).
int CompareBound(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.IsString() && b.IsString()) {
    std::string_view x(a.GetString(), a.GetStringLength()), y(b.GetString(), b.GetStringLength());
    return x < y ? -1 : x == y ? 0 : 1;
  }
  if (a.IsInt64() && b.IsInt64()) return a.GetInt64() < b.GetInt64() ? -1 : a.GetInt64() == b.GetInt64() ? 0 : 1;
  const double x = a.GetDouble(), y = b.GetDouble();
  return x < y ? -1 : x == y ? 0 : 1;
}

// The stats of the union of files: numRecords and nullCount add up; a column's min (max) is the
// least (greatest) of the inputs' when every input that has non-null values states one.
Result<std::string> MergeStats(const std::vector<const AddFile*>& files, table::TableId id) {
  int64_t records = 0;
  std::vector<int64_t> nulls(table::Columns(id).size(), 0);
  std::vector<bool> null_known(nulls.size(), true);
  rapidjson::Document out(rapidjson::kObjectType);
  auto& alloc = out.GetAllocator();
  rapidjson::Value mins(rapidjson::kObjectType), maxs(rapidjson::kObjectType);
  std::vector<bool> min_lost(nulls.size()), max_lost(nulls.size());
  std::vector<rapidjson::Document> docs(files.size());
  const auto cols = table::Columns(id);
  for (size_t f = 0; f < files.size(); ++f) {
    rapidjson::Document& d = docs[f];
    if (d.Parse(files[f]->stats.data(), files[f]->stats.size()).HasParseError() || !d.IsObject() ||
        !d.HasMember("numRecords")) {
      return Status::Invalid("file '", files[f]->path, "' has no usable stats; cannot compact it");
    }
    const int64_t n = d["numRecords"].GetInt64();
    records += n;
    const rapidjson::Value* nc = d.HasMember("nullCount") ? &d["nullCount"] : nullptr;
    for (size_t c = 0; c < cols.size(); ++c) {
      int64_t file_nulls = -1;
      if (nc && nc->IsObject() && nc->HasMember(cols[c].name) && (*nc)[cols[c].name].IsInt64()) {
        file_nulls = (*nc)[cols[c].name].GetInt64();
        nulls[c] += file_nulls;
      } else {
        null_known[c] = false;
      }
      const bool has_values = file_nulls < 0 || file_nulls < n;
      for (int side = 0; side < 2; ++side) {
        const char* key = side == 0 ? "minValues" : "maxValues";
        rapidjson::Value& acc = side == 0 ? mins : maxs;
        std::vector<bool>& lost = side == 0 ? min_lost : max_lost;
        const rapidjson::Value* m = d.HasMember(key) && d[key].IsObject() && d[key].HasMember(cols[c].name)
                                        ? &d[key][cols[c].name]
                                        : nullptr;
        if (!m) {
          if (has_values) lost[c] = true;
          continue;
        }
        auto it = acc.FindMember(cols[c].name);
        if (it == acc.MemberEnd()) {
          acc.AddMember(rapidjson::Value(cols[c].name, alloc), rapidjson::Value(*m, alloc), alloc);
        } else if ((side == 0) == (CompareBound(*m, it->value) < 0)) {
          it->value.CopyFrom(*m, alloc);
        }
      }
    }
  }
  for (size_t c = 0; c < cols.size(); ++c) {
    if (min_lost[c]) mins.RemoveMember(cols[c].name);
    if (max_lost[c]) maxs.RemoveMember(cols[c].name);
  }
  rapidjson::Value nc(rapidjson::kObjectType);
  for (size_t c = 0; c < cols.size(); ++c) {
    if (null_known[c]) nc.AddMember(rapidjson::Value(cols[c].name, alloc), rapidjson::Value(nulls[c]), alloc);
  }
  out.AddMember("numRecords", records, alloc);
  out.AddMember("minValues", mins, alloc);
  out.AddMember("maxValues", maxs, alloc);
  out.AddMember("nullCount", nc, alloc);
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  out.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

// The rows of a rewrite's input files as read, as one table with one chunk per non-empty file
// (files in input order, each file's rows in file order); null when there are no inputs.
// Nothing is concatenated: that would copy the inputs.
Result<std::shared_ptr<arrow::Table>> ReadInputs(const std::string& table_dir,
                                                 const std::vector<const AddFile*>& inputs) {
  std::shared_ptr<arrow::Schema> schema;
  std::vector<arrow::ArrayVector> columns;  // [column][file]
  int64_t rows = 0;
  for (const AddFile* a : inputs) {
    OTLAKE_ASSIGN_OR_RAISE(auto file, arrow::io::ReadableFile::Open(table_dir + "/" + a->path));
    OTLAKE_ASSIGN_OR_RAISE(auto reader, parquet::arrow::OpenFile(file, arrow::default_memory_pool()));
    OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Table> t, reader->ReadTable());
    // Files are read back with Parquet's field metadata; the writer wants otlake's schema. One
    // chunk per column (a copy only if the reader split a column: bounded by one file).
    OTLAKE_ASSIGN_OR_RAISE(t, t->ReplaceSchemaMetadata(nullptr)->CombineChunks());
    if (!schema) {
      schema = t->schema();
      columns.resize(static_cast<size_t>(t->num_columns()));
    } else if (!t->schema()->Equals(*schema, /*check_metadata=*/false)) {
      return Status::Invalid("file '", a->path, "' has schema ", t->schema()->ToString(),
                             ", unlike the other inputs: ", schema->ToString());
    }
    if (t->num_rows() == 0) continue;
    for (int c = 0; c < t->num_columns(); ++c) {
      const auto& col = t->column(c);
      if (col->num_chunks() != 1) return Status::Invalid("file '", a->path, "': column not combined");
      columns[static_cast<size_t>(c)].push_back(col->chunk(0));
    }
    rows += t->num_rows();
  }
  if (!schema) return std::shared_ptr<arrow::Table>();
  arrow::ChunkedArrayVector chunked;
  for (size_t c = 0; c < columns.size(); ++c) {
    chunked.push_back(std::make_shared<arrow::ChunkedArray>(std::move(columns[c]), schema->field(static_cast<int>(c))->type()));
  }
  return arrow::Table::Make(schema, std::move(chunked), rows);
}

}  // namespace

Result<int64_t> UncompressedBytes(const std::string& path) {
  try {
    auto reader = parquet::ParquetFileReader::OpenFile(path, /*memory_map=*/false);
    const std::shared_ptr<parquet::FileMetaData> md = reader->metadata();
    int64_t bytes = 0;
    for (int g = 0; g < md->num_row_groups(); ++g) bytes += md->RowGroup(g)->total_byte_size();
    return bytes;
  } catch (const std::exception& e) {
    return Status::IOError("cannot read the footer of '", path, "': ", e.what());
  }
}

Result<CompactResult> DeltaTableWriter::Compact(const CompactOptions& o) {
  CompactResult res;
  const int64_t now = Now();
  // 1. Delete files removed long enough ago (readers outside otlake) and held by no query of
  //    this day (otlake's readers, day_readers.h). A held day is not waited for: a later run
  //    deletes them.
  std::vector<std::string> expired;
  for (const auto& [path, rm] : state_->removes) {
    if (rm.deletion_timestamp > now - o.retention_ms) continue;
    const std::string full = table_dir_ + "/" + path;
    if (::access(full.c_str(), F_OK) == 0) expired.push_back(full);
  }
  if (!expired.empty()) {
    std::unique_ptr<DayLock> no_readers;
    if (!opts_.readers_dir.empty()) {
      OTLAKE_ASSIGN_OR_RAISE(no_readers, ExclusiveDay(opts_.readers_dir, /*timeout_ms=*/0));
    }
    if (opts_.readers_dir.empty() || no_readers) {
      for (const std::string& full : expired) {
        OTLAKE_RETURN_NOT_OK(RemoveIfExists(full));
        ++res.files_deleted;
      }
    } else {
      res.files_deferred = static_cast<int64_t>(expired.size());
    }
  }

  // 2. Pick the oldest files below the target, in commit order, up to max_input_rows. Files of
  //    consecutive flushes hold consecutive arrival (≈ event) times, so a merged file still
  //    covers one stretch of the day and time-bounded queries keep pruning whole files.
  std::vector<std::pair<int64_t, const AddFile*>> small;
  for (const auto& [path, add] : state_->adds) {
    const int64_t n = NumRecords(add);
    // Files of half the target or more are done: a merged file is not merged again (bounded
    // write amplification), and the oldest-first walk below cannot stall behind one.
    if (n >= 0 && n < o.target_file_rows / 2) small.emplace_back(n, &add);
  }
  if (static_cast<int>(small.size()) < o.min_files) return res;
  std::sort(small.begin(), small.end(), [](const auto& a, const auto& b) {
    return a.second->modification_time != b.second->modification_time
               ? a.second->modification_time < b.second->modification_time
               : a.second->path < b.second->path;  // part-<version>-…: commit order
  });
  std::vector<const AddFile*> inputs;
  for (const auto& [n, add] : small) {
    if (!inputs.empty() && res.rows + n > o.max_input_rows) break;
    // The byte cap is checked from footers alone, before anything is read; a run takes at least
    // two files, so a cap below two files' size slows compaction down but cannot stall it.
    int64_t bytes = 0;
    if (o.max_input_bytes > 0) {
      OTLAKE_ASSIGN_OR_RAISE(bytes, UncompressedBytes(table_dir_ + "/" + add->path));
      if (inputs.size() >= 2 && res.uncompressed_bytes_in + bytes > o.max_input_bytes) break;
    }
    inputs.push_back(add);
    res.rows += n;
    res.bytes_in += add->size;
    res.uncompressed_bytes_in += bytes;
  }
  if (static_cast<int>(inputs.size()) < std::min(o.min_files, 2)) return res;

  const DataFileOptions dopts = DataFileOptions::Defaults(id_, o.zstd_level, opts_.max_row_group_rows);
  OTLAKE_ASSIGN_OR_RAISE(RewriteResult rw, Rewrite(inputs, dopts, /*sealed=*/false));
  res.version = rw.version;
  res.files_in = static_cast<int64_t>(inputs.size());
  res.files_out = 1;
  res.bytes_out = rw.bytes;
  return res;
}

Result<DeltaTableWriter::RewriteResult> DeltaTableWriter::Rewrite(
    const std::vector<const AddFile*>& inputs, const DataFileOptions& dopts, bool sealed) {
  const int64_t now = Now();
  // 3. Read the inputs whole, order their rows by the sort key (computed over the key columns
  //    only), and write the output one row group at a time, each taken from the inputs by its
  //    slice of the order: memory is the inputs plus one output row group, not three copies.
  OTLAKE_RETURN_NOT_OK(EnsureArrowComputeInitialized());
  OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Table> in, ReadInputs(table_dir_, inputs));
  if (!in || in->num_rows() == 0) return Status::Invalid("nothing to rewrite: the inputs hold no rows");
  // No sort key (spans at ingest): input order, each row group a zero-copy slice of the inputs.
  // With one: the order computed over the key columns only, and each row group gathered in that
  // order from the files' chunks into reused buffers (RowGatherer, as a flush does; read-back
  // columns are int64, double, bool and utf8 -- no stored Arrow schema, so no dictionaries).
  std::shared_ptr<arrow::Array> order;
  std::unique_ptr<RowGatherer> gatherer;
  if (!dopts.sort_key.empty()) {
    for (const std::string& k : dopts.sort_key) {
      if (in->schema()->GetFieldIndex(k) < 0) {
        return Status::Invalid("sort key column '", k, "' is not in ", in->schema()->ToString());
      }
    }
    OTLAKE_ASSIGN_OR_RAISE(order, SortIndicesOf(in, dopts.sort_key));
    if (order->type_id() != arrow::Type::UINT64 || order->length() != in->num_rows() || order->null_count() != 0) {
      return Status::Invalid("sort indices of unexpected shape: ", order->type()->ToString());
    }
    OTLAKE_ASSIGN_OR_RAISE(gatherer, RowGatherer::Make(in, arrow::default_memory_pool()));
  }
  OTLAKE_ASSIGN_OR_RAISE(std::string stats, MergeStats(inputs, id_));
  auto row_group = [&](int64_t offset, int64_t length) -> Result<std::shared_ptr<arrow::Table>> {
    if (!gatherer) return in->Slice(offset, length);
    return gatherer->Gather(static_cast<const arrow::UInt64Array&>(*order).raw_values() + offset, length);
  };

  const int64_t version = state_->version + 1;
  const std::string name = DataFileName(version, sealed);
  const std::string tmp = table_dir_ + "/.tmp-" + name;
  OTLAKE_ASSIGN_OR_RAISE(DataFileInfo info, WriteRowGroups(in->schema(), in->num_rows(), row_group, dopts, tmp));
  gatherer.reset();  // it holds the inputs too
  in.reset();
  order.reset();
  OTLAKE_RETURN_NOT_OK(RenameDurable(tmp, table_dir_ + "/" + name));

  // 4. One commit swaps the inputs for the merged file.
  std::vector<std::string> lines;
  lines.push_back(EncodeCommitInfo(now, "OPTIMIZE",
                                   {{"predicate", "[]"}, {"zOrderBy", "[]"}, {"auto", "true"}},
                                   /*is_blind_append=*/false));
  std::vector<RemoveFile> removes;
  for (const AddFile* a : inputs) {
    RemoveFile r;
    r.path = a->path;
    r.deletion_timestamp = now;
    r.data_change = false;
    lines.push_back(EncodeRemove(r));
    removes.push_back(std::move(r));
  }
  AddFile add;
  add.path = name;
  add.size = info.bytes;
  add.modification_time = now;
  add.data_change = false;
  add.stats = std::move(stats);
  lines.push_back(EncodeAdd(add));
  Status st = PublishCommit(log_dir_, version, lines);
  if (!st.ok()) {
    (void)RemoveIfExists(table_dir_ + "/" + name);
    return st;
  }
  for (RemoveFile& r : removes) ApplyRemove(std::move(r), state_.get());
  ApplyAdd(std::move(add), state_.get());
  state_->version = version;
  if (opts_.checkpoint_interval > 0 &&
      (version % opts_.checkpoint_interval == 0 || checkpoint_pending_)) {
    checkpoint_status_ = Checkpoint();
    checkpoint_pending_ = !checkpoint_status_.ok();
  }
  return RewriteResult{version, info.bytes};
}

}  // namespace otlake::lake
