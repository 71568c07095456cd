#include "otlake/lake/delta_table.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "otlake/lake/checkpoint.h"
#include "otlake/lake/data_file.h"
#include "otlake/lake/delta_log.h"
#include "otlake/lake/delta_table_internal.h"
#include "otlake/lake/fs_util.h"
#include "otlake/lake/snapshot.h"
#include "otlake/lake/stats.h"

namespace otlake::lake {
namespace {

constexpr const char* kLastCheckpoint = "_last_checkpoint";

std::string Join(const std::string& dir, const std::string& name) { return dir + "/" + name; }

// Rebuilds the table state from the newest checkpoint and the commits after it.
// Returns a state with version -1 when the log holds no commit at all.
Result<TableState> LoadState(const std::string& log_dir) {
  LogSource src;
  src.log_dir = log_dir;
  src.list = [&] { return ListDir(log_dir); };
  src.read = [&](const std::string& name, bool* missing) {
    return ReadWholeFile(Join(log_dir, name), missing);
  };
  return LoadTableState(src);
}

Status ValidateState(const TableState& s, table::TableId id, const std::string& dir) {
  if (!s.has_protocol || !s.has_metadata) {
    return Status::Invalid("delta table '", dir, "' has no protocol or metaData action");
  }
  if (s.protocol.min_reader_version > 1 || s.protocol.min_writer_version > 2) {
    return Status::Invalid("delta table '", dir, "' needs protocol (",
                           s.protocol.min_reader_version, ", ", s.protocol.min_writer_version,
                           "); otlake writes (1, 2) only");
  }
  if (!s.metadata.partition_columns.empty()) {
    return Status::Invalid("delta table '", dir, "' is partitioned; otlake tables are not");
  }
  if (s.metadata.schema_string != SchemaString(id)) {
    if (IsSchemaVersion1(s.metadata.schema_string)) {
      return Status::Invalid("delta table '", dir,
                             "' was written with otlake schema_version 1 (attributes in "
                             "*_attrs_json text columns); this otlake writes schema_version ",
                             table::kCurrentSchemaVersion,
                             " (attribute map columns) and cannot append to it: seal that day "
                             "with the otlake that wrote it, or move it away (docs/attributes.md)");
    }
    return Status::Invalid("delta table '", dir, "' has a different schema than otlake's ",
                           table::TableName(id), " table");
  }
  return Status::OK();
}

}  // namespace

// Writes `lines` as commit `version` atomically; AlreadyExists if the version is taken.
Status PublishCommit(const std::string& log_dir, int64_t version,
                     const std::vector<std::string>& lines) {
  std::string body;
  for (const std::string& l : lines) {
    body += l;
    body += '\n';
  }
  const std::string tmp = Join(log_dir, ".tmp-" + NewUuid() + ".json");
  OTLAKE_RETURN_NOT_OK(WriteFileDurable(tmp, body));
  Status st = PublishNoReplace(tmp, Join(log_dir, CommitFileName(version)));
  if (st.IsAlreadyExists()) {
    return Status::AlreadyExists("delta version ", version, " in '", log_dir,
                                 "' was committed by another writer; reopen the table");
  }
  return st;
}

std::string DataFileName(int64_t seq, bool sealed) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "part-%05" PRId64 "-", seq);
  return std::string(buf) + NewUuid() + (sealed ? ".sealed.zstd.parquet" : ".zstd.parquet");
}

bool IsSealedFileName(const std::string& path) {
  return path.size() > 20 && path.compare(path.size() - 20, 20, ".sealed.zstd.parquet") == 0;
}

DeltaTableWriter::DeltaTableWriter(std::string table_dir, table::TableId id, WriterOptions opts,
                                   std::unique_ptr<TableState> state)
    : table_dir_(std::move(table_dir)),
      log_dir_(Join(table_dir_, "_delta_log")),
      id_(id),
      opts_(opts),
      state_(std::move(state)) {}

DeltaTableWriter::~DeltaTableWriter() = default;

int64_t DeltaTableWriter::Now() const {
  return opts_.now_unix_ms != 0 ? opts_.now_unix_ms : WallClockMs();
}

Result<std::unique_ptr<DeltaTableWriter>> DeltaTableWriter::Open(const std::string& table_dir,
                                                                 table::TableId id,
                                                                 WriterOptions opts) {
  if (opts.zstd_level < 1 || opts.zstd_level > 22) {
    return Status::Invalid("zstd_level must be 1..22, got ", opts.zstd_level);
  }
  if (opts.max_row_group_rows <= 0) return Status::Invalid("max_row_group_rows must be > 0");
  std::string dir = table_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const std::string log_dir = Join(dir, "_delta_log");
  OTLAKE_RETURN_NOT_OK(MakeDirs(log_dir));

  OTLAKE_ASSIGN_OR_RAISE(TableState state, LoadState(log_dir));
  if (state.version < 0) {
    const int64_t now = opts.now_unix_ms != 0 ? opts.now_unix_ms : WallClockMs();
    Metadata md;
    md.id = NewUuid();
    md.schema_string = SchemaString(id);
    md.created_time = now;
    md.configuration["delta.dataSkippingNumIndexedCols"] = "-1";
    md.configuration["otlake.schemaVersion"] = std::to_string(table::kCurrentSchemaVersion);
    const Protocol protocol;
    const std::vector<std::string> lines = {
        EncodeCommitInfo(now, "CREATE TABLE",
                         {{"isManaged", "false"}, {"partitionBy", "[]"}, {"properties", "{}"}},
                         /*is_blind_append=*/true),
        EncodeProtocol(protocol), EncodeMetadata(md)};
    Status st = PublishCommit(log_dir, 0, lines);
    if (st.IsAlreadyExists()) {
      // Another writer created the table at the same moment: use theirs.
      OTLAKE_ASSIGN_OR_RAISE(state, LoadState(log_dir));
    } else {
      OTLAKE_RETURN_NOT_OK(st);
      state.version = 0;
      state.protocol = protocol;
      state.has_protocol = true;
      state.metadata = std::move(md);
      state.has_metadata = true;
    }
  }
  OTLAKE_RETURN_NOT_OK(ValidateState(state, id, dir));
  return std::unique_ptr<DeltaTableWriter>(new DeltaTableWriter(
      std::move(dir), id, opts, std::make_unique<TableState>(std::move(state))));
}

