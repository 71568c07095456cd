#include "otlake/buffer/pipeline.h"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <arrow/memory_pool.h>
#include <malloc.h>

#include "otlake/common/file_util.h"
#include "otlake/common/log.h"
#include "otlake/common/thread_util.h"
#include "otlake/common/time_util.h"
#include "otlake/lake/delta_table.h"

namespace otlake::buffer {

using table::RowBatch;
using table::TableId;

namespace {

constexpr int kMaxBackoffMs = 30000;
// A compaction run reads at most as many rows as 3/8 of the memory budget held as batches
// (MaybeCompact): more than two files flushed at max_buffered_bytes / 8, so those stay
// candidates.
constexpr int64_t kCompactBudgetEighths = 3;

struct OpenBatch {
  std::vector<std::unique_ptr<RowBatch>> parts;
  int64_t rows = 0;
  int64_t bytes = 0;
  int64_t oldest_ms = 0;
  int64_t min_lsn = 0;  // WAL positions of the rows held (0 = no WAL)
  int64_t max_lsn = 0;
};

// The bytes of `b`'s map keys as strings, one copy per entry: a batch holds each key once (and a
// code per entry), but writing and compacting its rows hold them per entry (Parquet pages,
// decoded compaction inputs), so the budget counts them per entry as well.
int64_t DecodedKeyBytes(const RowBatch& b) {
  int64_t n = 0;
  for (int i = 0; i < b.num_columns(); ++i) {
    const table::Column& c = b.column(i);
    if (c.type != table::ColType::kMap) continue;
    for (int32_t code : c.key_codes) n += c.key_offsets[code + 1] - c.key_offsets[code];
  }
  return n;
}

// The heap bytes a batch holds: its vectors' capacities, not their sizes (RowBatch::ByteSize), so
// the budget counts what decoding reserved ahead as well as what it filled; and its map keys per
// entry (DecodedKeyBytes).
int64_t HeldBytes(const RowBatch& b) {
  int64_t n = 0;
  for (int i = 0; i < b.num_columns(); ++i) {
    const table::Column& c = b.column(i);
    n += static_cast<int64_t>(c.ints.capacity() * 8 + c.doubles.capacity() * 8 +
                              c.bools.capacity() + c.offsets.capacity() * 4 + c.chars.capacity() +
                              c.codes.capacity() * 4 + c.valid.capacity() +
                              c.key_offsets.capacity() * 4 + c.key_chars.capacity() +
                              c.key_codes.capacity() * 4 + c.key_index.capacity() * 4 +
                              c.val_offsets.capacity() * 4 + c.val_chars.capacity() +
                              c.val_valid.capacity() + sizeof(table::Column));
  }
  return n + DecodedKeyBytes(b);
}

// Key of an open batch: (days since epoch, table).
using Key = std::pair<int64_t, int>;

// Per-day summary kept in <day>/day.json: a cache of what the Delta logs say, for planning
// queries by event time without opening every log.
struct TableSummary {
  int64_t rows = 0;
  int64_t files = 0;
  int64_t bytes = 0;
  int64_t version = -1;
  int64_t min_event_ts = INT64_MAX;
  int64_t max_event_ts = INT64_MIN;
};

std::string SummaryJson(const std::string& day, const std::array<TableSummary, table::kNumTables>& t,
                        int64_t now_ms) {
  int64_t lo = INT64_MAX, hi = INT64_MIN, rows = 0;
  std::string tables;
  for (int i = 0; i < table::kNumTables; ++i) {
    const TableSummary& s = t[i];
    if (s.version < 0) continue;
    if (!tables.empty()) tables += ',';
    tables += "\"" + std::string(table::TableName(static_cast<TableId>(i))) + "\":{";
    tables += "\"rows\":" + std::to_string(s.rows) + ",\"files\":" + std::to_string(s.files) +
              ",\"bytes\":" + std::to_string(s.bytes) + ",\"version\":" + std::to_string(s.version);
    if (s.rows > 0) {
      tables += ",\"min_event_ts\":" + std::to_string(s.min_event_ts) +
                ",\"max_event_ts\":" + std::to_string(s.max_event_ts);
      lo = std::min(lo, s.min_event_ts);
      hi = std::max(hi, s.max_event_ts);
    }
    tables += '}';
    rows += s.rows;
  }
  std::string out = "{\"day\":\"" + day + "\",\"rows\":" + std::to_string(rows);
  if (rows > 0) {
    out += ",\"min_event_ts\":" + std::to_string(lo) + ",\"max_event_ts\":" + std::to_string(hi);
  }
  out += ",\"updated_utc\":\"" + UtcIso8601(now_ms) + "\",\"tables\":{" + tables + "}}\n";
  return out;
}

}  // namespace

class Pipeline::Impl {
 public:
  explicit Impl(PipelineOptions options) : options_(std::move(options)) {
    if (!options_.now_ms) options_.now_ms = [] { return NowUnixMillis(); };
  }

