#include "otlake/archive/writer.h"

#include <arrow/filesystem/filesystem.h>
#include <arrow/util/key_value_metadata.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <vector>

#include "otlake/archive/marshal.h"
#include "otlake/common/file_util.h"
#include "otlake/common/log.h"
#include "otlake/common/metrics.h"
#include "otlake/common/thread_util.h"
#include "otlake/common/time_util.h"
#include "otlake/ingest/record.h"
#include "otlake/otlp/json_to_proto.h"
#include "otlake/wal/log_format.h"
#include "otlake/wal/tail_reader.h"
#include "otlake/wal/wal_reader.h"

namespace otlake::archive {

// Consecutive WAL records [first_lsn, last_lsn] as protobuf request bodies per signal.
struct ArchiveWriter::Batch {
  int64_t first_lsn = 0, last_lsn = 0, time_ms = 0;
  int64_t bytes = 0, requests = 0, first_arrival_ms = 0, last_arrival_ms = 0;
  std::string proto[3];

  bool empty() const { return requests == 0; }
  // Empties the batch; the buffers keep their capacity (no fresh pages for the next batch).
  void Reset(int64_t first) {
    first_lsn = first;
    last_lsn = time_ms = bytes = requests = first_arrival_ms = last_arrival_ms = 0;
    for (std::string& p : proto) p.clear();
  }
  // Adds one WAL record's request. A record that does not decode (never written by this build)
  // is skipped with an error in the log: the archive carries what the lake carries.
  void Add(int64_t lsn, std::string_view payload) {
    last_lsn = lsn;
    ingest::Record r;
    Status st = ingest::DecodeRecord(payload, &r);
    std::string converted;
    if (st.ok() && r.format == ingest::BodyFormat::kJson) {
      auto p = otlp::OtlpJsonToProtobuf(r.signal, r.body);
      if (p.ok()) converted = std::move(*p);
      st = p.status();
    }
    if (!st.ok()) {
      OTLAKE_LOG(ERROR) << "archive: WAL record " << lsn << " skipped: " << st.ToString();
      return;
    }
    const std::string_view body = r.format == ingest::BodyFormat::kJson ? std::string_view(converted) : r.body;
    proto[static_cast<int>(r.signal)].append(body.data(), body.size());
    bytes += static_cast<int64_t>(body.size());
    ++requests;
    const int64_t arrival = r.arrival_unix_nano / 1000000;
    if (first_arrival_ms == 0) first_arrival_ms = arrival;
    last_arrival_ms = arrival;
  }
};

namespace {

// Recover's callback returns this to stop reading early; not an error.
Status StopReading() { return Status::Cancelled("archive: read enough"); }
bool IsStopReading(const Status& st) { return st.IsCancelled() && st.message() == "archive: read enough"; }

struct Segment {
  int64_t first_lsn = 0;
  int64_t bytes = 0;
};

std::vector<Segment> ListSegments(const std::string& dir) {
  std::vector<Segment> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    auto lsn = wal::ParseSegmentFileName(e.path().filename().string());
    if (!lsn) continue;
    std::error_code ec2;
    const auto size = e.file_size(ec2);
    out.push_back({*lsn, ec2 ? 0 : static_cast<int64_t>(size)});
  }
  std::sort(out.begin(), out.end(), [](const Segment& a, const Segment& b) { return a.first_lsn < b.first_lsn; });
  return out;
}

std::string IsoOrNull(int64_t ms) { return ms > 0 ? UtcIso8601(ms) : std::string(); }

}  // namespace

ArchiveWriter::ArchiveWriter(ArchiveWriterOptions options, KeyLayout layout)
    : options_(std::move(options)),
      layout_(std::move(layout)),
      state_path_(ArchiveStatePath(options_.state_dir)) {}

