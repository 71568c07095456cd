#include "otlake/ship/shipper.h"

#include <arrow/filesystem/filesystem.h>
#include <arrow/io/file.h>
#include <arrow/io/interfaces.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <rapidjson/document.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "otlake/common/file_util.h"
#include "otlake/common/log.h"
#include "otlake/common/thread_util.h"
#include "otlake/common/time_util.h"
#include "otlake/lake/day_readers.h"
#include "otlake/lake/delta_log.h"
#include "otlake/lake/fs_util.h"
#include "otlake/lake/snapshot.h"
#include "otlake/table/schema.h"

namespace otlake::ship {
namespace {

using table::TableId;

// The txn appId the pipeline records WAL positions under (buffer::PipelineOptions::txn_app_id).
constexpr const char* kWalTxnAppId = "otlake-wal";

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t NumRecords(const lake::AddFile& a) {
  rapidjson::Document d;
  if (a.stats.empty() || d.Parse(a.stats.data(), a.stats.size()).HasParseError() || !d.IsObject()) return -1;
  auto it = d.FindMember("numRecords");
  return it != d.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : -1;
}

// The local table's state (read-only), or version -1 if it has no log.
Result<lake::TableState> LocalState(const std::string& table_dir) {
  const std::string log_dir = table_dir + "/_delta_log";
  lake::LogSource src;
  src.log_dir = log_dir;
  src.list = [&] { return lake::ListDir(log_dir); };
  src.read = [&](const std::string& name, bool* missing) {
    return lake::ReadWholeFile(log_dir + "/" + name, missing);
  };
  return lake::LoadTableState(src);
}

// Tables of a local day that have a Delta log, in the canonical order.
std::vector<TableId> LocalTables(const std::string& day_dir) {
  std::vector<TableId> out;
  for (TableId t : table::kAllTables) {
    if (PathExists(day_dir + "/otel/" + std::string(table::TableName(t)) + "/_delta_log")) out.push_back(t);
  }
  return out;
}

bool ParseIndexTableName(const std::string& name, TableId* t) {
  std::string n = name.rfind("otel/", 0) == 0 ? name.substr(5) : name;
  return table::ParseTableName(n, t);
}

// Runs `fn` up to `attempts` times with exponential backoff and jitter; the last error wins.
Status WithRetries(int attempts, int64_t base_ms, const std::atomic<bool>* stop,
                   const std::function<Status()>& fn) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  Status st;
  for (int i = 0; i < std::max(1, attempts); ++i) {
    if (stop != nullptr && stop->load()) return Status::Cancelled("otlake is stopping");
    st = fn();
    if (st.ok() || st.IsInvalid()) return st;  // Invalid: a fact, not a transient failure
    if (i + 1 < attempts) {
      const int64_t wait = base_ms * (int64_t{1} << std::min(i, 10));
      std::uniform_int_distribution<int64_t> jitter(0, wait / 2);
      std::this_thread::sleep_for(std::chrono::milliseconds(wait + jitter(rng)));
    }
  }
  return st;
}

// Copies one local file to `remote` on `fs` (multipart above Arrow's part size), calling
// `on_bytes` as chunks go out. A failed copy aborts the upload (no partial object appears).
Status CopyToRemote(const std::string& local, arrow::fs::FileSystem* fs, const std::string& remote,
                    const std::atomic<bool>* stop, const std::function<void(int64_t)>& on_bytes) {
  OTLAKE_ASSIGN_OR_RAISE(auto in, arrow::io::ReadableFile::Open(local));
  OTLAKE_ASSIGN_OR_RAISE(auto out, fs->OpenOutputStream(remote, /*metadata=*/nullptr));
  constexpr int64_t kChunk = 8ll << 20;
  int64_t sent = 0;
  Status st;
  for (;;) {
    if (stop != nullptr && stop->load()) {
      st = Status::Cancelled("otlake is stopping");
      break;
    }
    auto buf = in->Read(kChunk);
    if (!buf.ok()) {
      st = buf.status();
      break;
    }
    if ((*buf)->size() == 0) break;
    st = out->Write(*buf);
    if (!st.ok()) break;
    sent += (*buf)->size();
    if (on_bytes) on_bytes((*buf)->size());
  }
  if (st.ok()) st = out->Close();
  if (!st.ok()) {
    (void)out->Abort();
    if (on_bytes && sent > 0) on_bytes(-sent);  // counted again on the retry
    return Status::IOError("upload of ", local, " to s3://", remote, " failed: ", st.message());
  }
  return Status::OK();
}

// name -> size of every object under `dir` (recursive), empty if none.
Result<std::map<std::string, int64_t>> ListRemote(arrow::fs::FileSystem* fs, const std::string& dir) {
  arrow::fs::FileSelector sel;
  sel.base_dir = dir;
  sel.recursive = true;
  sel.allow_not_found = true;
  OTLAKE_ASSIGN_OR_RAISE(auto infos, fs->GetFileInfo(sel));
  std::map<std::string, int64_t> out;
  for (const auto& fi : infos) {
    if (!fi.IsFile()) continue;
    std::string rel = fi.path().substr(std::min(fi.path().size(), dir.size() + 1));
    out[rel] = fi.size();
  }
  return out;
}

// Reads a remote Delta log with the loader the query engine uses. Every request is retried on
// its own (`retry`), so a flaky store costs retries, not the whole verification.
Result<lake::TableState> RemoteState(arrow::fs::FileSystem* fs, const std::string& table_dir,
                                     const std::function<Status(const std::function<Status()>&)>& retry) {
  const std::string log_dir = table_dir + "/_delta_log";
  lake::LogSource src;
  src.log_dir = "s3://" + log_dir;
  src.list = [&]() -> Result<std::vector<std::string>> {
    std::vector<std::string> names;
    OTLAKE_RETURN_NOT_OK(retry([&]() -> Status {
      arrow::fs::FileSelector sel;
      sel.base_dir = log_dir;
      sel.allow_not_found = true;
      OTLAKE_ASSIGN_OR_RAISE(auto infos, fs->GetFileInfo(sel));
      names.clear();
      for (const auto& fi : infos) names.push_back(fi.base_name());
      return Status::OK();
    }));
    return names;
  };
  src.read = [&](const std::string& name, bool* missing) -> Result<std::string> {
    const std::string path = log_dir + "/" + name;
    std::string out;
    bool absent = false;
    OTLAKE_RETURN_NOT_OK(retry([&]() -> Status {
      OTLAKE_ASSIGN_OR_RAISE(auto info, fs->GetFileInfo(path));
      if (info.type() == arrow::fs::FileType::NotFound) {
        absent = true;
        return Status::OK();
      }
      OTLAKE_ASSIGN_OR_RAISE(auto file, fs->OpenInputFile(info));
      OTLAKE_ASSIGN_OR_RAISE(auto buf, file->ReadAt(0, info.size()));
      out = buf->ToString();
      return Status::OK();
    }));
    if (missing != nullptr) *missing = absent;
    if (absent) return Status::IOError("s3://", path, " does not exist");
    return out;
  };
  return lake::LoadTableState(src);
}

Result<int64_t> RemoteFooterRows(arrow::fs::FileSystem* fs, const std::string& path, int64_t size) {
  arrow::fs::FileInfo info(path, arrow::fs::FileType::File);
  info.set_size(size);  // no HEAD request: the size is known
  OTLAKE_ASSIGN_OR_RAISE(auto file, fs->OpenInputFile(info));
  // A footer that does not parse is a wrong copy (Invalid: verify says "mismatch" and the day is
  // uploaded again); a failed read is the store's problem (IOError: retried as is).
  try {
    auto reader = parquet::ParquetFileReader::Open(file);
    return reader->metadata()->num_rows();
  } catch (const parquet::ParquetInvalidOrCorruptedFileException& e) {
    return Status::Invalid("the Parquet footer of s3://", path, " is corrupt: ", e.what());
  } catch (const parquet::ParquetStatusException& e) {
    if (e.status().IsIOError() || e.status().IsCancelled()) {
      return Status::IOError("cannot read the Parquet footer of s3://", path, ": ", e.status().message());
    }
    return Status::Invalid("the Parquet footer of s3://", path, " is corrupt: ", e.what());
  } catch (const std::exception& e) {
    return Status::Invalid("the Parquet footer of s3://", path, " is corrupt: ", e.what());
  }
}

std::string ShortError(const Status& st) {
  std::string m = st.message();
  if (m.size() > 600) m = m.substr(0, 600) + "…";
  return m;
}

}  // namespace

