#include "otlake/wal/tail_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "otlake/wal/compression.h"
#include "otlake/wal/crc32c.h"
#include "otlake/wal/log_format.h"

namespace otlake::wal {
namespace {

std::string SegmentPath(const std::string& dir, int64_t first) { return dir + "/" + SegmentFileName(first); }

}  // namespace

int64_t TailReader::NextSegment() const {
  int64_t best = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    auto lsn = ParseSegmentFileName(e.path().filename().string());
    if (lsn && *lsn > seg_first_ && (best == 0 || *lsn < best)) best = *lsn;
  }
  return best;
}

Result<bool> TailReader::Seek(int64_t lsn) {
  int64_t best = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    auto first = ParseSegmentFileName(e.path().filename().string());
    if (first && *first <= lsn && *first > best) best = *first;
  }
  if (ec) return Status::IOError("cannot list ", dir_, ": ", ec.message());
  if (best == 0) return false;
  seg_first_ = best;
  pos_ = 0;
  next_lsn_ = best;
  return true;
}

Status TailReader::Read(int64_t from_lsn, int64_t to_lsn, const RecordFn& fn) {
  if (to_lsn < from_lsn) return Status::OK();
  if (seg_first_ == 0 || from_lsn != next_lsn_) {
    OTLAKE_ASSIGN_OR_RAISE(bool found, Seek(from_lsn));
    if (!found) return Status::IOError("no WAL segment holds LSN ", from_lsn);
  }
  auto fail = [this](std::string what) {
    Reset();
    return Status::IOError("WAL tail: ", what);
  };
  while (next_lsn_ <= to_lsn) {
    // Everything the current segment holds past pos_.
    const std::string path = SegmentPath(dir_, seg_first_);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail("cannot open " + path);
    struct stat st;
    int64_t size = ::fstat(fd, &st) == 0 ? st.st_size : 0;
    buf_.resize(static_cast<size_t>(std::max<int64_t>(0, size - pos_)));
    int64_t got = 0;
    while (got < static_cast<int64_t>(buf_.size())) {
      const ssize_t n = ::pread(fd, buf_.data() + got, buf_.size() - got, pos_ + got);
      if (n <= 0) break;
      got += n;
    }
    ::close(fd);
    buf_.resize(static_cast<size_t>(got));
    bytes_read_ += got;
    // Scan physical records from pos_ (= buf_[0]); `consumed` ends the last complete record.
    int64_t p = 0, consumed = 0;
    bool in_record = false;
    while (next_lsn_ <= to_lsn) {
      const int64_t left_in_block = kBlockSize - (pos_ + p) % kBlockSize;
      if (left_in_block < kHeaderSize) {
        if (p + left_in_block > got) break;
        p += left_in_block;
        if (!in_record) consumed = p;
        continue;
      }
      if (got - p < kHeaderSize) break;  // not written yet
      const char* h = buf_.data() + p;
      const uint32_t masked = GetFixed32(h);
      const int64_t len = static_cast<int64_t>(static_cast<uint8_t>(h[4])) |
                          (static_cast<int64_t>(static_cast<uint8_t>(h[5])) << 8);
      const uint8_t type = static_cast<uint8_t>(h[6]);
      if (masked == 0 && len == 0 && type == 0) break;  // padding or not written yet
      if (kHeaderSize + len > left_in_block) return fail("bad fragment length in " + path);
      if (got - p < kHeaderSize + len) break;
      uint32_t crc = Crc32cExtend(0, h + 6, 1);
      crc = Crc32cExtend(crc, h + kHeaderSize, static_cast<size_t>(len));
      if (UnmaskCrc(masked) != crc) break;  // being written, a recycled file's old bytes, or damage
      const std::string_view frag(h + kHeaderSize, static_cast<size_t>(len));
      p += kHeaderSize + len;
      std::string_view logical;
      switch (static_cast<RecordType>(type)) {
        case RecordType::kFull:
          if (in_record) return fail("FULL inside a record in " + path);
          logical = frag;
          break;
        case RecordType::kFirst:
          if (in_record) return fail("FIRST inside a record in " + path);
          in_record = true;
          assembled_.assign(frag);
          break;
        case RecordType::kMiddle:
        case RecordType::kLast:
          if (!in_record) return fail("fragment without FIRST in " + path);
          assembled_.append(frag);
          if (static_cast<RecordType>(type) == RecordType::kLast) {
            in_record = false;
            logical = assembled_;
          }
          break;
        default:
          return fail("unknown fragment type in " + path);
      }
      if (logical.data() == nullptr) continue;  // inside a multi-fragment record
      if (logical.size() < static_cast<size_t>(kRecordHeaderSize)) return fail("short record in " + path);
      const int64_t lsn = static_cast<int64_t>(GetFixed64(logical.data()));
      const uint8_t flags = static_cast<uint8_t>(logical[8]);
      if (lsn < seg_first_) break;  // a recycled file's old record: the segment ends before it
      if (lsn != next_lsn_ && (lsn < next_lsn_ || next_lsn_ >= from_lsn)) {
        return fail("expected LSN " + std::to_string(next_lsn_) + ", found " + std::to_string(lsn) + " in " + path);
      }
      if ((flags & ~kKnownFlags) != 0) return fail("unknown record flags in " + path);
      next_lsn_ = lsn + 1;
      consumed = p;
      if (lsn < from_lsn) continue;
      std::string_view payload = logical.substr(kRecordHeaderSize);
      if (flags & kFlagZstd) {
        OTLAKE_RETURN_NOT_OK(ZstdDecompress(payload, kMaxPayloadBytes, &payload_));
        payload = payload_;
      }
      if (Status st = fn(lsn, payload); !st.ok()) {
        Reset();  // the position of this chunk is not kept: the next Read seeks again
        return st;
      }
    }
    pos_ += consumed;
    if (next_lsn_ > to_lsn) break;
    // Out of data here: the next segment, if it starts right where this one ends.
    const int64_t next = NextSegment();
    if (next == 0) break;  // the active segment: the rest is not written yet
    if (next != next_lsn_) return fail("segment " + std::to_string(next) + " does not follow LSN " + std::to_string(next_lsn_ - 1));
    seg_first_ = next;
    pos_ = 0;
  }
  return Status::OK();
}

}  // namespace otlake::wal
