#include "otlake/wal/wal_writer.h"

#include <algorithm>
#include <limits>
#include <map>
#include <vector>

#include "otlake/common/thread_util.h"
#include "otlake/wal/compression.h"
#include "otlake/wal/log_format.h"

namespace otlake::wal {

namespace {
// Records at least this big are tried with zstd when compression is on.
constexpr size_t kMinCompressBytes = 256;
// The record buffer pool: enough for the records of the concurrent requests of a busy server
// (each request has at most one record in flight), small next to the 64 MiB pending bound.
constexpr size_t kMaxPooledBuffers = 16;
constexpr size_t kMaxPooledBytes = 16 << 20;
// A new record buffer gets this much slack (rounded up to 64 KiB), so the next, slightly larger
// request of a similar size still fits it.
size_t WithSlack(size_t size) {
  const size_t want = size + size / 16;
  return (want + 0xFFFF) & ~size_t{0xFFFF};
}
}  // namespace

WalWriter::WalWriter(WalOptions opts, int64_t next_lsn)
    : opts_(std::move(opts)),
      env_(opts_.env != nullptr ? opts_.env : Env::Default()),
      next_lsn_(next_lsn),
      backoff_ms_(opts_.retry_backoff_ms),
      durable_lsn_(next_lsn - 1) {}

WalWriter::~WalWriter() {
  // No flush: an unclosed writer behaves like a crash (see the header). Whoever still waits
  // hears so: nothing more will be written.
  StopSyncThread(Status::IOError("WAL writer destroyed before the record was synced"));
  if (file_) (void)file_->Close();
}

Result<std::unique_ptr<WalWriter>> WalWriter::Open(WalOptions opts, int64_t next_lsn) {
  if (opts.dir.empty()) return Status::Invalid("WAL directory not set");
  if (next_lsn < 1 || next_lsn > kMaxLsn) {
    return Status::Invalid("WAL next_lsn must be in 1..2^62, got ", next_lsn);
  }
  if (opts.segment_bytes < kBlockSize) opts.segment_bytes = kBlockSize;
  if (opts.retry_backoff_ms < 1) opts.retry_backoff_ms = 1;
  if (opts.max_retry_backoff_ms < opts.retry_backoff_ms) {
    opts.max_retry_backoff_ms = opts.retry_backoff_ms;
  }
  std::unique_ptr<WalWriter> w(new WalWriter(std::move(opts), next_lsn));
  Env* env = w->env_;
  const std::string& dir = w->opts_.dir;
  OTLAKE_RETURN_NOT_OK(env->CreateDir(dir));
  OTLAKE_RETURN_NOT_OK(env->SyncDir(DirName(dir)));  // the WAL directory itself is durable
  OTLAKE_ASSIGN_OR_RAISE(auto names, env->ListDir(dir));
  for (const std::string& name : names) {
    if (IsRecycledFileName(name)) {  // retired by an earlier run
      if (static_cast<int>(w->recycled_.size()) < w->opts_.recycle_segments) {
        w->recycled_.push_back(JoinPath(dir, name));
      } else {
        OTLAKE_RETURN_NOT_OK(env->DeleteFile(JoinPath(dir, name)));
      }
      continue;
    }
    auto first = ParseSegmentFileName(name);
    if (first && *first > next_lsn) {
      return Status::Invalid("WAL segment ", name, " starts after next_lsn ", next_lsn,
                             ": recover the WAL first and open at RecoveryStats::next_lsn");
    }
  }
  OTLAKE_RETURN_NOT_OK(w->OpenSegment(next_lsn));
  std::lock_guard<std::mutex> lock(w->mu_);
  w->stats_.segments_created += w->io_segments_;
  w->stats_.segments_recycled += w->io_recycled_;
  w->io_segments_ = w->io_recycled_ = 0;
  return w;
}

Result<int64_t> WalWriter::Append(std::string_view payload) {
  return Append(std::span<const std::string_view>(&payload, 1));
}

Result<int64_t> WalWriter::Append(std::span<const std::string_view> parts) {
  size_t size = 0;
  for (std::string_view p : parts) size += p.size();
  if (size > static_cast<size_t>(kMaxPayloadBytes)) {
    return Status::CapacityError("WAL record of ", size, " bytes exceeds the limit of ",
                                 kMaxPayloadBytes);
  }
  // Build the record outside the lock; only its LSN is filled in under it.
  std::string rec = TakeBuffer(kRecordHeaderSize + size);
  rec.assign(kRecordHeaderSize, '\0');
  bool compressed = false;
  if (opts_.compress && size >= kMinCompressBytes) {
    std::string joined;  // zstd takes one buffer; compression is off by default
    std::string_view payload = parts[0];
    if (parts.size() > 1) {
      joined.reserve(size);
      for (std::string_view p : parts) joined.append(p);
      payload = joined;
    }
    if (ZstdCompressAppend(payload, opts_.zstd_level, &rec).ok() &&
        rec.size() - kRecordHeaderSize <= size - size / 8) {
      compressed = true;
    } else {
      rec.resize(kRecordHeaderSize);
    }
  }
  if (!compressed) {
    for (std::string_view p : parts) rec.append(p.data(), p.size());
  }
  rec[8] = static_cast<char>(compressed ? kFlagZstd : 0);

  std::unique_lock<std::mutex> lock(mu_);
  if (closed_ || closing_) return Status::Invalid("WAL writer is closed");
  while (!failed_.ok()) {  // retry (after the backoff) before accepting anything new
    OTLAKE_RETURN_NOT_OK(CheckFailedLocked());
    if (leader_active_) {
      cv_.wait(lock);
      continue;
    }
    OTLAKE_RETURN_NOT_OK(LeadLocked(lock));
  }
  const int64_t lsn = next_lsn_++;
  PutFixed64(rec.data(), static_cast<uint64_t>(lsn));
  pending_bytes_ += static_cast<int64_t>(rec.size());
  pending_.push_back(Pending{lsn, std::move(rec)});
  ++stats_.records;
  if (pending_bytes_ > opts_.max_pending_bytes) {
    lock.unlock();
    // Backpressure: wait for this batch to reach the disk. A failure is reported by the caller's
    // own SyncUpTo; the record keeps its LSN and will be retried.
    (void)SyncUpTo(lsn);
  }
  return lsn;
}

std::string WalWriter::TakeBuffer(size_t size) {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    // The smallest pooled buffer that is big enough.
    auto best = pool_.end();
    for (auto it = pool_.begin(); it != pool_.end(); ++it) {
      if (it->capacity() >= size && (best == pool_.end() || it->capacity() < best->capacity())) {
        best = it;
      }
    }
    if (best != pool_.end()) {
      std::swap(*best, pool_.back());
      std::string out = std::move(pool_.back());
      pool_.pop_back();
      pool_bytes_ -= out.capacity();
      out.clear();
      return out;
    }
  }
  std::string out;
  out.reserve(size > kMaxPooledBytes ? size : WithSlack(size));
  return out;
}

