#include "otlake/wal/wal_reader.h"

#include <algorithm>
#include <map>

#include "otlake/wal/compression.h"
#include "otlake/wal/crc32c.h"

namespace otlake::wal {
namespace {

// Reads one segment's bytes and reports good records and damaged regions; the LSN rules live in
// Recovery below.
class SegmentScanner {
 public:
  explicit SegmentScanner(std::string_view data) : data_(data) {}

  // Calls on_record(start_offset, end_offset, record) for each complete logical record and
  // Note()s the reasons for everything skipped. Returns when the data is exhausted.
  template <typename OnRecord>
  Status Scan(OnRecord&& on_record) {
    const int64_t size = static_cast<int64_t>(data_.size());
    while (pos_ < size) {
      const int64_t in_block = pos_ % kBlockSize;
      const int64_t left_in_block = kBlockSize - in_block;
      const int64_t block_end = std::min(pos_ + left_in_block, size);
      if (left_in_block < kHeaderSize) {  // block trailer
        pos_ = block_end;
        if (!in_record_ && reasons_.empty()) good_end_ = pos_;
        continue;
      }
      if (size - pos_ < kHeaderSize) {
        Note("truncated header");
        pos_ = size;
        break;
      }
      const char* h = data_.data() + pos_;
      const uint32_t masked = GetFixed32(h);
      const int64_t len = static_cast<int64_t>(static_cast<uint8_t>(h[4])) |
                          (static_cast<int64_t>(static_cast<uint8_t>(h[5])) << 8);
      const uint8_t type = static_cast<uint8_t>(h[6]);
      if (masked == 0 && len == 0 && type == 0) {
        // Zeros from an unaligned offset to the next 4 KiB boundary (or the end) are what a
        // direct-I/O writer pads its last block with (docs/wal.md, "Direct I/O"): not damage.
        const int64_t pad_end = std::min((pos_ / kPadAlign + 1) * kPadAlign, size);
        if (pos_ % kPadAlign != 0 && AllZero(pos_, pad_end)) {
          if (pos_ == good_end_ && !in_record_ && reasons_.empty()) padded_end_ = pad_end;
          pos_ = pad_end;
          continue;
        }
        Note("zero-filled block");
        DropPartial();
        pos_ = block_end;
        continue;
      }
      if (kHeaderSize + len > left_in_block) {
        Note("record length runs past its block");
        DropPartial();
        pos_ = block_end;
        continue;
      }
      if (pos_ + kHeaderSize + len > size) {
        Note("truncated record");
        pos_ = size;
        break;
      }
      const char* frag = h + kHeaderSize;
      uint32_t crc = Crc32cExtend(0, h + 6, 1);
      crc = Crc32cExtend(crc, frag, static_cast<size_t>(len));
      if (UnmaskCrc(masked) != crc) {
        Note("checksum mismatch");
        DropPartial();
        pos_ = block_end;  // the length is not covered by the CRC: resync at the next block
        continue;
      }
      const int64_t header_pos = pos_;
      pos_ += kHeaderSize + len;
      const std::string_view fragment(frag, static_cast<size_t>(len));
      switch (static_cast<RecordType>(type)) {
        case RecordType::kFull:
          if (in_record_) {
            Note("incomplete record (no LAST fragment)");
            DropPartial();
          }
          OTLAKE_RETURN_NOT_OK(on_record(header_pos, pos_, fragment));
          if (stopped_) return Status::OK();
          good_end_ = pos_;
          break;
        case RecordType::kFirst:
          if (in_record_) {
            Note("incomplete record (no LAST fragment)");
            DropPartial();
          }
          in_record_ = true;
          record_start_ = header_pos;
          assembled_.assign(fragment);
          break;
        case RecordType::kMiddle:
          if (!in_record_) {
            Note("MIDDLE fragment without FIRST");
          } else {
            assembled_.append(fragment);
          }
          break;
        case RecordType::kLast:
          if (!in_record_) {
            Note("LAST fragment without FIRST");
          } else {
            assembled_.append(fragment);
            in_record_ = false;
            OTLAKE_RETURN_NOT_OK(on_record(record_start_, pos_, assembled_));
            if (stopped_) return Status::OK();
            good_end_ = pos_;
          }
          break;
        default:
          Note("unknown record type " + std::to_string(type));
          DropPartial();
          break;
      }
    }
    if (in_record_) Note("incomplete record at end of file");
    return Status::OK();
  }

  bool AllZero(int64_t from, int64_t to) const {
    for (int64_t i = from; i < to; ++i) {
      if (data_[static_cast<size_t>(i)] != 0) return false;
    }
    return true;
  }