ArchiveWriter::~ArchiveWriter() { Stop(/*flush=*/false); }

Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::Open(ArchiveWriterOptions options) {
  if (options.layout.marshaler == Marshaler::kJsonLines) {
    return Status::Invalid("marshaler: jsonl is not written by the archive (otlp_json or otlp_proto)");
  }
  if (!options.fs) return Status::Invalid("archive: no filesystem");
  if (options.bucket.empty()) return Status::Invalid("s3_bucket: required");
  OTLAKE_ASSIGN_OR_RAISE(KeyLayout layout, KeyLayout::Make(options.layout));
  OTLAKE_RETURN_NOT_OK(MakeDirs(options.state_dir));
  std::unique_ptr<ArchiveWriter> w(new ArchiveWriter(std::move(options), std::move(layout)));
  w->tail_ = std::make_unique<wal::TailReader>(w->options_.wal_dir);
  auto loaded = LoadArchiveState(w->state_path_);
  if (loaded.ok()) {
    w->state_ = std::move(*loaded);
    if (w->state_.pending) {
      OTLAKE_LOG(INFO) << "archive: the batch of WAL records " << w->state_.pending->first_lsn << ".."
                       << w->state_.pending->last_lsn << " was being written: writing it again under the same keys";
    }
  } else if (loaded.status().IsKeyError()) {
    std::random_device rd;
    w->state_.salt = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(NowUnixNanos());
    // A fresh archive starts with the next record logged (older ones: otlake archive backfill).
    w->state_.archived_lsn = std::max<int64_t>(w->options_.start_lsn, 1) - 1;
    OTLAKE_RETURN_NOT_OK(w->Save());
    OTLAKE_LOG(INFO) << "archive: new archive state at " << w->state_path_ << ", starting after WAL LSN "
                     << w->state_.archived_lsn;
  } else {
    return loaded.status();
  }
  w->last_cut_ms_ = w->Now();
  w->Publish();
  return w;
}

int64_t ArchiveWriter::Now() const { return options_.now_ms ? options_.now_ms() : NowUnixMillis(); }

Status ArchiveWriter::Save() { return SaveArchiveState(state_path_, state_); }

void ArchiveWriter::Start() {
  std::lock_guard lk(stop_mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] {
    SetCurrentThreadName("otlake-archive");
    Loop();
  });
}

void ArchiveWriter::Stop(bool flush) {
  {
    std::lock_guard lk(stop_mu_);
    if (stop_) return;
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!flush) return;
  bool failing;
  {
    std::lock_guard lk(pass_mu_);
    failing = retry_ms_ > 0;
  }
  if (failing) return;  // S3 is failing: what waits stays in the WAL for the next start
  Status st = RunOnce(/*flush_all=*/true);
  if (!st.ok()) OTLAKE_LOG(WARN) << "archive: final flush failed (written at the next start): " << st.ToString();
}

void ArchiveWriter::Loop() {
  std::unique_lock lk(stop_mu_);
  while (!stop_) {
    lk.unlock();
    (void)RunOnce(false);
    lk.lock();
    stop_cv_.wait_for(lk, std::chrono::milliseconds(options_.poll_ms), [this] { return stop_; });
  }
}

void ArchiveWriter::AddGap(ArchiveGap gap) {
  OTLAKE_LOG(ERROR) << "archive: GAP: WAL records " << gap.from_lsn << ".." << gap.to_lsn
                    << " will not be archived (" << gap.reason << "); arrival "
                    << (gap.first_arrival_unix_ms > 0 ? UtcIso8601(gap.first_arrival_unix_ms) : "?") << " .. "
                    << (gap.last_arrival_unix_ms > 0 ? UtcIso8601(gap.last_arrival_unix_ms) : "?")
                    << "; write the window again with otlake archive backfill";
  // A gap right after the previous one for the same reason extends it (a long outage past the
  // limit gives up one segment at a time).
  if (!state_.gaps.empty() && state_.gaps.back().to_lsn + 1 == gap.from_lsn && state_.gaps.back().reason == gap.reason) {
    ArchiveGap& last = state_.gaps.back();
    last.to_lsn = gap.to_lsn;
    last.recorded_unix_ms = gap.recorded_unix_ms;
    if (gap.last_arrival_unix_ms > 0) last.last_arrival_unix_ms = gap.last_arrival_unix_ms;
    return;
  }
  state_.gaps.push_back(std::move(gap));
  if (state_.gaps.size() > kMaxGaps) {
    state_.gaps.erase(state_.gaps.begin());
    ++state_.gaps_dropped;
  }
}