void WalWriter::ReturnBuffers(std::deque<Pending>& batch) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  for (Pending& rec : batch) {
    const size_t cap = rec.bytes.capacity();
    if (cap > kMaxPooledBytes / 4) continue;  // a rare giant: do not let it crowd out the rest
    // Full: a bigger buffer replaces the smallest one (records grew), else it is freed.
    while (!pool_.empty() &&
           (pool_.size() >= kMaxPooledBuffers || pool_bytes_ + cap > kMaxPooledBytes)) {
      auto smallest = std::min_element(pool_.begin(), pool_.end(), [](const auto& a, const auto& b) {
        return a.capacity() < b.capacity();
      });
      if (smallest->capacity() >= cap) break;
      pool_bytes_ -= smallest->capacity();
      std::swap(*smallest, pool_.back());
      pool_.pop_back();
    }
    if (pool_.size() >= kMaxPooledBuffers || pool_bytes_ + cap > kMaxPooledBytes) continue;
    pool_bytes_ += cap;
    pool_.push_back(std::move(rec.bytes));
  }
}

Status WalWriter::SyncUpTo(int64_t lsn) {
  std::unique_lock<std::mutex> lock(mu_);
  if (lsn > next_lsn_ - 1) {
    return Status::Invalid("SyncUpTo(", lsn, ") beyond the last LSN ", next_lsn_ - 1);
  }
  for (;;) {
    if (durable_lsn_.load(std::memory_order_relaxed) >= lsn) return Status::OK();
    if (leader_active_) {
      cv_.wait(lock);
      continue;
    }
    if (closed_) return Status::Invalid("WAL writer is closed");
    OTLAKE_RETURN_NOT_OK(CheckFailedLocked());
    OTLAKE_RETURN_NOT_OK(LeadLocked(lock));
  }
}