  // Called by on_record: the record just passed is not part of this segment (a recycled
  // segment's old bytes) and neither is anything after it; Scan returns.
  void Stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }
  // Offset just past the last good record; everything after it is damaged, torn or stale.
  int64_t good_end() const { return good_end_; }
  // Where the zero padding that directly follows the last good record ends (0: none).
  int64_t padded_end() const { return padded_end_; }
  // Reasons noted since the last good record; cleared by TakeReasons.
  std::string TakeReasons() {
    std::string out;
    for (size_t i = 0; i < reasons_.size(); ++i) {
      if (i > 0) out += ", ";
      out += reasons_[i];
    }
    if (dropped_reasons_ > 0) out += " (+" + std::to_string(dropped_reasons_) + " more)";
    reasons_.clear();
    dropped_reasons_ = 0;
    return out.empty() ? "unreadable bytes" : out;
  }

 private:
  void Note(std::string reason) {
    if (reasons_.size() < 3) {
      reasons_.push_back(std::move(reason));
    } else {
      ++dropped_reasons_;
    }
  }
  void DropPartial() {
    in_record_ = false;
    assembled_.clear();
  }

  std::string_view data_;
  int64_t pos_ = 0;
  int64_t good_end_ = 0;
  int64_t padded_end_ = 0;
  bool in_record_ = false;
  bool stopped_ = false;
  int64_t record_start_ = 0;
  std::string assembled_;
  std::vector<std::string> reasons_;
  int dropped_reasons_ = 0;
};

class Recovery {
 public:
  Recovery(const RecoverOptions& opts, const RecordFn& fn) : opts_(opts), fn_(fn) {}

  Result<RecoveryStats> Run() {
    Env* env = opts_.env != nullptr ? opts_.env : Env::Default();
    auto listed = env->ListDir(opts_.dir);
    if (!listed.ok()) {
      OTLAKE_RETURN_NOT_OK(env->CreateDir(opts_.dir));
      listed = env->ListDir(opts_.dir);
    }
    OTLAKE_ASSIGN_OR_RAISE(auto names, std::move(listed));
    std::map<int64_t, std::string> segments;
    for (const std::string& name : names) {
      if (auto first = ParseSegmentFileName(name)) {
        segments.emplace(*first, name);
      } else if (name.starts_with("wal-")) {
        Problem("ignoring unexpected file " + name);
      }
    }
    for (auto it = segments.begin(); it != segments.end(); ++it) {
      auto next = std::next(it);
      const bool last = next == segments.end();
      if (!last && next->first <= opts_.from_lsn) continue;  // wholly below from_lsn
      if (expect_ == 0) expect_ = it->first;
      const std::string path = JoinPath(opts_.dir, it->second);
      OTLAKE_ASSIGN_OR_RAISE(std::string data, env->ReadFile(path));
      ++stats_.segments;
      current_ = it->second;
      SegmentScanner scanner(data);
      const int64_t segment_first = it->first;
      OTLAKE_RETURN_NOT_OK(scanner.Scan([&](int64_t start, int64_t end, std::string_view rec) {
        if (IsStale(rec, segment_first)) {
          scanner.Stop();  // the old contents of a recycled segment begin here
          return Status::OK();
        }
        if (start > scanner.good_end()) {
          Corrupt(scanner.good_end(), start - scanner.good_end(), scanner.TakeReasons());
        } else {
          (void)scanner.TakeReasons();
        }
        (void)end;
        return OnRecord(rec);
      }));
      const int64_t size = static_cast<int64_t>(data.size());
      const int64_t good_end = scanner.good_end();
      if (scanner.stopped()) {
        // Whatever lies between the last record and the old bytes is at most an unsynced,
        // unacknowledged append (everything before a sync is in place); a missing record at the
        // end of a non-last segment still shows as the LSN gap to the next segment.
        (void)scanner.TakeReasons();
        stats_.stale_tail_bytes += size - good_end;
        if (last && opts_.repair) OTLAKE_RETURN_NOT_OK(env->Truncate(path, good_end));
      } else if (good_end < size && scanner.padded_end() == size) {
        stats_.padding_bytes += size - good_end;  // a direct-I/O file that was not closed
      } else if (good_end < size) {
        const std::string reasons = scanner.TakeReasons();
        if (last) {
          stats_.truncated_tail_bytes += size - good_end;
          Problem("torn tail of " + current_ + ": " + std::to_string(size - good_end) +
                  " bytes at offset " + std::to_string(good_end) + " (" + reasons + ")" +
                  (opts_.repair ? ", truncated" : ""));
          if (opts_.repair) OTLAKE_RETURN_NOT_OK(env->Truncate(path, good_end));
        } else {
          Corrupt(good_end, size - good_end, reasons);
        }
      }
      if (!last && expect_ != 0 && next->first > expect_) {
        // The next segment's name is its first LSN, so this one should end just before it.
        stats_.corrupt_records += next->first - expect_;
        Problem(current_ + ": LSNs " + std::to_string(expect_) + ".." +
                std::to_string(next->first - 1) + " missing");
        expect_ = next->first;
      }
    }
    int64_t next = std::max<int64_t>(stats_.last_lsn + 1, 1);
    if (!segments.empty()) next = std::max(next, segments.rbegin()->first);
    stats_.next_lsn = next;
    return std::move(stats_);
  }