Status ArchiveWriter::ReadBatch(int64_t first_lsn, int64_t last_lsn, Batch* batch, int64_t* missing_from,
                                int64_t* missing_to) {
  batch->Reset(first_lsn);
  *missing_from = *missing_to = 0;
  int64_t expected = first_lsn;
  auto st = wal::Recover(options_.wal_dir, nullptr, first_lsn, /*repair=*/false,
                         [&](int64_t lsn, std::string_view payload) -> Status {
                           if (lsn > last_lsn) return StopReading();
                           if (lsn > expected && *missing_from == 0) {
                             *missing_from = expected;
                             *missing_to = lsn - 1;
                           }
                           expected = lsn + 1;
                           batch->Add(lsn, payload);
                           return Status::OK();
                         });
  if (!st.ok() && !IsStopReading(st.status())) return st.status();
  if (expected <= last_lsn && *missing_from == 0) {
    *missing_from = expected;
    *missing_to = last_lsn;
  }
  batch->last_lsn = last_lsn;
  return Status::OK();
}

Status ArchiveWriter::WriteBatch(Batch& b) {
  const Marshaler m = options_.layout.marshaler;
  const Compression c = options_.layout.compression;
  const std::string_view encoding = ContentEncoding(c);
  std::shared_ptr<const arrow::KeyValueMetadata> meta;
  if (!encoding.empty()) meta = arrow::key_value_metadata({"Content-Encoding"}, {std::string(encoding)});
  int64_t objects = 0, bytes = 0;
  for (int s = 0; s < 3; ++s) {
    if (b.proto[s].empty()) continue;
    const Signal signal = static_cast<Signal>(s);
    std::string storage;
    OTLAKE_ASSIGN_OR_RAISE(std::string_view body,
                           MarshalObject(signal, b.proto[s], m, c, options_.compression_level, &storage));
    const std::string key = layout_.Key(b.time_ms * 1000000, signal,
                                        ArchiveUuidV7(b.time_ms, state_.salt, signal, b.first_lsn, b.last_lsn));
    const std::string path = options_.bucket + "/" + key;
    Status st = PutObject(*options_.fs, path, meta, body, options_.create_dirs);
    if (!st.ok()) {
      return Status::IOError("archive: cannot write ", options_.create_dirs ? "" : "s3://", path, ": ", st.message());
    }
    ++objects;
    bytes += static_cast<int64_t>(body.size());
  }
  state_.archived_lsn = b.last_lsn;
  state_.pending.reset();
  state_.objects += objects;
  state_.requests += b.requests;
  state_.bytes += bytes;
  OTLAKE_RETURN_NOT_OK(Save());
  retain_from_.store(state_.archived_lsn + 1, std::memory_order_release);
  last_cut_ms_ = Now();
  OTLAKE_LOG(DEBUG) << "archive: LSN " << b.first_lsn << ".." << b.last_lsn << " -> " << objects << " objects, "
                    << bytes << " bytes";
  return Status::OK();
}

Status ArchiveWriter::CheckBacklog(int64_t now) {
  const std::vector<Segment> segs = ListSegments(options_.wal_dir);
  const int64_t needed = state_.pending ? state_.pending->first_lsn : state_.archived_lsn + 1;
  // Segment i holds [first(i), first(i+1) - 1]; those holding any record >= needed are kept.
  size_t from = segs.size();
  for (size_t i = 0; i < segs.size(); ++i) {
    const bool holds = i + 1 == segs.size() || segs[i + 1].first_lsn > needed;
    if (holds) {
      from = i;
      break;
    }
  }
  int64_t total = 0;
  for (size_t i = from; i < segs.size(); ++i) total += segs[i].bytes;
  backlog_bytes_ = total;
  if (total <= options_.backlog_limit_bytes || from + 1 >= segs.size()) return Status::OK();
  // Give up the oldest whole segments (never the newest) until the rest fits.
  size_t keep = from;
  while (keep + 1 < segs.size() && total > options_.backlog_limit_bytes) total -= segs[keep++].bytes;
  int64_t new_archived = segs[keep].first_lsn - 1;
  if (state_.pending && state_.pending->last_lsn > new_archived) new_archived = state_.pending->last_lsn;
  if (new_archived < needed) return Status::OK();
  ArchiveGap gap;
  gap.from_lsn = needed;
  gap.to_lsn = new_archived;
  gap.recorded_unix_ms = now;
  gap.reason = "backlog limit " + std::to_string(options_.backlog_limit_bytes) + " bytes of WAL exceeded";
  // Arrival times at both ends: the first record of the gap and the last one (one segment read each).
  Batch probe;
  int64_t mf, mt;
  if (ReadBatch(needed, needed, &probe, &mf, &mt).ok()) gap.first_arrival_unix_ms = probe.first_arrival_ms;
  if (ReadBatch(new_archived, new_archived, &probe, &mf, &mt).ok()) gap.last_arrival_unix_ms = probe.last_arrival_ms;
  AddGap(std::move(gap));
  state_.archived_lsn = new_archived;
  state_.pending.reset();
  backlog_bytes_ = total;
  oldest_waiting_arrival_ms_ = 0;
  OTLAKE_RETURN_NOT_OK(Save());
  retain_from_.store(state_.archived_lsn + 1, std::memory_order_release);
  return Status::OK();
}