void WalWriter::WhenDurable(int64_t lsn, std::function<void(Status)> done) {
  if (lsn <= durable_lsn_.load(std::memory_order_acquire)) return done(Status::OK());
  if (lsn > last_lsn()) {
    return done(Status::Invalid("WhenDurable(", lsn, ") beyond the last LSN ", last_lsn()));
  }
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    if (!sync_stop_) {
      waiters_.emplace(lsn, std::move(done));
      if (!sync_thread_.joinable()) sync_thread_ = std::thread([this] { SyncLoop(); });
      waiters_cv_.notify_one();
      return;
    }
  }
  // Closed (or closing, after the last group commit): the answer is known now.
  if (lsn <= durable_lsn_.load(std::memory_order_acquire)) return done(Status::OK());
  done(Status::Invalid("WAL writer is closed"));
}

void WalWriter::SyncLoop() {
  SetCurrentThreadName("otlake-wal");
  std::unique_lock<std::mutex> lock(waiters_mu_);
  for (;;) {
    waiters_cv_.wait(lock, [&] { return sync_stop_ || !waiters_.empty(); });
    if (sync_stop_) return;
    // Everyone who waits now is covered by one group commit: the newest LSN waited for.
    const int64_t target = waiters_.rbegin()->first;
    lock.unlock();
    const Status st = SyncUpTo(target);
    AnswerWaiters(durable_lsn_.load(std::memory_order_acquire), st, target);
    lock.lock();
  }
}

void WalWriter::AnswerWaiters(int64_t durable, const Status& st, int64_t failed_through) {
  std::vector<std::pair<std::function<void(Status)>, bool>> ready;
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    const int64_t through = st.ok() ? durable : std::max(durable, failed_through);
    auto end = waiters_.upper_bound(through);
    for (auto it = waiters_.begin(); it != end; ++it) {
      ready.emplace_back(std::move(it->second), it->first <= durable);
    }
    waiters_.erase(waiters_.begin(), end);
  }
  for (auto& [done, durable_ok] : ready) done(durable_ok ? Status::OK() : st);
}

void WalWriter::StopSyncThread(const Status& not_durable) {
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    sync_stop_ = true;
  }
  waiters_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  AnswerWaiters(durable_lsn_.load(std::memory_order_acquire), not_durable,
                std::numeric_limits<int64_t>::max());
}

Status WalWriter::CheckFailedLocked() const {
  if (failed_.ok() || std::chrono::steady_clock::now() >= retry_at_) return Status::OK();
  return Status::IOError("WAL is failed (retrying after a backoff): ", failed_.message());
}

Status WalWriter::LeadLocked(std::unique_lock<std::mutex>& lock) {
  leader_active_ = true;
  std::deque<Pending> batch;
  batch.swap(pending_);
  pending_bytes_ = 0;
  const bool reopen = needs_reopen_;
  const int64_t target = next_lsn_ - 1;
  lock.unlock();

  Status st = WriteBatch(batch, reopen);
  if (st.ok()) ReturnBuffers(batch);  // after a failure the records are kept for the retry

  lock.lock();
  leader_active_ = false;
  stats_.bytes_written += io_bytes_;
  stats_.syncs += io_syncs_;
  stats_.segments_created += io_segments_;
  stats_.segments_recycled += io_recycled_;
  io_bytes_ = io_syncs_ = io_segments_ = io_recycled_ = 0;
  if (st.ok()) {
    durable_lsn_.store(target, std::memory_order_release);
    failed_ = Status::OK();
    needs_reopen_ = false;
    backoff_ms_ = opts_.retry_backoff_ms;
  } else {
    // Keep every record that is not durable, in LSN order, in front of newer ones.
    const int64_t durable = durable_lsn_.load(std::memory_order_relaxed);
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
      if (it->lsn <= durable) break;
      pending_bytes_ += static_cast<int64_t>(it->bytes.size());
      pending_.push_front(std::move(*it));
    }
    failed_ = st;
    needs_reopen_ = true;
    retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms_);
    backoff_ms_ = std::min(backoff_ms_ * 2, opts_.max_retry_backoff_ms);
  }
  cv_.notify_all();
  return st;
}

