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

  const std::string dir_;
  int64_t seg_first_ = 0;  // current segment's first LSN (0: none)
  int64_t pos_ = 0;        // byte offset of the next physical record in it
  int64_t next_lsn_ = 0;   // the LSN expected next
  int64_t bytes_read_ = 0;
  std::string buf_, assembled_, payload_;
};

}  // namespace otlake::wal