  Status Start() {
    OTLAKE_RETURN_NOT_OK(MakeDirs(options_.days_dir));
    flusher_ = std::thread([this] {
      SetCurrentThreadName("otlake-flush");
      FlusherLoop();
    });
    return Status::OK();
  }

  Status CheckCapacity(int64_t bytes) {
    std::lock_guard lk(mu_);
    return CheckCapacityLocked(bytes);
  }

  Status Append(table::TableBatches* batches, int64_t arrival_ms, int64_t lsn) {
    const int64_t day = UnixMsToDays(arrival_ms);
    const int64_t bytes = batches->ByteSize();
    std::unique_lock lk(mu_);
    if (stopping_) return Status::IOError("otlake is shutting down");
    if (lsn == 0) OTLAKE_RETURN_NOT_OK(CheckCapacityLocked(bytes));
    if (lsn > 0) last_lsn_ = lsn;
    bool wake = false;
    for (TableId t : table::kAllTables) {
      std::unique_ptr<RowBatch> b = batches->Release(t);
      if (!b || b->num_rows() == 0) continue;
      const int64_t rows = b->num_rows();
      const int64_t size = HeldBytes(*b);
      OpenBatch& ob = open_[Key(day, static_cast<int>(t))];
      if (ob.parts.empty()) {
        ob.oldest_ms = arrival_ms;
        ob.min_lsn = lsn;
      }
      ob.max_lsn = lsn;
      ob.parts.push_back(std::move(b));
      ob.rows += rows;
      ob.bytes += size;
      buffered_bytes_ += size;
      TableHealth& h = health_[static_cast<int>(t)];
      h.accepted_rows += rows;
      h.buffered_rows += rows;
      h.buffered_bytes += size;
      if (ob.rows >= options_.flush_rows || ob.bytes >= options_.flush_bytes) wake = true;
    }
    lk.unlock();
    if (wake) cv_.notify_all();
    return Status::OK();
  }

  int64_t CommittedThroughLsn() const {
    std::lock_guard lk(mu_);
    return CommittedThroughLocked();
  }

  int64_t OverloadRejections() const {
    std::lock_guard lk(mu_);
    return overload_rejections_;
  }

  Status FlushAll() {
    std::unique_lock lk(mu_);
    const int64_t gen = ++flush_requested_;
    cv_.notify_all();
    done_cv_.wait(lk, [&] { return flush_done_ >= gen || flusher_exited_; });
    return last_flush_status_;
  }

  Status Stop() {
    {
      std::lock_guard lk(mu_);
      if (stopped_) return stop_status_;
      stopped_ = true;
      stopping_ = true;
    }
    cv_.notify_all();
    if (flusher_.joinable()) flusher_.join();
    std::lock_guard lk(mu_);
    int64_t lost = 0;
    for (auto& [k, ob] : open_) lost += ob.rows;
    if (lost > 0) {
      stop_status_ = Status::IOError("stopped with ", lost, " rows not written: ", failing_reason_);
      OTLAKE_LOG(ERROR) << stop_status_.ToString();
    }
    return stop_status_;
  }

  TableHealth Health(TableId t) const {
    std::lock_guard lk(mu_);
    TableHealth h = health_[static_cast<int>(t)];
    h.oldest_buffered_unix_ms = 0;
    for (const auto& [k, ob] : open_) {
      if (k.second == static_cast<int>(t) && ob.rows > 0 &&
          (h.oldest_buffered_unix_ms == 0 || ob.oldest_ms < h.oldest_buffered_unix_ms)) {
        h.oldest_buffered_unix_ms = ob.oldest_ms;
      }
    }
    return h;
  }