void WalWriter::PublishDurable(int64_t lsn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (lsn > durable_lsn_.load(std::memory_order_relaxed)) {
    durable_lsn_.store(lsn, std::memory_order_release);
    cv_.notify_all();
  }
}

Status WalWriter::OpenSegment(int64_t first_lsn) {
  const std::string path = JoinPath(opts_.dir, SegmentFileName(first_lsn));
  std::string retired;
  {
    std::lock_guard<std::mutex> lock(recycle_mu_);
    if (!recycled_.empty()) {
      retired = std::move(recycled_.back());
      recycled_.pop_back();
    }
  }
  Result<std::unique_ptr<WritableFile>> opened = Status::Invalid("no file");
  reused_size_ = 0;
  if (!retired.empty()) {
    // Overwrite a retired segment in place. Its old records have LSNs below first_lsn, so a
    // reader stops where the new ones end (docs/wal.md, "Recycling").
    opened = env_->ReuseWritableFile(retired, path);
    if (opened.ok()) {
      ++io_recycled_;
      reused_size_ = env_->FileSize(path).ValueOr(0);
    }
  }
  if (!opened.ok()) opened = env_->NewWritableFile(path);  // none, or the reuse failed
  OTLAKE_ASSIGN_OR_RAISE(auto file, std::move(opened));
  // The new name must survive a power cut before any record in it is acknowledged.
  OTLAKE_RETURN_NOT_OK(env_->SyncDir(opts_.dir));
  file_ = std::move(file);
  file_path_ = path;
  segment_size_ = synced_size_ = 0;
  segment_last_lsn_ = first_lsn - 1;
  framer_.Reset();
  ++io_segments_;
  std::lock_guard<std::mutex> lock(mu_);
  active_first_lsn_ = first_lsn;
  return Status::OK();
}

Status WalWriter::TrimReused() {
  // Only the last segment may hold old bytes after its records (after a crash; recovery knows
  // them by their LSNs): a segment that is finished is cut to what it holds.
  if (reused_size_ > segment_size_) {
    OTLAKE_RETURN_NOT_OK(env_->Truncate(file_path_, segment_size_));
  }
  reused_size_ = 0;
  return Status::OK();
}

Status WalWriter::FlushScratch(bool sync) {
  if (!scratch_.empty()) {
    Status st = file_->Append(scratch_);
    // Count what we tried: after an error the file holds an unknown prefix of it.
    segment_size_ += static_cast<int64_t>(scratch_.size());
    io_bytes_ += static_cast<int64_t>(scratch_.size());
    scratch_.clear();
    OTLAKE_RETURN_NOT_OK(st);
  }
  if (sync && synced_size_ != segment_size_) {
    const auto sync_start = std::chrono::steady_clock::now();
    OTLAKE_RETURN_NOT_OK(file_->Sync());
    SyncHistogram().Observe(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now() - sync_start)
                                .count());
    synced_size_ = segment_size_;
    ++io_syncs_;
  }
  return Status::OK();
}