std::string IndexTableName(const std::string& table) { return "otel/" + table; }

// ---------------------------------------------------------------------------------------------
// ShipLock

Result<std::unique_ptr<ShipLock>> ShipLock::Acquire(const std::string& index_dir, bool wait) {
  OTLAKE_RETURN_NOT_OK(MakeDirs(index_dir));
  auto lock = FileLock::Acquire(index_dir + "/ship.lock", wait);
  if (lock.status().IsAlreadyExists()) {
    return Status::AlreadyExists("another otlake process is shipping days of this instance");
  }
  OTLAKE_RETURN_NOT_OK(lock.status());
  return std::unique_ptr<ShipLock>(new ShipLock(std::move(*lock)));
}

ShipLock::~ShipLock() = default;

// ---------------------------------------------------------------------------------------------
// Shipper

Shipper::Shipper(ShipperOptions options)
    : options_(std::move(options)), index_(options_.instance_root + "/index") {}

Shipper::~Shipper() = default;

std::string Shipper::LocalDayDir(const std::string& day) const {
  return options_.instance_root + "/staging/days/" + day;
}

Status Shipper::Record(PhaseRecord r, DayStatus* st) {
  r.instance_id = options_.instance_id;
  const int prior = st->attempts.count(r.phase) ? st->attempts[r.phase] : 0;
  r.attempt = prior + 1;
  if (r.when_utc.empty()) r.when_utc = WhenUtcNow();
  Status s = index_.Append(r);
  if (!s.ok()) return Status::IOError("cannot record phase ", PhaseName(r.phase), " of ", r.day, ": ", s.message());
  ApplyRecord(r, st);
  return Status::OK();
}