  bool Ok(std::string* reason) const {
    std::lock_guard lk(mu_);
    if (failing_reason_.empty()) return true;
    if (reason) *reason = failing_reason_;
    return false;
  }

  int64_t PendingRows(int64_t day) const {
    std::lock_guard lk(mu_);
    int64_t rows = 0;
    for (const auto& [k, ob] : open_) {
      if (k.first == day) rows += ob.rows;
    }
    auto it = writing_rows_.find(day);
    return rows + (it == writing_rows_.end() ? 0 : it->second);
  }

  std::string CurrentDay() const { return UtcDate(options_.now_ms()); }

  int64_t BufferedBytes() const {
    std::lock_guard lk(mu_);
    return buffered_bytes_ + FlusherBytesLocked();
  }

  ~Impl() { (void)Stop(); }

 private:
  struct Work {
    Key key;
    OpenBatch batch;
  };

  Status CheckCapacityLocked(int64_t bytes) {
    const int64_t low = options_.low_buffered_bytes > 0 ? options_.low_buffered_bytes
                                                        : options_.max_buffered_bytes / 10 * 8;
    const int64_t held = buffered_bytes_ + FlusherBytesLocked();
    if (overloaded_ && held < low) overloaded_ = false;
    if (!overloaded_ && held > 0 && held + bytes > options_.max_buffered_bytes) overloaded_ = true;
    if (!overloaded_) return Status::OK();
    ++overload_rejections_;
    return Status::CapacityError("write buffers are full (", buffered_bytes_, " bytes buffered, ",
                                 FlusherBytesLocked(), " being written or compacted, limit ",
                                 options_.max_buffered_bytes, "); retry later");
  }

  // What the flusher holds now besides the open batches: while it writes or compacts, the larger
  // of what it announced (WorkingBytes) and what Arrow's pool holds -- the Parquet conversion and
  // a compaction's decoded inputs live there, and can be several times the footer sizes a
  // compaction's cap is measured in (queries share the pool: counted too while the flusher works).
  int64_t FlusherBytesLocked() const {
    if (working_bytes_ == 0) return 0;
    return std::max(working_bytes_, arrow::default_memory_pool()->bytes_allocated());
  }

  // Memory the flusher holds besides the open batches -- the Parquet conversion of the batch it
  // writes (about the batch's size again), a compaction's inputs -- counted against
  // max_buffered_bytes for as long as it is held (BufferedBytes, CheckCapacity).
  class WorkingBytes {
   public:
    WorkingBytes(Impl* p, int64_t bytes) : p_(p), bytes_(bytes) {
      std::lock_guard lk(p_->mu_);
      p_->working_bytes_ += bytes_;
    }
    ~WorkingBytes() {
      {
        std::lock_guard lk(p_->mu_);
        p_->working_bytes_ -= bytes_;
      }
      // Give what the write or compaction freed back to the kernel now: glibc keeps freed
      // memory in its arenas and Arrow's pool (mimalloc in the wheel) in its segments otherwise,
      // and the process's peak grows past the budget (bench/README.md, "Memory under overload").
      arrow::default_memory_pool()->ReleaseUnused();
      malloc_trim(0);
    }
    WorkingBytes(const WorkingBytes&) = delete;
    WorkingBytes& operator=(const WorkingBytes&) = delete;

   private:
    Impl* p_;
    int64_t bytes_;
  };

  // Every record up to the returned LSN has all its rows committed: one below the smallest LSN
  // still buffered or being written, else the last LSN appended.
  int64_t CommittedThroughLocked() const {
    int64_t min_lsn = INT64_MAX;
    for (const auto& [k, ob] : open_) {
      if (ob.rows > 0 && ob.min_lsn > 0) min_lsn = std::min(min_lsn, ob.min_lsn);
    }
    if (writing_min_lsn_ > 0) min_lsn = std::min(min_lsn, writing_min_lsn_);
    return min_lsn == INT64_MAX ? last_lsn_ : min_lsn - 1;
  }