Status ArchiveWriter::RunOnce(bool flush_all) {
  std::lock_guard lk(pass_mu_);
  const int64_t now = Now();
  if (!flush_all && now < next_try_ms_) return Status::OK();  // backing off after a failure
  Status st = [&]() -> Status {
    OTLAKE_RETURN_NOT_OK(CheckBacklog(now));
    int64_t mf, mt;
    if (state_.pending) {
      // A batch cut before a crash or failure: the same records, time and keys again.
      Batch b;
      const PendingBatch p = *state_.pending;
      OTLAKE_RETURN_NOT_OK(ReadBatch(p.first_lsn, p.last_lsn, &b, &mf, &mt));
      if (mf != 0) {
        AddGap({mf, mt, now, b.first_arrival_ms, b.last_arrival_ms, "records not in the WAL"});
      }
      b.time_ms = p.time_unix_ms;
      if (oldest_waiting_arrival_ms_ == 0) oldest_waiting_arrival_ms_ = b.first_arrival_ms;
      OTLAKE_RETURN_NOT_OK(WriteBatch(b));
      oldest_waiting_arrival_ms_ = 0;
    }
    const int64_t durable = options_.durable_lsn ? options_.durable_lsn() : 0;
    pub_durable_ = durable;
    if (durable <= state_.archived_lsn) {
      oldest_waiting_arrival_ms_ = 0;
      last_cut_ms_ = now;
      return Status::OK();
    }
    // Read what is new since the last pass (the batch being filled is kept between passes, and
    // the tail reader continues where it stopped), cutting full batches as they fill.
    if (!scratch_) scratch_ = std::make_unique<Batch>();
    Batch& b = *scratch_;  // its buffers keep their pages from batch to batch
    if (b.first_lsn != state_.archived_lsn + 1) b.Reset(state_.archived_lsn + 1);
    int64_t expected = b.last_lsn >= b.first_lsn ? b.last_lsn + 1 : b.first_lsn;
    auto cut = [&](int64_t last) -> Status {
      b.last_lsn = last;
      b.time_ms = Now();
      state_.pending = PendingBatch{b.first_lsn, b.last_lsn, b.time_ms};
      OTLAKE_RETURN_NOT_OK(Save());
      OTLAKE_RETURN_NOT_OK(WriteBatch(b));
      b.Reset(last + 1);
      oldest_waiting_arrival_ms_ = 0;
      return Status::OK();
    };
    Status cb_status;
    auto on_record = [&](int64_t lsn, std::string_view payload) -> Status {
      Status st = [&]() -> Status {
                              if (lsn > durable) return StopReading();
                              if (lsn > expected) {
                                // Records the WAL no longer has (the archive was off or behind).
                                if (!b.empty()) OTLAKE_RETURN_NOT_OK(cut(expected - 1));
                                AddGap({expected, lsn - 1, Now(), 0, 0,
                                        "records not in the WAL (deleted before they were archived)"});
                                state_.archived_lsn = lsn - 1;
                                OTLAKE_RETURN_NOT_OK(Save());
                                b.Reset(lsn);
                              }
                              expected = lsn + 1;
                              b.Add(lsn, payload);
                              if (oldest_waiting_arrival_ms_ == 0) oldest_waiting_arrival_ms_ = b.first_arrival_ms;
                              if (b.bytes >= options_.max_object_bytes) return cut(lsn);
                              return Status::OK();
      }();
      if (!st.ok()) cb_status = st;
      return st;
    };
    // Follow the log from where the last pass stopped; on anything unexpected read it the
    // careful way (wal::Recover reports and skips damage) from the first record still needed.
    Status tail = tail_->Read(expected, durable, on_record);
    if (!tail.ok() && cb_status.ok()) {
      OTLAKE_LOG(DEBUG) << "archive: " << tail.ToString() << "; reading the WAL with recovery";
      auto rec = wal::Recover(options_.wal_dir, nullptr, expected, /*repair=*/false, on_record);
      if (rec.ok()) {
        for (const auto& p : rec->problems) OTLAKE_LOG(WARN) << "archive: reading the WAL: " << p;
      } else if (cb_status.ok()) {
        b.Reset(state_.archived_lsn + 1);
        return rec.status();
      }
    }
    if (!cb_status.ok() && !IsStopReading(cb_status)) {
      // A failed cut: the batch is rebuilt from the WAL as `pending` by the next pass.
      b.Reset(state_.archived_lsn + 1);
      tail_->Reset();
      return cb_status;
    }
    b.last_lsn = expected - 1;
    if (b.last_lsn >= b.first_lsn) {
      oldest_waiting_arrival_ms_ = b.first_arrival_ms;
      if (flush_all || now - b.first_arrival_ms >= options_.max_age_ms || b.empty()) {
        OTLAKE_RETURN_NOT_OK(cut(b.last_lsn));
      }
    }
    return Status::OK();
  }();
  {
    std::lock_guard plk(mu_);
    if (st.ok()) {
      retry_ms_ = 0;
      next_try_ms_ = 0;
    } else {
      ++failures_;
      retry_ms_ = retry_ms_ == 0 ? options_.retry_base_ms : std::min(retry_ms_ * 2, options_.retry_max_ms);
      next_try_ms_ = now + retry_ms_;
      last_error_ = st.ToString();
      last_error_ms_ = now;
      OTLAKE_LOG(WARN) << "archive: " << st.ToString() << " (retry in " << retry_ms_ << " ms)";
    }
    if (st.ok() && state_.objects != published_.objects) last_success_ms_ = now;
  }
  Publish();
  return st;
}