Result<DayStatus> Shipper::Run(const std::string& day, Phase last, const ProgressFn& progress,
                               bool wait_for_lock) {
  int64_t d;
  if (!ParseDate(day, &d)) return Status::Invalid("'", day, "' is not a day (YYYY-MM-DD)");
  OTLAKE_ASSIGN_OR_RAISE(auto lock, ShipLock::Acquire(options_.instance_root + "/index", wait_for_lock));
  OTLAKE_ASSIGN_OR_RAISE(auto all, index_.Load());
  DayStatus st = all.count(day) ? all[day] : DayStatus{};
  st.day = day;

  // A local table that changed after sealing (it cannot, unless someone wrote into a past day:
  // a clock stepped back, `otlake ship` run by hand on a day a server still writes) must be
  // sealed again before anything leaves the box -- and, if an earlier copy was verified
  // already, shipped and verified again before the local copy may go.
  const std::string day_dir = LocalDayDir(day);
  if (st.done >= Phase::kSealed && st.done < Phase::kCleaned && PathExists(day_dir)) {
    // A table the seal did not list (created later, or a record without tables) as well.
    std::set<std::string> sealed_names;
    for (const TableEntry& t : st.sealed.tables) sealed_names.insert(t.name);
    for (TableId id : LocalTables(day_dir)) {
      if (!sealed_names.count(IndexTableName(std::string(table::TableName(id))))) {
        OTLAKE_LOG(WARN) << "day " << day << ": table " << table::TableName(id)
                         << " is not in the sealed record; sealing the day again";
        st.done = Phase::kNone;
        break;
      }
    }
  }
  if (st.done >= Phase::kSealed && st.done < Phase::kCleaned && PathExists(day_dir)) {
    for (const TableEntry& t : st.sealed.tables) {
      TableId id;
      if (!ParseIndexTableName(t.name, &id)) continue;
      auto local = LocalState(day_dir + "/otel/" + std::string(table::TableName(id)));
      if (local.ok() && local->version != t.version) {
        OTLAKE_LOG(WARN) << "day " << day << ": table " << t.name << " changed after sealing (version "
                         << t.version << " -> " << local->version << "); sealing it again";
        st.done = Phase::kNone;
        break;
      }
    }
  }

  auto step = [&](Phase p, Status (Shipper::*fn)(const std::string&, DayStatus*, const ProgressFn&)) -> Status {
    if (st.done >= p || last < p) return Status::OK();
    return (this->*fn)(day, &st, progress);
  };
  Status s = step(Phase::kSealed, &Shipper::Seal);
  if (s.ok()) s = step(Phase::kUploaded, &Shipper::Upload);
  if (s.ok()) s = step(Phase::kVerified, &Shipper::Verify);
  if (s.ok() && st.done < Phase::kCleaned && last >= Phase::kCleaned && options_.clean) s = Clean(day, &st);
  if (!s.ok()) return s;
  return st;
}

// ---------------------------------------------------------------------------------------------
// 1. seal

