#include "otlake/wal/tail_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
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

TailReader::ScanResult TailReader::ScanChunk(const std::string& path, const char* buf, int64_t got, int64_t from_lsn,
                                             int64_t to_lsn, const RecordFn& fn) {
  auto fail = [this](std::string what) -> Status {
    Reset();
    return Status::IOError("WAL tail: ", what);
  };
  // Physical records from pos_ (= buf[0]); `consumed` ends the last complete logical record.
  Scan scan;
  int64_t p = 0;
  bool in_record = false;
  while (next_lsn_ <= to_lsn) {
    const int64_t left_in_block = kBlockSize - (pos_ + p) % kBlockSize;
    if (left_in_block < kHeaderSize) {
      if (p + left_in_block > got) return scan.Ends(ScanEnd::kBuffer);
      p += left_in_block;
      if (!in_record) scan.consumed = p;
      continue;
    }
    if (got - p < kHeaderSize) return scan.Ends(ScanEnd::kBuffer);
    const char* h = buf + p;
    const uint32_t masked = GetFixed32(h);
    const int64_t len = static_cast<int64_t>(static_cast<uint8_t>(h[4])) |
                        (static_cast<int64_t>(static_cast<uint8_t>(h[5])) << 8);
    const uint8_t type = static_cast<uint8_t>(h[6]);
    if (masked == 0 && len == 0 && type == 0) return scan.Ends(ScanEnd::kData);  // padding or not written yet
    if (kHeaderSize + len > left_in_block) return fail("bad fragment length in " + path);
    if (got - p < kHeaderSize + len) return scan.Ends(ScanEnd::kBuffer);
    uint32_t crc = Crc32cExtend(0, h + 6, 1);
    crc = Crc32cExtend(crc, h + kHeaderSize, static_cast<size_t>(len));
    // Being written, a recycled file's old bytes, or damage.
    if (UnmaskCrc(masked) != crc) return scan.Ends(ScanEnd::kData);
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
    // A recycled file's old record: the segment ends before it.
    if (lsn < seg_first_) return scan.Ends(ScanEnd::kData);
    if (lsn != next_lsn_ && (lsn < next_lsn_ || next_lsn_ >= from_lsn)) {
      return fail("expected LSN " + std::to_string(next_lsn_) + ", found " + std::to_string(lsn) + " in " + path);
    }
    if ((flags & ~kKnownFlags) != 0) return fail("unknown record flags in " + path);
    next_lsn_ = lsn + 1;
    scan.consumed = p;
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
  return scan.Ends(ScanEnd::kDone);
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
    const std::string path = SegmentPath(dir_, seg_first_);
    // Direct I/O where the file system allows it: the writer's O_DIRECT appends left nothing in
    // the page cache, so a buffered read would fill pages only to copy them once.
    bool direct = direct_;
    int fd = direct ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT) : -1;
    if (fd < 0) {
      direct = false;
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) return fail("cannot open " + path);
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};
    // The segment from pos_ a chunk at a time, until the records written so far end: a recycled
    // segment is as long as it was before, and its old bytes past them are not read. The bytes
    // of a record that goes on past a chunk stay in the buffer and the next chunk is read after
    // them; each read starts on a page of the file and of the buffer (direct I/O needs both).
    int64_t lead = 0;  // where the bytes at pos_ sit in the buffer
    int64_t have = 0;  // bytes from pos_ already in the buffer
    bool data_ends = false;
    while (next_lsn_ <= to_lsn && !data_ends) {
      int64_t read_off, read_at;
      if (have == 0) {
        read_off = pos_ / kPadAlign * kPadAlign;
        lead = pos_ - read_off;
        read_at = 0;
      } else {
        read_off = pos_ + have;  // the end of the last read: on a page
        read_at = lead + have;   // on a page by the choice of lead below
      }
      const int64_t want = kReadChunkBytes;
      if (buf_cap_ < read_at + want) {
        const int64_t cap = std::max(read_at + want, 2 * buf_cap_);
        void* p = nullptr;
        if (::posix_memalign(&p, kPadAlign, static_cast<size_t>(cap)) != 0) return fail("out of memory");
        if (have > 0) std::memcpy(static_cast<char*>(p) + lead, buf_.get() + lead, static_cast<size_t>(have));
        buf_.reset(static_cast<char*>(p));
        buf_cap_ = cap;
      }
      int64_t got = 0;
      while (got < want) {
        const ssize_t n = ::pread(fd, buf_.get() + read_at + got, static_cast<size_t>(want - got), read_off + got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && direct && errno == EINVAL) {
          // O_DIRECT accepted at open but not for reads here: through the page cache from now on.
          direct = direct_ = false;
          ::close(closer.fd);
          closer.fd = fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
          if (fd < 0) return fail("cannot open " + path);
          continue;
        }
        if (n < 0) return fail("cannot read " + path + ": " + std::strerror(errno));
        if (n == 0) break;
        got += n;
      }
      bytes_read_ += got;
      const int64_t avail = read_at + got - lead;  // bytes from pos_ in the buffer
      if (avail < 0) return fail("segment " + path + " is shorter than the position read before");
      OTLAKE_ASSIGN_OR_RAISE(const Scan scan, ScanChunk(path, buf_.get() + lead, avail, from_lsn, to_lsn, fn));
      pos_ += scan.consumed;
      if (scan.end != ScanEnd::kBuffer || got < want) {
        data_ends = scan.end != ScanEnd::kDone;  // records, or the file, end here
        continue;
      }
      // Keep the unscanned bytes, placed so that they end on a page of the buffer.
      have = avail - scan.consumed;
      if (have > kMaxPayloadBytes + kMaxPayloadBytes / 8) return fail("a record longer than the limit in " + path);
      const int64_t new_lead = (kPadAlign - have % kPadAlign) % kPadAlign;
      if (have > 0) std::memmove(buf_.get() + new_lead, buf_.get() + lead + scan.consumed, static_cast<size_t>(have));
      lead = new_lead;
    }
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
