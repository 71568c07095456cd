// TailReader: reads the records of a LIVE write-ahead log in LSN order, continuing where its
// last call stopped instead of reading segments again from their start (wal::Recover reads a
// whole segment per call). The archive writer (archive/writer.h) follows the log with it.
//
// Contract:
// - Read(from, to, fn) calls fn(lsn, payload) for each record with from <= lsn <= to, in order,
//   and returns OK once `to` was delivered or the log holds nothing more yet. Only records the
//   writer has made durable may be asked for (to <= WalWriter::durable_lsn()): bytes past them
//   may be half written.
// - A call whose `from` is one past the last LSN delivered continues at the remembered byte
//   position; any other `from` finds its segment again (segment names are first LSNs) and skips
//   the records before it.
// - It reads only well-formed input: anything unexpected before `to` (a checksum mismatch, a
//   broken fragment sequence, an LSN gap, a missing segment) is Status::IOError and resets the
//   position; the caller falls back to wal::Recover, which reports and skips damage.
// - Not thread-safe (one reader, one thread); it never writes.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "otlake/common/status.h"
#include "otlake/wal/wal_reader.h"

namespace otlake::wal {

class TailReader {
 public:
  explicit TailReader(std::string dir) : dir_(std::move(dir)) {}

  Status Read(int64_t from_lsn, int64_t to_lsn, const RecordFn& fn);
  /// Forgets the position (the next Read finds its segment again).
  void Reset() { seg_first_ = 0; }
  /// Bytes read from segment files so far (for tests and benchmarks).
  int64_t bytes_read() const { return bytes_read_; }

 private:
  // Opens the segment holding `lsn` (the newest whose first LSN <= lsn); false if none.
  Result<bool> Seek(int64_t lsn);
  // The first LSN of the segment after the current one, or 0 if there is none yet.
  int64_t NextSegment() const;

  // Bytes read per pread of a segment (a multiple of kBlockSize).
  static constexpr int64_t kReadChunkBytes = 256 << 10;
  // Why a chunk's scan stopped: `to` delivered, the chunk's bytes used up (a record may go on
  // past them), or the records written so far end (zeros, a checksum that does not match, a
  // recycled segment's older records).
  enum class ScanEnd { kDone, kBuffer, kData };
  struct Scan {
    int64_t consumed = 0;  // bytes of complete records (and block trailers) from pos_
    ScanEnd end = ScanEnd::kDone;
    Scan Ends(ScanEnd e) {
      end = e;
      return *this;
    }
  };
  using ScanResult = Result<Scan>;
  // Delivers the records of buf[0, got) (the bytes at pos_) with from <= lsn <= to; advances
  // next_lsn_, not pos_.
  ScanResult ScanChunk(const std::string& path, const char* buf, int64_t got, int64_t from_lsn, int64_t to_lsn,
                       const RecordFn& fn);

  const std::string dir_;
  int64_t seg_first_ = 0;  // current segment's first LSN (0: none)
  int64_t pos_ = 0;        // byte offset of the next physical record in it
  int64_t next_lsn_ = 0;   // the LSN expected next
  int64_t bytes_read_ = 0;
  bool direct_ = true;  // false once a file system refused a direct read
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> buf_;  // page-aligned (direct reads), buf_cap_ bytes
  int64_t buf_cap_ = 0;
  std::string assembled_, payload_;
};

}  // namespace otlake::wal