Status Shipper::Seal(const std::string& day, DayStatus* st, const ProgressFn& progress) {
  const std::string day_dir = LocalDayDir(day);
  PhaseRecord r;
  r.day = day;
  r.phase = Phase::kSealed;
  const int64_t t0 = SteadyMs();
  if (!PathExists(day_dir)) {
    r.ok = false;
    r.reason = "no_local_day";
    r.error = "no local folder " + day_dir + " to seal";
    OTLAKE_RETURN_NOT_OK(Record(r, st));
    return Status::Invalid(r.error);
  }
  r.rows = 0;
  r.version = -1;
  r.files = 0;
  r.bytes = 0;
  Status first_error;
  const std::vector<TableId> tables = LocalTables(day_dir);
  for (size_t i = 0; i < tables.size(); ++i) {
    if (Stopping()) {
      first_error = Status::Cancelled("otlake is stopping");
      break;
    }
    const TableId id = tables[i];
    const std::string name(table::TableName(id));
    const int64_t tt0 = SteadyMs();
    TableEntry e;
    e.name = IndexTableName(name);
    lake::WriterOptions wo;
    wo.checkpoint_interval = 0;  // Seal writes the one checkpoint that matters
    wo.readers_dir = day_dir;    // replaced files go once no query holds the day
    auto writer = lake::DeltaTableWriter::Open(day_dir + "/otel/" + name, id, wo);
    lake::SealOptions so = options_.seal;
    so.stop = options_.stop;  // a stop ends the wait for readers, not a rewrite in progress
    Result<lake::SealResult> sr = writer.ok() ? (*writer)->Seal(so, [&](int64_t done, int64_t total) {
      if (progress) {
        Progress p;
        p.day = day;
        p.phase = Phase::kSealed;
        p.done = done;
        p.total = total;
        p.unit = "rows";
        p.files_done = static_cast<int64_t>(i);
        p.files_total = static_cast<int64_t>(tables.size());
        progress(p);
      }
    })
                                              : Result<lake::SealResult>(writer.status());
    e.duration_ms = SteadyMs() - tt0;
    if (!sr.ok()) {
      e.ok = false;
      e.error = ShortError(sr.status());
      if (first_error.ok()) {
        first_error = sr.status().IsCancelled()
                          ? sr.status()
                          : Status::IOError("sealing ", name, " of ", day, ": ", sr.status().message());
      }
    } else {
      e.rows = sr->rows;
      e.version = sr->version;
      e.files = sr->files;
      e.bytes = sr->bytes;
      e.files_before = sr->files_before;
      e.bytes_before = sr->bytes_before;
      e.files_rewritten = sr->files_rewritten;
      e.wal_lsn = (*writer)->TxnVersion(kWalTxnAppId);
      r.rows += sr->rows;
      r.version = std::max(r.version, sr->version);
      r.files += sr->files;
      r.bytes += sr->bytes;
      OTLAKE_LOG(INFO) << "sealed " << day << "/" << name << ": " << sr->rows << " rows, " << sr->files_before
                       << " -> " << sr->files << " files, " << sr->bytes_before << " -> " << sr->bytes
                       << " bytes, version " << sr->version << " (" << e.duration_ms << " ms)";
    }
    r.tables.push_back(std::move(e));
  }
  r.duration_ms = SteadyMs() - t0;
  if (!first_error.ok()) {
    r.ok = false;
    r.reason = first_error.IsCancelled() ? "interrupted" : "seal_errors";
    r.error = ShortError(first_error);
  }
  OTLAKE_RETURN_NOT_OK(Record(r, st));
  return first_error;
}

// ---------------------------------------------------------------------------------------------
// 2. upload