int64_t DeltaTableWriter::version() const { return state_->version; }

int64_t DeltaTableWriter::num_files() const { return static_cast<int64_t>(state_->adds.size()); }

int64_t DeltaTableWriter::TxnVersion(const std::string& app_id) const {
  auto it = state_->txns.find(app_id);
  return it == state_->txns.end() ? -1 : it->second.version;
}

Result<CommitResult> DeltaTableWriter::Append(
    const std::vector<const table::RowBatch*>& batches,
    std::optional<std::pair<std::string, int64_t>> txn) {
  int64_t rows = 0;
  for (const table::RowBatch* b : batches) {
    if (b == nullptr) return Status::Invalid("null RowBatch");
    if (b->table() != id_) {
      return Status::Invalid("a ", table::TableName(b->table()), " batch cannot go into table ",
                             table::TableName(id_));
    }
    rows += b->num_rows();
  }
  if (rows == 0) return CommitResult{state_->version, 0, 0, "", 0, 0};
  if (txn) {
    if (txn->first.empty()) return Status::Invalid("txn appId must not be empty");
    const int64_t have = TxnVersion(txn->first);
    if (txn->second <= have) {
      return Status::Invalid("txn ", txn->first, " version ", txn->second,
                             " is not after the committed version ", have);
    }
  }

  const int64_t version = state_->version + 1;
  const int64_t now = Now();
  const FileStats stats = ComputeStats(id_, batches);

  // 1. The data file: temp name, fsync, rename, fsync the directory.
  const std::string name = DataFileName(version);
  const std::string tmp = Join(table_dir_, ".tmp-" + name);
  const DataFileOptions dopts =
      DataFileOptions::Defaults(id_, opts_.zstd_level, opts_.max_row_group_rows);
  OTLAKE_ASSIGN_OR_RAISE(DataFileInfo info, WriteDataFile(batches, dopts, tmp));
  OTLAKE_RETURN_NOT_OK(RenameDurable(tmp, Join(table_dir_, name)));

  // 2. The commit.
  AddFile add;
  add.path = name;
  add.size = info.bytes;
  add.modification_time = now;
  add.data_change = true;
  add.stats = stats.json;
  std::vector<std::string> lines;
  lines.push_back(EncodeCommitInfo(now, "WRITE", {{"mode", "Append"}, {"partitionBy", "[]"}},
                                   /*is_blind_append=*/true));
  Txn t;
  if (txn) {
    t.app_id = txn->first;
    t.version = txn->second;
    t.last_updated = now;
    lines.push_back(EncodeTxn(t));
  }
  lines.push_back(EncodeAdd(add));
  Status st = PublishCommit(log_dir_, version, lines);
  if (!st.ok()) {
    // No commit references the file: remove it so it cannot leak.
    (void)RemoveIfExists(Join(table_dir_, name));
    return st;
  }

  // 3. The new state.
  ApplyAdd(std::move(add), state_.get());
  if (txn) state_->txns.insert_or_assign(t.app_id, t);
  state_->version = version;

  if (opts_.checkpoint_interval > 0 &&
      (version % opts_.checkpoint_interval == 0 || checkpoint_pending_)) {
    checkpoint_status_ = Checkpoint();
    checkpoint_pending_ = !checkpoint_status_.ok();
  }
  return CommitResult{version, rows, info.bytes, name, stats.min_event_ts, stats.max_event_ts};
}

Status DeltaTableWriter::Checkpoint() {
  const int64_t version = state_->version;
  const std::string tmp = Join(log_dir_, ".tmp-" + NewUuid() + ".checkpoint.parquet");
  OTLAKE_ASSIGN_OR_RAISE(int64_t actions, WriteCheckpoint(*state_, tmp));
  OTLAKE_RETURN_NOT_OK(RenameDurable(tmp, Join(log_dir_, CheckpointFileName(version))));
  const std::string tmp_last = Join(log_dir_, ".tmp-" + NewUuid() + ".last_checkpoint");
  OTLAKE_RETURN_NOT_OK(WriteFileDurable(tmp_last, EncodeLastCheckpoint(version, actions)));
  return RenameDurable(tmp_last, Join(log_dir_, kLastCheckpoint));
}

}  // namespace otlake::lake