  // Picks the open batches that are due. Called with mu_ held.
  std::vector<Work> TakeDue(int64_t now_ms, bool all) {
    const int64_t today = UnixMsToDays(now_ms);
    std::vector<Work> work;
    for (auto it = open_.begin(); it != open_.end();) {
      OpenBatch& ob = it->second;
      const bool due = all || it->first.first < today || ob.rows >= options_.flush_rows ||
                       ob.bytes >= options_.flush_bytes ||
                       now_ms - ob.oldest_ms >= options_.flush_age_ms;
      if (due && ob.rows > 0) {
        if (ob.min_lsn > 0 && (writing_min_lsn_ == 0 || ob.min_lsn < writing_min_lsn_)) {
          writing_min_lsn_ = ob.min_lsn;
        }
        writing_rows_[it->first.first] += ob.rows;
        work.push_back(Work{it->first, std::move(ob)});
        it = open_.erase(it);
      } else {
        ++it;
      }
    }
    return work;
  }

  void FlusherLoop() {
    int backoff_ms = 0;
    int stop_attempts = 0;
    std::unique_lock lk(mu_);
    for (;;) {
      const int64_t requested = flush_requested_;
      const bool forced = requested > flush_done_;
      const int64_t now = options_.now_ms();
      const bool retry_wait = !failing_reason_.empty() && now < retry_at_ms_ && !forced && !stopping_;
      std::vector<Work> work;
      if (!retry_wait) work = TakeDue(now, forced || stopping_);
      lk.unlock();

      Status result = Status::OK();
      for (size_t i = 0; i < work.size(); ++i) {
        Status st = Write(work[i]);
        if (!st.ok()) {
          result = st;
          // Give back this and every remaining batch, ahead of newer rows.
          lk.lock();
          health_[work[i].key.second].write_failures += 1;
          health_[work[i].key.second].last_error = st.ToString();
          for (size_t j = i; j < work.size(); ++j) GiveBack(std::move(work[j]));
          lk.unlock();
          break;
        }
      }
      CloseOldWriters(UnixMsToDays(options_.now_ms()));
      if (result.ok() && !stopping_) MaybeCompact();

      lk.lock();
      writing_min_lsn_ = 0;  // written, or given back to open_ (which tracks its LSNs again)
      writing_rows_.clear();
      if (!work.empty() && result.ok() && options_.committed_through) {
        const int64_t through = CommittedThroughLocked();
        lk.unlock();
        options_.committed_through(through);
        lk.lock();
      }
      if (!work.empty()) {
        if (result.ok()) {
          if (!failing_reason_.empty()) OTLAKE_LOG(INFO) << "writes recovered";
          failing_reason_.clear();
          backoff_ms = 0;
        } else {
          failing_reason_ = result.ToString();
          backoff_ms = std::min(kMaxBackoffMs, backoff_ms == 0 ? 250 : backoff_ms * 2);
          retry_at_ms_ = options_.now_ms() + backoff_ms;
          OTLAKE_LOG(ERROR) << "write failed (retrying in " << backoff_ms << " ms): " << failing_reason_;
        }
      }
      if (forced) {
        last_flush_status_ = result;
        flush_done_ = requested;
        done_cv_.notify_all();
      }
      if (stopping_) {
        const bool empty = open_.empty();
        if (empty || (!result.ok() && ++stop_attempts >= 3)) break;
        if (!result.ok()) {
          lk.unlock();
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          lk.lock();
        }
        continue;
      }
      cv_.wait_for(lk, std::chrono::milliseconds(100));
    }
    flusher_exited_ = true;
    done_cv_.notify_all();
  }

  void GiveBack(Work w) {
    OpenBatch& ob = open_[w.key];
    for (auto& p : ob.parts) w.batch.parts.push_back(std::move(p));
    w.batch.rows += ob.rows;
    w.batch.bytes += ob.bytes;
    if (ob.rows > 0) {
      w.batch.oldest_ms = std::min(w.batch.oldest_ms, ob.oldest_ms);
      w.batch.max_lsn = std::max(w.batch.max_lsn, ob.max_lsn);  // newer rows follow the old ones
    }
    ob = std::move(w.batch);
  }