Status Shipper::Upload(const std::string& day, DayStatus* st, const ProgressFn& progress) {
  PhaseRecord r;
  r.day = day;
  r.phase = Phase::kUploaded;
  r.target = options_.s3_days_uri + "/" + day;
  const int64_t t0 = SteadyMs();
  auto fail = [&](const std::string& reason, const Status& why) -> Status {
    r.ok = false;
    r.reason = reason;
    r.error = ShortError(why);
    r.duration_ms = SteadyMs() - t0;
    OTLAKE_RETURN_NOT_OK(Record(r, st));
    return why;
  };
  if (!options_.s3) return fail("no_s3", Status::Invalid("S3 is not configured; day ", day, " stays local"));
  const std::string day_dir = LocalDayDir(day);
  if (!PathExists(day_dir)) {
    return fail("no_local_day", Status::Invalid("local day ", day_dir, " is gone but was never verified on S3"));
  }
  arrow::fs::FileSystem* fs = options_.s3.get();
  const std::string remote_day = options_.s3_days_root + "/" + day;
  // After a verify found the copy wrong, nothing already on S3 is trusted.
  const bool reupload_all = st->distrust_remote;

  struct Item {
    size_t table;      // index into r.tables
    std::string local, remote, rel;
    int64_t size;
  };
  std::vector<Item> data;                     // every table's data files
  std::vector<std::vector<Item>> logs;        // per table: checkpoint(s), commits, _last_checkpoint
  std::vector<std::map<std::string, int64_t>> remote_listing;
  int64_t total_bytes = 0;
  for (const TableEntry& sealed : st->sealed.tables) {
    TableId id;
    if (!ParseIndexTableName(sealed.name, &id)) continue;
    const std::string name(table::TableName(id));
    const std::string local_dir = day_dir + "/otel/" + name;
    const std::string remote_dir = remote_day + "/otel/" + name;
    TableEntry e;
    e.name = sealed.name;
    e.files_uploaded = 0;
    e.files_skipped = 0;
    e.bytes_uploaded = 0;
    e.files = 0;
    e.bytes = 0;
    const size_t ti = r.tables.size();
    r.tables.push_back(e);
    auto state = LocalState(local_dir);
    if (!state.ok()) return fail("local_table_unreadable", state.status());
    std::map<std::string, int64_t> listing;
    Status ls = WithRetries(options_.file_attempts, options_.retry_base_ms, options_.stop, [&] {
      auto l = ListRemote(fs, remote_dir);
      if (l.ok()) listing = std::move(*l);
      return l.status();
    });
    if (!ls.ok()) return fail("upload_errors", ls);
    // A Delta log already there must be this very table (an earlier attempt of ours): never
    // overwrite or "clean up" another table that happens to live at the same keys (two hosts
    // with the same instance id and prefix, a restored index, a day written again).
    const bool remote_log = std::any_of(listing.begin(), listing.end(), [](const auto& kv) {
      return kv.first.rfind("_delta_log/", 0) == 0;
    });
    if (remote_log) {
      auto remote = RemoteState(fs, remote_dir, [&](const std::function<Status()>& fn) {
        return WithRetries(options_.file_attempts, options_.retry_base_ms, options_.stop, fn);
      });
      if (!remote.ok()) return fail("upload_errors", remote.status());
      if (remote->has_metadata && remote->metadata.id != state->metadata.id) {
        return fail("foreign_table",
                    Status::Invalid("s3://", remote_dir, " holds another Delta table (id ", remote->metadata.id,
                                    ", version ", remote->version, "; ours is ", state->metadata.id,
                                    "): refusing to overwrite it. Two instances ship to the same "
                                    "bucket, prefix and instance id?"));
      }
      if (remote->version > state->version) {
        return fail("foreign_table",
                    Status::Invalid("s3://", remote_dir, " is at version ", remote->version,
                                    ", ahead of the local table (", state->version, "): refusing to overwrite it"));
      }
    }
    remote_listing.push_back(listing);
    for (const auto& [path, add] : state->adds) {
      data.push_back({ti, local_dir + "/" + path, remote_dir + "/" + path, path, add.size});
      total_bytes += add.size;
    }
    OTLAKE_ASSIGN_OR_RAISE(auto names, lake::ListDir(local_dir + "/_delta_log"));
    std::vector<std::string> checkpoints, commits;
    bool last_cp = false;
    for (const std::string& n : names) {
      int64_t v;
      if (lake::ParseCheckpointFileName(n, &v)) checkpoints.push_back(n);
      else if (lake::ParseCommitFileName(n, &v)) commits.push_back(n);
      else if (n == "_last_checkpoint") last_cp = true;
    }
    std::sort(checkpoints.begin(), checkpoints.end());
    std::sort(commits.begin(), commits.end());
    std::vector<std::string> order = checkpoints;
    order.insert(order.end(), commits.begin(), commits.end());
    if (last_cp) order.push_back("_last_checkpoint");
    std::vector<Item> log_items;
    for (const std::string& n : order) {
      const std::string lp = local_dir + "/_delta_log/" + n;
      auto content = lake::ReadWholeFile(lp);
      const int64_t size = content.ok() ? static_cast<int64_t>(content->size()) : 0;
      log_items.push_back({ti, lp, remote_dir + "/_delta_log/" + n, "_delta_log/" + n, size});
      total_bytes += size;
    }
    logs.push_back(std::move(log_items));
  }

  std::mutex mu;
  int64_t done_bytes = 0, done_files = 0;
  const int64_t total_files = static_cast<int64_t>(data.size()) +
                              [&] { int64_t n = 0; for (auto& l : logs) n += l.size(); return n; }();
  auto report = [&](int64_t bytes, bool file_done) {
    std::lock_guard lk(mu);
    done_bytes += bytes;
    if (file_done) ++done_files;
    if (progress) {
      Progress p;
      p.day = day;
      p.phase = Phase::kUploaded;
      p.done = done_bytes;
      p.total = total_bytes;
      p.unit = "bytes";
      p.files_done = done_files;
      p.files_total = total_files;
      progress(p);
    }
  };
  std::vector<std::string> errors;
  auto upload_one = [&](const Item& it, bool skip_if_same_size) -> Status {
    const auto& listing = remote_listing[it.table];
    auto found = listing.find(it.rel);
    if (skip_if_same_size && found != listing.end() && found->second == it.size) {
      std::lock_guard lk(mu);
      r.tables[it.table].files_skipped += 1;
      r.tables[it.table].files += 1;
      r.tables[it.table].bytes += it.size;
      done_bytes += it.size;
      ++done_files;
      return Status::OK();
    }
    Status s = WithRetries(options_.file_attempts, options_.retry_base_ms, options_.stop, [&] {
      return CopyToRemote(it.local, fs, it.remote, options_.stop, [&](int64_t n) { report(n, false); });
    });
    std::lock_guard lk(mu);
    if (!s.ok()) {
      errors.push_back(ShortError(s));
      r.tables[it.table].error = ShortError(s);
      r.tables[it.table].ok = false;
      return s;
    }
    r.tables[it.table].files_uploaded += 1;
    r.tables[it.table].bytes_uploaded += it.size;
    r.tables[it.table].files += 1;
    r.tables[it.table].bytes += it.size;
    ++done_files;
    return s;
  };

  // Data files first, in parallel.
  std::deque<size_t> queue;
  for (size_t i = 0; i < data.size(); ++i) queue.push_back(i);
  std::vector<bool> table_failed(r.tables.size(), false);
  Status first;
  {
    std::vector<std::thread> workers;
    const int n = std::max(1, std::min<int>(options_.upload_parallelism, static_cast<int>(data.size())));
    for (int w = 0; w < n; ++w) {
      workers.emplace_back([&] {
        SetCurrentThreadName("otlake-upload");
        for (;;) {
          size_t i;
          {
            std::lock_guard lk(mu);
            if (queue.empty() || !first.ok()) return;
            i = queue.front();
            queue.pop_front();
          }
          Status s = upload_one(data[i], /*skip_if_same_size=*/!reupload_all);
          if (!s.ok()) {
            std::lock_guard lk(mu);
            table_failed[data[i].table] = true;
            if (first.ok()) first = s;  // stop taking new files: the day has to be retried anyway
          }
        }
      });
    }
    for (auto& t : workers) t.join();
  }
  report(0, false);
  // Then, per table whose data all arrived: checkpoint, commits, _last_checkpoint, in order.
  if (first.ok()) {
    for (size_t t = 0; t < logs.size() && first.ok(); ++t) {
      for (const Item& it : logs[t]) {
        Status s = upload_one(it, /*skip_if_same_size=*/false);
        if (!s.ok()) {
          first = s;
          break;
        }
        report(0, false);
      }
    }
  }
  // Remote objects the sealed table does not have (an earlier attempt's leftovers), only now
  // that the new log is complete.
  if (first.ok()) {
    for (size_t t = 0; t < logs.size(); ++t) {
      std::set<std::string> keep;
      for (const Item& it : data) if (it.table == t) keep.insert(it.rel);
      for (const Item& it : logs[t]) keep.insert(it.rel);
      for (const auto& [rel, size] : remote_listing[t]) {
        if (keep.count(rel)) continue;
        const std::string path = remote_day + "/otel/" + r.tables[t].name.substr(5) + "/" + rel;
        Status s = WithRetries(options_.file_attempts, options_.retry_base_ms, options_.stop,
                               [&] { return fs->DeleteFile(path); });
        if (!s.ok()) OTLAKE_LOG(WARN) << "could not delete stale s3://" << path << ": " << s.message();
      }
    }
  }

  r.uploaded = 0;
  r.skipped = 0;
  r.bytes = 0;
  for (auto& t : r.tables) {
    r.uploaded += t.files_uploaded;
    r.skipped += t.files_skipped;
    r.bytes += t.bytes_uploaded;
    if (!t.ok) t.ok = true;
  }
  r.errors = errors;
  if (!first.ok()) return fail(first.IsCancelled() ? "interrupted" : "upload_errors", first);
  r.duration_ms = SteadyMs() - t0;
  OTLAKE_LOG(INFO) << "uploaded " << day << " to " << r.target << ": " << r.uploaded << " files ("
                   << r.bytes << " bytes), " << r.skipped << " already there (" << r.duration_ms << " ms)";
  return Record(r, st);
}

