#include "otlake/ingest/ingestor.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "otlake/common/file_util.h"
#include "otlake/common/log.h"
#include "otlake/common/time_util.h"
#include "otlake/lake/delta_table.h"
#include "otlake/wal/wal_reader.h"
#include "otlake/wal/wal_writer.h"

namespace otlake::ingest {

using table::TableId;

Ingestor::Ingestor(IngestOptions options) : options_(std::move(options)) {}

Ingestor::~Ingestor() { (void)Stop(); }

Result<std::unique_ptr<Ingestor>> Ingestor::Open(IngestOptions options) {
  std::unique_ptr<Ingestor> in(new Ingestor(std::move(options)));
  OTLAKE_RETURN_NOT_OK(MakeDirs(in->options_.wal_dir));
  buffer::PipelineOptions po = in->options_.pipeline;
  // What a flush holds while it writes counts against the budget too (buffer/pipeline.h): a
  // batch as large as the budget would stop ingest for the whole write and double the memory.
  po.flush_bytes = std::min(po.flush_bytes, std::max<int64_t>(po.max_buffered_bytes / 8, 1));
  Ingestor* self = in.get();
  po.make_durable = [self](int64_t lsn) { return self->MakeDurable(lsn); };
  po.committed_through = [self](int64_t lsn) { self->CommittedThrough(lsn); };
  OTLAKE_ASSIGN_OR_RAISE(in->pipeline_, buffer::Pipeline::Start(std::move(po)));
  OTLAKE_RETURN_NOT_OK(in->Recover());

  wal::WalOptions wo;
  wo.dir = in->options_.wal_dir;
  wo.segment_bytes = in->options_.wal_segment_bytes;
  wo.compress = in->options_.wal_compress;
  wo.recycle_segments = in->options_.wal_recycle_segments;
  if (in->options_.wal_direct_io) wo.env = wal::Env::DirectIo();
  OTLAKE_ASSIGN_OR_RAISE(in->wal_, wal::WalWriter::Open(wo, in->recovery_.next_lsn));
  in->wal_ptr_.store(in->wal_.get());
  // Everything replayed is committed now: the old segments can go.
  Status st = in->wal_->DeleteSegmentsUpTo(in->DeletableThrough(in->pipeline_->CommittedThroughLsn()));
  if (!st.ok()) OTLAKE_LOG(WARN) << "WAL: could not delete old segments: " << st.ToString();
  return in;
}

Status Ingestor::Recover() {
  RecoveryReport& rep = recovery_;
  const std::string& days = options_.pipeline.days_dir;
  const std::string& app_id = options_.pipeline.txn_app_id;
  // The WAL position each (day, table) had committed when the process stopped.
  std::map<std::pair<int64_t, int>, int64_t> committed;
  auto committed_lsn = [&](int64_t day, TableId t) -> Result<int64_t> {
    auto key = std::make_pair(day, static_cast<int>(t));
    auto it = committed.find(key);
    if (it != committed.end()) return it->second;
    const std::string dir = days + "/" + DaysToDate(day) + "/otel/" + std::string(table::TableName(t));
    int64_t v = 0;
    if (PathExists(dir + "/_delta_log")) {
      OTLAKE_ASSIGN_OR_RAISE(auto reader, lake::DeltaTableWriter::Open(dir, t, {}));
      v = std::max<int64_t>(0, reader->TxnVersion(app_id));
    } else if (options_.shipped_lsn) {
      v = std::max<int64_t>(0, options_.shipped_lsn(day, t));
    }
    committed[key] = v;
    return v;
  };
  const int64_t replay_flush_bytes = std::max<int64_t>(options_.pipeline.max_buffered_bytes / 2, 1);

  auto on_record = [&](int64_t lsn, std::string_view payload) -> Status {
    ++rep.records;
    recovered_last_lsn_.store(lsn);
    Record r;
    Status st = DecodeRecord(payload, &r);
    otlp::DecodeResult decoded;
    if (st.ok() && !r.origin.empty()) rep.origins.emplace_back(r.origin);
    if (st.ok()) {
      otlp::DecodeOptions opts;
      opts.project_id = std::string(r.project_id);
      opts.now_unix_nano = r.arrival_unix_nano;
      opts.max_nesting_depth = options_.max_nesting_depth;
      st = r.format == BodyFormat::kProtobuf ? otlp::DecodeProtobuf(r.signal, r.body, opts, &decoded)
                                             : otlp::DecodeJson(r.signal, r.body, opts, &decoded);
    }
    if (!st.ok()) {
      ++rep.undecodable_records;
      OTLAKE_LOG(ERROR) << "WAL recovery: record " << lsn << " cannot be replayed: " << st.ToString();
      return Status::OK();
    }
    const int64_t arrival_ms = r.arrival_unix_nano / 1000000;
    const int64_t day = UnixMsToDays(arrival_ms);
    int64_t rows = 0;
    for (TableId t : table::kAllTables) {
      const table::RowBatch* b = decoded.batches.Find(t);
      if (!b || b->num_rows() == 0) continue;
      OTLAKE_ASSIGN_OR_RAISE(int64_t done, committed_lsn(day, t));
      if (done >= lsn) {
        rep.skipped_rows += b->num_rows();
        decoded.batches.Release(t);
      } else {
        rows += b->num_rows();
      }
    }
    if (rows == 0) return Status::OK();
    ++rep.replayed_records;
    rep.replayed_rows += rows;
    OTLAKE_RETURN_NOT_OK(pipeline_->Append(&decoded.batches, arrival_ms, lsn));
    if (pipeline_->BufferedBytes() > replay_flush_bytes) OTLAKE_RETURN_NOT_OK(pipeline_->FlushAll());
    return Status::OK();
  };

  OTLAKE_ASSIGN_OR_RAISE(wal::RecoveryStats st,
                         wal::Recover(options_.wal_dir, nullptr, /*from_lsn=*/1, /*repair=*/true, on_record));
  rep.corrupt_records = st.corrupt_records;
  rep.truncated_tail_bytes = st.truncated_tail_bytes;
  rep.stale_tail_bytes = st.stale_tail_bytes;
  rep.padding_bytes = st.padding_bytes;
  rep.next_lsn = std::max<int64_t>(st.next_lsn, 1);
  for (const auto& p : st.problems) rep.problems += p + "; ";
  if (rep.replayed_records > 0) OTLAKE_RETURN_NOT_OK(pipeline_->FlushAll());
  if (rep.records > 0 || !rep.problems.empty()) {
    OTLAKE_LOG(INFO) << "WAL recovery: " << rep.records << " records, " << rep.replayed_records
                     << " replayed (" << rep.replayed_rows << " rows), " << rep.skipped_rows
                     << " rows already committed, " << rep.corrupt_records << " corrupt, "
                     << rep.truncated_tail_bytes << " torn tail bytes truncated, "
                     << rep.undecodable_records << " undecodable; next LSN " << rep.next_lsn;
  }
  if (!rep.problems.empty()) OTLAKE_LOG(ERROR) << "WAL recovery problems: " << rep.problems;
  return Status::OK();
}

Status Ingestor::MakeDurable(int64_t lsn) {
  if (lsn <= recovered_last_lsn_.load()) return Status::OK();  // read back from disk
  wal::WalWriter* w = wal_ptr_.load();
  if (w == nullptr) return Status::IOError("write-ahead log is not open");
  return w->SyncUpTo(lsn);
}

int64_t Ingestor::HoldSegments() {
  std::lock_guard lk(holds_mu_);
  wal::WalWriter* w = wal_ptr_.load();
  // A floor at or below the LSN the caller's next record will get: nothing at or after it goes.
  const int64_t floor = (w != nullptr ? w->last_lsn() : recovered_last_lsn_.load()) + 1;
  holds_[next_hold_] = floor;
  return next_hold_++;
}

void Ingestor::ReleaseSegments(int64_t hold) {
  std::lock_guard lk(holds_mu_);
  holds_.erase(hold);
}

int64_t Ingestor::DeletableThrough(int64_t lsn) {
  std::lock_guard lk(holds_mu_);
  for (const auto& [id, floor] : holds_) lsn = std::min(lsn, floor - 1);
  if (options_.retain_from) lsn = std::min(lsn, options_.retain_from() - 1);
  return lsn;
}

void Ingestor::CommittedThrough(int64_t lsn) {
  wal::WalWriter* w = wal_ptr_.load();
  if (w == nullptr) return;
  Status st = w->DeleteSegmentsUpTo(DeletableThrough(lsn));
  if (!st.ok()) OTLAKE_LOG(WARN) << "WAL: could not delete segments: " << st.ToString();
}

Result<int64_t> Ingestor::Submit(const Record& record, otlp::DecodeResult* decoded, Timing* timing) {
  if (decoded->batches.TotalRows() == 0) return 0;  // nothing to keep
  const auto t0 = std::chrono::steady_clock::now();
  // A partially rejected request: its accepted records only, when asked (IngestOptions).
  Record accepted = record;
  std::string accepted_body;
  if (decoded->rejected > 0 && options_.accepted_only) {
    auto body = options_.accepted_only(record);
    if (body.ok()) {
      accepted_body = std::move(*body);
      accepted.body = accepted_body;
      accepted.format = BodyFormat::kProtobuf;
    } else {
      OTLAKE_LOG(WARN) << "logging a partially rejected request as received: " << body.status().ToString();
    }
  }
  const Record& logged = accepted;
  // The payload is logged as header + body, straight from the request's body (no concatenation).
  std::string header;
  EncodeRecordHeader(logged, &header);
  const std::string_view parts[] = {header, logged.body};
  int64_t lsn;
  {
    std::lock_guard lk(seq_mu_);
    OTLAKE_RETURN_NOT_OK(pipeline_->CheckCapacity(
        decoded->batches.ByteSize() + static_cast<int64_t>(header.size() + logged.body.size())));
    OTLAKE_ASSIGN_OR_RAISE(lsn, wal_->Append(parts));
    OTLAKE_RETURN_NOT_OK(pipeline_->Append(&decoded->batches, record.arrival_unix_nano / 1000000, lsn));
  }
  if (timing != nullptr) {
    timing->buffer_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  }
  return lsn;
}

void Ingestor::WhenDurable(int64_t lsn, std::function<void(Status)> done) {
  if (lsn <= 0) return done(Status::OK());  // nothing was logged
  wal_->WhenDurable(lsn, std::move(done));
}

Status Ingestor::Ingest(const Record& record, otlp::DecodeResult* decoded, Timing* timing) {
  OTLAKE_ASSIGN_OR_RAISE(const int64_t lsn, Submit(record, decoded, timing));
  if (lsn == 0) return Status::OK();
  const auto t1 = std::chrono::steady_clock::now();
  Status st = wal_->SyncUpTo(lsn);
  if (timing != nullptr) {
    timing->sync_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t1).count();
  }
  return st;
}