 private:
  // A well-formed record whose LSN is below its segment's number cannot have been written to
  // that segment: it is what a recycled segment file held before (docs/wal.md, "Recycling").
  static bool IsStale(std::string_view rec, int64_t segment_first) {
    if (rec.size() < static_cast<size_t>(kRecordHeaderSize)) return false;
    const uint64_t lsn = GetFixed64(rec.data());
    return lsn != 0 && lsn < static_cast<uint64_t>(segment_first);
  }

  Status OnRecord(std::string_view rec) {
    if (rec.size() < static_cast<size_t>(kRecordHeaderSize)) {
      ++stats_.corrupt_records;
      Problem(current_ + ": record shorter than its header, skipped");
      return Status::OK();
    }
    const uint64_t raw_lsn = GetFixed64(rec.data());
    const uint8_t flags = static_cast<uint8_t>(rec[8]);
    if (raw_lsn == 0 || raw_lsn > static_cast<uint64_t>(kMaxLsn)) {
      ++stats_.corrupt_records;
      Problem(current_ + ": record with invalid LSN " + std::to_string(raw_lsn) + ", skipped");
      return Status::OK();
    }
    const int64_t lsn = static_cast<int64_t>(raw_lsn);
    if (stats_.last_lsn != 0 && lsn <= stats_.last_lsn) {
      ++stats_.corrupt_records;
      Problem(current_ + ": LSN " + std::to_string(lsn) + " after " +
              std::to_string(stats_.last_lsn) + " (duplicate or out of order), skipped");
      return Status::OK();
    }
    if (lsn > expect_) {
      stats_.corrupt_records += lsn - expect_;
      Problem(current_ + ": LSNs " + std::to_string(expect_) + ".." + std::to_string(lsn - 1) +
              " missing");
    }
    expect_ = lsn + 1;
    stats_.last_lsn = lsn;  // the LSN is consumed even if the payload turns out bad
    if ((flags & ~kKnownFlags) != 0) {
      ++stats_.corrupt_records;
      Problem(current_ + ": LSN " + std::to_string(lsn) + " has unknown flags, skipped");
      return Status::OK();
    }
    std::string_view payload = rec.substr(kRecordHeaderSize);
    if (lsn >= opts_.from_lsn) {
      if ((flags & kFlagZstd) != 0) {
        Status st = ZstdDecompress(payload, opts_.max_payload_bytes, &scratch_);
        if (!st.ok()) {
          ++stats_.corrupt_records;
          Problem(current_ + ": LSN " + std::to_string(lsn) + ": " + st.message() + ", skipped");
          return Status::OK();
        }
        payload = scratch_;
      } else if (static_cast<int64_t>(payload.size()) > opts_.max_payload_bytes) {
        ++stats_.corrupt_records;
        Problem(current_ + ": LSN " + std::to_string(lsn) + " exceeds max_payload_bytes, skipped");
        return Status::OK();
      }
    }
    ++stats_.records;
    if (stats_.first_lsn == 0) stats_.first_lsn = lsn;
    if (lsn < opts_.from_lsn) return Status::OK();
    ++stats_.delivered;
    return fn_(lsn, payload);
  }

  void Corrupt(int64_t offset, int64_t bytes, const std::string& reasons) {
    stats_.corrupt_bytes += bytes;
    Problem("CORRUPTION in " + current_ + ": " + std::to_string(bytes) +
            " bytes skipped at offset " + std::to_string(offset) + " (" + reasons + ")");
  }

  void Problem(std::string line) {
    if (stats_.problems.size() < opts_.max_problems) {
      stats_.problems.push_back(std::move(line));
    } else if (stats_.problems.size() == opts_.max_problems) {
      stats_.problems.push_back("... more problems not listed");
    }
  }

  const RecoverOptions& opts_;
  const RecordFn& fn_;
  RecoveryStats stats_;
  int64_t expect_ = 0;  // the LSN the next valid record should have
  std::string current_;
  std::string scratch_;
};

}  // namespace

Result<RecoveryStats> Recover(const RecoverOptions& opts, const RecordFn& fn) {
  return Recovery(opts, fn).Run();
}

Result<RecoveryStats> Recover(const std::string& dir, Env* env, int64_t from_lsn, bool repair,
                              const RecordFn& fn) {
  RecoverOptions opts;
  opts.dir = dir;
  opts.env = env;
  opts.from_lsn = from_lsn;
  opts.repair = repair;
  return Recover(opts, fn);
}

}  // namespace otlake::wal