// ---------------------------------------------------------------------------------------------
// 3. verify

Status Shipper::Verify(const std::string& day, DayStatus* st, const ProgressFn& progress) {
  PhaseRecord r;
  r.day = day;
  r.phase = Phase::kVerified;
  r.target = options_.s3_days_uri + "/" + day;
  const int64_t t0 = SteadyMs();
  if (!options_.s3) {
    r.ok = false;
    r.reason = "no_s3";
    r.error = "S3 is not configured";
    OTLAKE_RETURN_NOT_OK(Record(r, st));
    return Status::Invalid(r.error);
  }
  arrow::fs::FileSystem* fs = options_.s3.get();
  const std::string remote_day = options_.s3_days_root + "/" + day;
  r.rows = 0;
  r.version = -1;
  std::vector<std::string> problems;
  Status transient;  // an S3 failure (retry later), as opposed to a wrong copy
  size_t ti = 0;
  for (const TableEntry& sealed : st->sealed.tables) {
    if (Stopping()) {
      transient = Status::Cancelled("otlake is stopping");
      break;
    }
    TableId id;
    if (!ParseIndexTableName(sealed.name, &id)) continue;
    const std::string name(table::TableName(id));
    const std::string remote_dir = remote_day + "/otel/" + name;
    const int64_t tt0 = SteadyMs();
    TableEntry e;
    e.name = sealed.name;
    e.local_rows = sealed.rows;
    std::string problem;
    lake::TableState remote;
    std::map<std::string, int64_t> listing;
    auto retry = [&](const std::function<Status()>& fn) {
      return WithRetries(options_.file_attempts, options_.retry_base_ms, options_.stop, fn);
    };
    Status s;
    {
      auto rs = RemoteState(fs, remote_dir, retry);
      if (rs.ok()) {
        remote = std::move(*rs);
        s = retry([&] {
          auto l = ListRemote(fs, remote_dir);
          if (l.ok()) listing = std::move(*l);
          return l.status();
        });
      } else {
        s = rs.status();
      }
    }
    if (!s.ok() && !s.IsInvalid()) {
      if (transient.ok()) transient = s;
      problem = "cannot read the table from S3: " + ShortError(s);
    } else if (!s.ok()) {
      problem = "the Delta log on S3 is unreadable: " + ShortError(s);
    } else if (remote.version < 0) {
      problem = "no Delta log on S3";
    } else {
      e.version = remote.version;
      e.files = 0;
      e.bytes = 0;
      int64_t rows = 0;
      if (remote.version != sealed.version) {
        problem = "S3 has version " + std::to_string(remote.version) + ", the sealed table " +
                  std::to_string(sealed.version);
      }
      for (const auto& [path, add] : remote.adds) {
        if (!problem.empty()) break;
        auto found = listing.find(path);
        if (found == listing.end()) {
          problem = "file " + path + " is referenced by the log but missing";
          break;
        }
        if (found->second != add.size) {
          problem = "file " + path + " has " + std::to_string(found->second) + " bytes, the log says " +
                    std::to_string(add.size);
          break;
        }
        int64_t footer = -1;
        Status fs_st = WithRetries(options_.file_attempts, options_.retry_base_ms, options_.stop, [&] {
          auto n = RemoteFooterRows(fs, remote_dir + "/" + path, add.size);
          if (n.ok()) footer = *n;
          return n.status();
        });
        if (!fs_st.ok()) {
          if (!fs_st.IsInvalid() && transient.ok()) transient = fs_st;
          problem = "cannot read file " + path + ": " + ShortError(fs_st);
          break;
        }
        const int64_t stated = NumRecords(add);
        if (stated != footer) {
          problem = "file " + path + " holds " + std::to_string(footer) + " rows, its stats say " +
                    std::to_string(stated);
          break;
        }
        rows += footer;
        e.files += 1;
        e.bytes += add.size;
      }
      e.rows = rows;
      if (problem.empty() && rows != sealed.rows) {
        problem = std::to_string(rows) + " rows on S3, " + std::to_string(sealed.rows) + " sealed locally";
      }
      if (problem.empty()) {
        r.rows += rows;
        r.version = std::max(r.version, remote.version);
      }
    }
    e.duration_ms = SteadyMs() - tt0;
    e.ok = problem.empty();
    if (!problem.empty()) {
      e.error = problem;
      problems.push_back(sealed.name + ": " + problem);
    }
    r.tables.push_back(std::move(e));
    ++ti;
    if (progress) {
      Progress p;
      p.day = day;
      p.phase = Phase::kVerified;
      p.done = static_cast<int64_t>(ti);
      p.total = static_cast<int64_t>(st->sealed.tables.size());
      p.unit = "tables";
      progress(p);
    }
  }
  r.duration_ms = SteadyMs() - t0;
  if (!problems.empty() || !transient.ok()) {
    r.ok = false;
    r.reason = transient.IsCancelled() ? "interrupted" : !transient.ok() ? "s3_unreachable" : "mismatch";
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    r.error = all.empty() ? ShortError(transient) : all;
    if (!transient.ok() && !transient.IsCancelled() && problems.empty()) r.error = ShortError(transient);
    OTLAKE_RETURN_NOT_OK(Record(r, st));
    // A wrong copy (reason "mismatch") sends the day back to "sealed" (ApplyRecord): the next
    // attempt uploads every file again.
    return transient.ok() ? Status::IOError("verification of ", day, " failed: ", r.error) : transient;
  }
  OTLAKE_LOG(INFO) << "verified " << day << " on " << r.target << ": " << r.rows << " rows in "
                   << r.tables.size() << " tables (" << r.duration_ms << " ms)";
  return Record(r, st);
}