  Status Write(Work& w) {
    const std::string day = DaysToDate(w.key.first);
    const TableId t = static_cast<TableId>(w.key.second);
    auto it = writers_.find(w.key);
    if (it == writers_.end()) {
      const std::string dir = options_.days_dir + "/" + day + "/otel/" + std::string(table::TableName(t));
      OTLAKE_RETURN_NOT_OK(MakeDirs(dir));
      lake::WriterOptions wo;
      wo.zstd_level = options_.zstd_level;
      wo.checkpoint_interval = options_.checkpoint_interval;
      wo.readers_dir = options_.days_dir + "/" + day;  // compaction deletes only unheld files
      OTLAKE_ASSIGN_OR_RAISE(auto writer, lake::DeltaTableWriter::Open(dir, t, wo));
      it = writers_.emplace(w.key, std::move(writer)).first;
    }
    std::vector<const RowBatch*> parts;
    parts.reserve(w.batch.parts.size());
    for (const auto& p : w.batch.parts) parts.push_back(p.get());
    std::optional<std::pair<std::string, int64_t>> txn;
    if (w.batch.max_lsn > 0) {
      // Never commit rows whose WAL record could still be lost.
      if (options_.make_durable) OTLAKE_RETURN_NOT_OK(options_.make_durable(w.batch.max_lsn));
      txn.emplace(options_.txn_app_id, w.batch.max_lsn);
    }
    Result<lake::CommitResult> appended;
    {
      WorkingBytes working(this, w.batch.bytes);
      appended = it->second->Append(parts, txn);
    }
    OTLAKE_ASSIGN_OR_RAISE(lake::CommitResult commit, std::move(appended));

    const int64_t now = options_.now_ms();
    std::array<TableSummary, table::kNumTables>& summary = LoadSummary(w.key.first);
    TableSummary& ts = summary[w.key.second];
    ts.rows += commit.rows;
    ts.files += 1;
    ts.bytes += commit.file_bytes;
    ts.version = commit.version;
    ts.min_event_ts = std::min(ts.min_event_ts, commit.min_event_ts);
    ts.max_event_ts = std::max(ts.max_event_ts, commit.max_event_ts);
    Status st = WriteFileAtomic(options_.days_dir + "/" + day + "/day.json", SummaryJson(day, summary, now));
    if (!st.ok()) OTLAKE_LOG(WARN) << "day summary not updated: " << st.ToString();

    if (w.batch.rows > 0) {
      held_bytes_per_row_[w.key.second] = std::max<int64_t>(1, w.batch.bytes / w.batch.rows);
    }
    std::lock_guard lk(mu_);
    TableHealth& h = health_[w.key.second];
    h.buffered_rows -= w.batch.rows;
    h.buffered_bytes -= w.batch.bytes;
    buffered_bytes_ -= w.batch.bytes;
    h.persisted_rows += commit.rows;
    h.flushes += 1;
    h.files += 1;
    h.last_commit_unix_ms = now;
    h.last_commit_version = commit.version;
    h.last_error.clear();
    return Status::OK();
  }

  // Day summaries are loaded from day.json once (rows committed by earlier runs), then kept.
  std::array<TableSummary, table::kNumTables>& LoadSummary(int64_t day) {
    auto it = summaries_.find(day);
    if (it != summaries_.end()) return it->second;
    auto& s = summaries_[day];
    auto text = ReadFile(options_.days_dir + "/" + DaysToDate(day) + "/day.json");
    if (text.ok()) ParseSummary(*text, &s);
    return s;
  }

  // Reads back what SummaryJson wrote (a fixed, flat layout; no general JSON parser needed).
  static void ParseSummary(const std::string& text, std::array<TableSummary, table::kNumTables>* s) {
    auto field = [](const std::string& obj, const char* name, int64_t* out) {
      const std::string key = std::string("\"") + name + "\":";
      size_t p = obj.find(key);
      if (p != std::string::npos) *out = std::strtoll(obj.c_str() + p + key.size(), nullptr, 10);
    };
    for (int i = 0; i < table::kNumTables; ++i) {
      const std::string key = "\"" + std::string(table::TableName(static_cast<TableId>(i))) + "\":{";
      size_t p = text.find(key);
      if (p == std::string::npos) continue;
      const std::string obj = text.substr(p, text.find('}', p) - p);
      TableSummary& ts = (*s)[i];
      field(obj, "rows", &ts.rows);
      field(obj, "files", &ts.files);
      field(obj, "bytes", &ts.bytes);
      field(obj, "version", &ts.version);
      field(obj, "min_event_ts", &ts.min_event_ts);
      field(obj, "max_event_ts", &ts.max_event_ts);
    }
  }