bool Ingestor::Ok(std::string* reason) const {
  if (WalFailing(reason)) return false;
  std::string why;
  if (pipeline_->Ok(&why)) return true;
  if (reason) *reason = "table writes are failing (" + options_.pipeline.days_dir + "): " + why;
  return false;
}

bool Ingestor::WalFailing(std::string* reason) const {
  std::string why;
  if (!wal_ || !wal_->failed(&why)) return false;
  if (reason) *reason = "write-ahead log is failing (" + options_.wal_dir + "): " + why;
  return true;
}

Ingestor::WalStats Ingestor::wal_stats() const {
  WalStats s;
  if (!wal_) return s;
  const auto ws = wal_->stats();
  s.last_lsn = wal_->last_lsn();
  s.durable_lsn = wal_->durable_lsn();
  s.committed_lsn = pipeline_->CommittedThroughLsn();
  s.syncs = ws.syncs;
  s.bytes_written = ws.bytes_written;
  s.segments_deleted = ws.segments_deleted;
  s.segments_recycled = ws.segments_recycled;
  return s;
}

Status Ingestor::Stop() {
  if (stopped_) return Status::OK();
  stopped_ = true;
  Status st = pipeline_ ? pipeline_->Stop() : Status::OK();
  if (wal_) {
    if (st.ok()) {
      Status del = wal_->DeleteSegmentsUpTo(DeletableThrough(pipeline_->CommittedThroughLsn()));
      if (!del.ok()) OTLAKE_LOG(WARN) << "WAL: could not delete segments: " << del.ToString();
    }
    wal_ptr_.store(nullptr);
    Status closed = wal_->Close();
    if (st.ok()) st = closed;
  }
  return st;
}

}  // namespace otlake::ingest