Status WalWriter::WriteBatch(std::deque<Pending>& batch, bool reopen) {
  scratch_.clear();
  if (reopen || !file_) {
    const int64_t durable = durable_lsn_.load(std::memory_order_acquire);
    if (file_) {
      (void)file_->Close();
      file_.reset();
      // Cut the failed segment back to what is known durable, so its unknown tail neither looks
      // like corruption nor duplicates the LSNs rewritten below. Best effort: recovery skips
      // duplicates anyway. A segment with nothing durable is simply replaced (same name) or left
      // empty.
      (void)env_->Truncate(file_path_, synced_size_);
    }
    OTLAKE_RETURN_NOT_OK(OpenSegment(durable + 1));
  }
  for (const Pending& rec : batch) {
    const bool full = segment_size_ + static_cast<int64_t>(scratch_.size()) >= opts_.segment_bytes;
    const bool has_records = segment_size_ + static_cast<int64_t>(scratch_.size()) > 0;
    if (full && has_records) {
      // Rotate: the old segment is durable before the new one can acknowledge anything.
      OTLAKE_RETURN_NOT_OK(FlushScratch(/*sync=*/true));
      PublishDurable(segment_last_lsn_);
      OTLAKE_RETURN_NOT_OK(TrimReused());
      (void)file_->Close();
      OTLAKE_RETURN_NOT_OK(OpenSegment(rec.lsn));
    }
    framer_.AddRecord(rec.bytes, &scratch_);
    segment_last_lsn_ = rec.lsn;
    if (scratch_.size() >= (4u << 20)) OTLAKE_RETURN_NOT_OK(FlushScratch(/*sync=*/false));
  }
  return FlushScratch(/*sync=*/true);
}

int64_t WalWriter::last_lsn() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_lsn_ - 1;
}

bool WalWriter::failed(std::string* reason) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_.ok()) return false;
  if (reason != nullptr) *reason = failed_.ToString();
  return true;
}

metrics::Histogram& SyncHistogram() {
  static metrics::Histogram* h =
      new metrics::Histogram(metrics::Histogram::LatencyBoundsNs(), 1'000'000'000);  // never freed
  return *h;
}

WalWriter::Stats WalWriter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

Status WalWriter::DeleteSegmentsUpTo(int64_t lsn) {
  std::lock_guard<std::mutex> delete_lock(delete_mu_);
  int64_t active;
  {
    std::lock_guard<std::mutex> lock(mu_);
    active = active_first_lsn_;
  }
  OTLAKE_ASSIGN_OR_RAISE(auto names, env_->ListDir(opts_.dir));
  std::map<int64_t, std::string> segments;
  for (const std::string& name : names) {
    if (auto first = ParseSegmentFileName(name)) segments.emplace(*first, name);
  }
  int room;
  {
    std::lock_guard<std::mutex> lock(recycle_mu_);
    room = opts_.recycle_segments - static_cast<int>(recycled_.size());
  }
  int64_t deleted = 0;
  std::vector<std::string> kept;
  Status st;
  for (auto it = segments.begin(); it != segments.end(); ++it) {
    auto next = std::next(it);
    if (next == segments.end() || it->first >= active) break;
    if (next->first - 1 > lsn) break;  // this segment may hold records > lsn
    const std::string path = JoinPath(opts_.dir, it->second);
    if (static_cast<int>(kept.size()) < room) {
      const std::string to = JoinPath(opts_.dir, RecycledFileName(it->first));
      st = env_->RenameFile(path, to);
      if (st.ok()) kept.push_back(to);
    } else {
      st = env_->DeleteFile(path);
    }
    if (!st.ok()) break;
    ++deleted;
  }
  if (deleted > 0) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.segments_deleted += deleted;
    }
    Status sync = env_->SyncDir(opts_.dir);
    if (st.ok()) st = sync;
  }
  if (!kept.empty()) {  // usable even if the dir sync failed: reuse renames and syncs again
    std::lock_guard<std::mutex> lock(recycle_mu_);
    for (std::string& path : kept) recycled_.push_back(std::move(path));
  }
  return st;
}

Status WalWriter::Close() {
  int64_t last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || closing_) return Status::Invalid("WAL writer is closed");
    closing_ = true;  // no new records from here on
    last = next_lsn_ - 1;
  }
  Status st = SyncUpTo(last);
  // Every record that will ever be written is written: answer whoever still waits (the sync
  // thread may be answering some of them right now; each is answered once).
  StopSyncThread(st.ok() ? Status::Invalid("WAL writer is closed") : st);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !leader_active_; });
  closed_ = true;
  if (file_) {
    if (st.ok()) st = TrimReused();
    Status close_st = file_->Close();
    file_.reset();
    if (st.ok()) st = close_st;
  }
  return st;
}

}  // namespace otlake::wal