  // Compacts the tables this process writes, at most every compact_interval_ms. A failure is
  // logged and retried next time: compaction never holds up ingest or its acknowledgements.
  void MaybeCompact() {
    if (options_.compact_min_files <= 0) return;
    const int64_t now = options_.now_ms();
    if (now < next_compact_ms_) return;
    next_compact_ms_ = now + options_.compact_interval_ms;
    lake::CompactOptions co;
    co.min_files = options_.compact_min_files;
    co.target_file_rows = options_.compact_target_rows;
    co.max_input_rows = options_.compact_target_rows;
    // A run holds its inputs in memory, decoded by Arrow into several times their footer sizes
    // (heaptrack: ~6x for the spans table): at most a sixteenth of the budget in footer bytes, and
    // what Arrow holds is counted in the budget while it runs (FlusherBytesLocked).
    co.max_input_bytes = std::max<int64_t>(
        1, std::min(options_.compact_max_input_bytes, options_.max_buffered_bytes / 16));
    co.retention_ms = options_.compact_retention_ms;
    const int64_t low = options_.low_buffered_bytes > 0 ? options_.low_buffered_bytes
                                                        : options_.max_buffered_bytes / 10 * 8;
    for (auto& [key, writer] : writers_) {
      lake::CompactOptions tco = co;
      // A run's inputs, decoded, take about what the same rows took as a batch (HeldBytes; and
      // the run holds them plus an output row group): at most kCompactBudgetEighths / 8 of the
      // budget in batch bytes, i.e. that many rows. Files that reach half of it are done, so a merged
      // file stops growing there instead of being read again with every new small file (which
      // took a run's memory past the whole budget).
      const int64_t per_row = held_bytes_per_row_[key.second];
      // Counted in the budget from the start of the run (before Arrow's pool shows it): twice
      // its inputs as batches, at most half the budget, so ingest cannot fill the rest meanwhile.
      int64_t reserve = co.max_input_bytes;
      if (per_row > 0) {
        const int64_t rows = std::max<int64_t>(
            2, options_.max_buffered_bytes / 8 * kCompactBudgetEighths / per_row);
        tco.max_input_rows = std::min(co.max_input_rows, rows);
        tco.target_file_rows = std::min(co.target_file_rows, rows);
        reserve = std::max(reserve, std::min(options_.max_buffered_bytes / 2,
                                             2 * tco.max_input_rows * per_row));
      }
      {
        // Compaction yields to ingest under memory pressure: it adds its inputs to what the
        // buffers hold, and can wait for a quieter moment (checked again next interval).
        std::lock_guard lk(mu_);
        if (buffered_bytes_ + FlusherBytesLocked() > low / 2) {
          next_compact_ms_ = std::min(next_compact_ms_, now + 1000);
          break;
        }
      }
      Result<lake::CompactResult> r;
      {
        WorkingBytes working(this, reserve);
        r = writer->Compact(tco);
      }
      if (!r.ok()) {
        OTLAKE_LOG(WARN) << "compaction of " << writer->table_dir() << " failed (will retry): "
                         << r.status().ToString();
        continue;
      }
      if (r->files_deleted > 0 || r->files_deferred > 0) {
        std::lock_guard lk(mu_);
        health_[key.second].replaced_files_deleted += r->files_deleted;
        health_[key.second].replaced_files_deferred += r->files_deferred;
      }
      if (r->version < 0) continue;
      OTLAKE_LOG(INFO) << "compacted " << writer->table_dir() << ": " << r->files_in << " files ("
                       << r->rows << " rows, " << r->bytes_in << " B, " << r->uncompressed_bytes_in
                       << " B uncompressed) -> 1 file (" << r->bytes_out
                       << " B), version " << r->version;
      std::array<TableSummary, table::kNumTables>& summary = LoadSummary(key.first);
      TableSummary& ts = summary[key.second];
      ts.files -= r->files_in - r->files_out;
      ts.bytes += r->bytes_out - r->bytes_in;
      ts.version = r->version;
      const std::string day = DaysToDate(key.first);
      Status st = WriteFileAtomic(options_.days_dir + "/" + day + "/day.json", SummaryJson(day, summary, now));
      if (!st.ok()) OTLAKE_LOG(WARN) << "day summary not updated: " << st.ToString();
      std::lock_guard lk(mu_);
      health_[key.second].compactions += 1;
      health_[key.second].compacted_files += r->files_in;
    }
  }