// ---------------------------------------------------------------------------------------------
// 4. clean

Status Shipper::Clean(const std::string& day, DayStatus* st) {
  PhaseRecord r;
  r.day = day;
  r.phase = Phase::kCleaned;
  const int64_t t0 = SteadyMs();
  if (st->done < Phase::kVerified) return Status::Invalid("day ", day, " is not verified; not cleaning it");
  const std::string day_dir = LocalDayDir(day);
  const std::string trash_root = options_.instance_root + "/staging/.trash";
  r.files = 0;
  r.bytes = 0;
  if (PathExists(day_dir)) {
    // Refuse unless every local table is one that was verified, at the version verified, and
    // readable: nothing may be lost (fail closed).
    auto refuse = [&](const char* reason, std::string error) -> Status {
      r.ok = false;
      r.reason = reason;
      r.error = std::move(error);
      OTLAKE_RETURN_NOT_OK(Record(r, st));
      return Status::Invalid(r.error);
    };
    std::map<std::string, int64_t> verified_versions;
    for (const TableEntry& t : st->sealed.tables) verified_versions[t.name] = t.version;
    for (TableId id : LocalTables(day_dir)) {
      const std::string name = IndexTableName(std::string(table::TableName(id)));
      auto it = verified_versions.find(name);
      if (it == verified_versions.end()) {
        return refuse("changed_after_verify", "table " + name + " exists locally but was not sealed and verified; not cleaning");
      }
      auto local = LocalState(day_dir + "/otel/" + std::string(table::TableName(id)));
      if (!local.ok()) {
        return refuse("local_table_unreadable", "table " + name + " cannot be read (" + ShortError(local.status()) +
                                                    "); not cleaning");
      }
      if (local->version != it->second) {
        return refuse("changed_after_verify", "table " + name + " has version " + std::to_string(local->version) +
                                                  " locally, " + std::to_string(it->second) + " was verified; not cleaning");
      }
    }
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(day_dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const std::string base = it->path().filename().string();
      if (it->is_regular_file(ec) && base != lake::kReadersLockName && base != lake::kClosingName) {
        r.files += 1;
        r.bytes += static_cast<int64_t>(it->file_size(ec));
      }
    }
    OTLAKE_RETURN_NOT_OK(MakeDirs(trash_root));
    // Queries that start from now on read the S3 copy; the ones reading the local files finish
    // first (lake/day_readers.h), and the day moves away with their lock held.
    OTLAKE_RETURN_NOT_OK(lake::MarkClosing(day_dir));
    auto no_readers = lake::ExclusiveDay(day_dir, options_.seal.readers_wait_ms, options_.stop);
    if (no_readers.ok() && !*no_readers && Stopping()) {
      (void)lake::UnmarkClosing(day_dir);
      return Status::Cancelled("otlake is stopping");
    }
    if (!no_readers.ok() || !*no_readers) {
      (void)lake::UnmarkClosing(day_dir);
      r.ok = false;
      r.reason = "in_use";
      r.error = no_readers.ok() ? "queries held the local day for " + std::to_string(options_.seal.readers_wait_ms) +
                                      " ms; not cleaning it now"
                                : no_readers.status().message();
      OTLAKE_RETURN_NOT_OK(Record(r, st));
      return Status::IOError(r.error);
    }
    const std::string trash = trash_root + "/" + day + "-" + lake::NewUuid();
    if (::rename(day_dir.c_str(), trash.c_str()) != 0) {
      Status s = Status::IOError("cannot move ", day_dir, " away: ", std::strerror(errno));
      (void)lake::UnmarkClosing(day_dir);
      r.ok = false;
      r.reason = "clean_failed";
      r.error = s.message();
      OTLAKE_RETURN_NOT_OK(Record(r, st));
      return s;
    }
    (void)SyncDir(options_.instance_root + "/staging/days");
  }
  // The day is out of staging/days; its bytes go now (and any earlier leftovers).
  std::error_code ec;
  if (PathExists(trash_root)) {
    for (const auto& entry : std::filesystem::directory_iterator(trash_root, ec)) {
      std::filesystem::remove_all(entry.path(), ec);
    }
  }
  r.duration_ms = SteadyMs() - t0;
  OTLAKE_LOG(INFO) << "cleaned " << day << ": removed " << r.files << " local files (" << r.bytes << " bytes)";
  return Record(r, st);
}

}  // namespace otlake::ship