void ArchiveWriter::Publish() {
  const int64_t needed = state_.pending ? state_.pending->first_lsn : state_.archived_lsn + 1;
  retain_from_.store(needed, std::memory_order_release);
  std::lock_guard lk(mu_);
  published_ = state_;
  pub_backlog_bytes_ = backlog_bytes_;
  pub_oldest_ms_ = oldest_waiting_arrival_ms_ > 0 ? oldest_waiting_arrival_ms_ : last_cut_ms_;
}

ArchiveState ArchiveWriter::state() const {
  std::lock_guard lk(mu_);
  return published_;
}

std::string ArchiveWriter::StatusJson() const {
  std::lock_guard lk(mu_);
  const int64_t now = Now();
  const int64_t durable = options_.durable_lsn ? options_.durable_lsn() : pub_durable_;
  const int64_t backlog = std::max<int64_t>(0, durable - published_.archived_lsn);
  const double lag_s = backlog > 0 ? std::max<int64_t>(0, now - pub_oldest_ms_) / 1000.0 : 0.0;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const char* k, const std::string& v) {
    w.Key(k);
    if (v.empty()) w.Null(); else w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  const KeyLayoutOptions& lo = options_.layout;
  w.StartObject();
  w.Key("enabled"); w.Bool(true);
  str("target", options_.target);
  str("marshaler", std::string(MarshalerName(lo.marshaler)));
  str("compression", std::string(CompressionName(lo.compression)));
  str("s3_partition_format", lo.s3_partition_format);
  str("s3_partition_timezone", lo.s3_partition_timezone.empty() ? "UTC" : lo.s3_partition_timezone);
  w.Key("ok"); w.Bool(retry_ms_ == 0);
  w.Key("archived_lsn"); w.Int64(published_.archived_lsn);
  w.Key("durable_lsn"); w.Int64(durable);
  w.Key("backlog_lsns"); w.Int64(backlog);
  w.Key("backlog_bytes"); w.Int64(pub_backlog_bytes_);
  w.Key("backlog_limit_bytes"); w.Int64(options_.backlog_limit_bytes);
  w.Key("lag_s"); w.Double(lag_s);
  w.Key("pending");
  if (published_.pending) {
    w.StartObject();
    w.Key("first_lsn"); w.Int64(published_.pending->first_lsn);
    w.Key("last_lsn"); w.Int64(published_.pending->last_lsn);
    str("time_utc", UtcIso8601(published_.pending->time_unix_ms));
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("objects"); w.Int64(published_.objects);
  w.Key("requests"); w.Int64(published_.requests);
  w.Key("bytes"); w.Int64(published_.bytes);
  w.Key("failures"); w.Int64(failures_);
  str("last_error", retry_ms_ > 0 ? last_error_ : "");
  str("last_error_utc", IsoOrNull(last_error_ms_));
  str("last_success_utc", IsoOrNull(last_success_ms_));
  int64_t gap_lsns = 0;
  for (const ArchiveGap& g : published_.gaps) gap_lsns += g.to_lsn - g.from_lsn + 1;
  w.Key("gaps_total"); w.Int64(static_cast<int64_t>(published_.gaps.size()) + published_.gaps_dropped);
  w.Key("gap_lsns"); w.Int64(gap_lsns);
  w.Key("gaps");
  w.StartArray();
  const size_t first = published_.gaps.size() > 10 ? published_.gaps.size() - 10 : 0;
  for (size_t i = first; i < published_.gaps.size(); ++i) {
    const ArchiveGap& g = published_.gaps[i];
    w.StartObject();
    w.Key("from_lsn"); w.Int64(g.from_lsn);
    w.Key("to_lsn"); w.Int64(g.to_lsn);
    w.Key("lsns"); w.Int64(g.to_lsn - g.from_lsn + 1);
    str("recorded_utc", IsoOrNull(g.recorded_unix_ms));
    str("first_arrival_utc", IsoOrNull(g.first_arrival_unix_ms));
    str("last_arrival_utc", IsoOrNull(g.last_arrival_unix_ms));
    str("reason", g.reason);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string ArchiveWriter::MetricsText() const {
  std::lock_guard lk(mu_);
  const int64_t now = Now();
  const int64_t durable = options_.durable_lsn ? options_.durable_lsn() : pub_durable_;
  const int64_t backlog = std::max<int64_t>(0, durable - published_.archived_lsn);
  int64_t gap_lsns = 0;
  for (const ArchiveGap& g : published_.gaps) gap_lsns += g.to_lsn - g.from_lsn + 1;
  metrics::PromWriter w;
  auto one = [&](const char* name, const char* type, const char* help, auto v) {
    w.Family(name, type, help).Sample(name, {}, v);
  };
  one("otlake_archive_archived_lsn", "gauge", "Every WAL record up to this LSN is archived (or in a gap).", published_.archived_lsn);
  one("otlake_archive_backlog_lsns", "gauge", "Durable WAL records not archived yet.", backlog);
  one("otlake_archive_backlog_bytes", "gauge", "Bytes of WAL segments kept for the archive.", pub_backlog_bytes_);
  one("otlake_archive_lag_seconds", "gauge", "Age of the oldest record not archived yet (0: none).",
      backlog > 0 ? std::max<int64_t>(0, now - pub_oldest_ms_) / 1000.0 : 0.0);
  one("otlake_archive_objects_total", "counter", "Archive objects written.", published_.objects);
  one("otlake_archive_requests_total", "counter", "WAL records (accepted requests) archived.", published_.requests);
  one("otlake_archive_written_bytes_total", "counter", "Bytes of archive objects written.", published_.bytes);
  one("otlake_archive_failures_total", "counter", "Archive passes that failed (retried).", failures_);
  one("otlake_archive_gaps_total", "counter", "Gaps recorded (records given up).",
      static_cast<int64_t>(published_.gaps.size()) + published_.gaps_dropped);
  one("otlake_archive_gap_lsns_total", "counter", "WAL records in the recorded gaps (last 100 gaps).", gap_lsns);
  return w.Take();
}

}  // namespace otlake::archive