  // Releases writers and summaries of past days once nothing of theirs is buffered.
  void CloseOldWriters(int64_t today) {
    std::lock_guard lk(mu_);
    for (auto it = writers_.begin(); it != writers_.end();) {
      if (it->first.first < today && open_.find(it->first) == open_.end()) {
        it = writers_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = summaries_.begin(); it != summaries_.end();) {
      bool busy = false;
      for (const auto& [k, w] : writers_) busy |= k.first == it->first;
      it = (it->first < today && !busy) ? summaries_.erase(it) : std::next(it);
    }
  }

  PipelineOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  std::map<Key, OpenBatch> open_;                         // guarded by mu_
  std::array<TableHealth, table::kNumTables> health_{};  // guarded by mu_
  int64_t buffered_bytes_ = 0;                            // guarded by mu_
  int64_t working_bytes_ = 0;  // held by a write or compaction (WorkingBytes); guarded by mu_
  bool overloaded_ = false;                               // guarded by mu_
  int64_t overload_rejections_ = 0;                       // guarded by mu_
  int64_t last_lsn_ = 0;                                  // guarded by mu_
  int64_t writing_min_lsn_ = 0;  // smallest LSN the flusher is writing; guarded by mu_
  std::map<int64_t, int64_t> writing_rows_;  // rows the flusher is writing, by day; guarded by mu_
  bool stopping_ = false;
  bool stopped_ = false;
  bool flusher_exited_ = false;
  Status stop_status_;
  int64_t flush_requested_ = 0;
  int64_t flush_done_ = 0;
  Status last_flush_status_;
  std::string failing_reason_;
  int64_t retry_at_ms_ = 0;
  // Owned by the flusher thread (CloseOldWriters takes mu_ only to read open_).
  std::map<Key, std::unique_ptr<lake::DeltaTableWriter>> writers_;
  std::map<int64_t, std::array<TableSummary, table::kNumTables>> summaries_;
  int64_t next_compact_ms_ = 0;  // flusher thread only
  // Per table, the batch bytes per row of its last write (0: none yet); flusher thread only.
  std::array<int64_t, table::kNumTables> held_bytes_per_row_{};
  std::thread flusher_;
};

Result<std::unique_ptr<Pipeline>> Pipeline::Start(PipelineOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  OTLAKE_RETURN_NOT_OK(impl->Start());
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
}

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;
Status Pipeline::CheckCapacity(int64_t bytes) { return impl_->CheckCapacity(bytes); }
Status Pipeline::Append(table::TableBatches* b, int64_t arrival_ms, int64_t lsn) {
  return impl_->Append(b, arrival_ms, lsn);
}
int64_t Pipeline::CommittedThroughLsn() const { return impl_->CommittedThroughLsn(); }
int64_t Pipeline::OverloadRejections() const { return impl_->OverloadRejections(); }
Status Pipeline::FlushAll() { return impl_->FlushAll(); }
Status Pipeline::Stop() { return impl_->Stop(); }
TableHealth Pipeline::Health(TableId t) const { return impl_->Health(t); }
bool Pipeline::Ok(std::string* reason) const { return impl_->Ok(reason); }
int64_t Pipeline::PendingRows(int64_t day) const { return impl_->PendingRows(day); }
std::string Pipeline::CurrentDay() const { return impl_->CurrentDay(); }
int64_t Pipeline::BufferedBytes() const { return impl_->BufferedBytes(); }

}  // namespace otlake::buffer
