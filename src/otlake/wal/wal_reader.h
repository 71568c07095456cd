// WAL recovery: reads every segment in LSN order and hands each valid record to a callback.
//
// Contract (docs/wal.md, "Recovery"):
// - Records come out in strictly increasing LSN order, each exactly as appended (decompressed),
//   never a garbled one: every fragment is CRC32C-checked and the logical header is validated.
// - A damaged tail of the LAST segment — what a crash in the middle of an append leaves: a torn
//   header or fragment, a checksum mismatch, zeros, an incomplete multi-fragment record, with no
//   valid record after it — is expected. It is counted in truncated_tail_bytes and, when
//   `repair` is true, cut off the file on disk (durably) so the next writer starts clean.
// - Damage anywhere else (a bad record followed by valid ones, any segment but the last) is
//   corruption: it is reported in `problems`, counted (corrupt_records from the LSN gap it leaves,
//   corrupt_bytes), skipped (resynchronising at the next block), and never aborts recovery.
//   Duplicate or out-of-order LSNs are reported and skipped.
// - A record whose LSN is below its segment's number ends the segment: it and everything after
//   it are the old contents of a recycled segment file (stale_tail_bytes), not corruption.
// - Zeros from the end of a record to the next 4 KiB boundary are a direct-I/O writer's padding
//   and are skipped; at the end of a segment they are counted in padding_bytes, not damage.
// - Segments whose records all lie below from_lsn (the next segment starts at or below from_lsn)
//   are not read at all.
// - Never crashes or allocates beyond the input size and max_payload_bytes, whatever the bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/wal/env.h"
#include "otlake/wal/log_format.h"

namespace otlake::wal {

struct RecoveryStats {
  int64_t records = 0;            ///< valid records read (including those below from_lsn)
  int64_t delivered = 0;          ///< records passed to the callback (LSN >= from_lsn)
  int64_t corrupt_records = 0;    ///< records lost or skipped: LSN gaps, duplicates, bad headers
  int64_t corrupt_bytes = 0;      ///< bytes skipped in the middle of the log
  int64_t truncated_tail_bytes = 0;  ///< torn tail of the last segment
  /// Recycled segments: the bytes after the last record that the file held before its reuse
  /// (from the end of the last record, where a record with an LSN below the segment's number
  /// starts the old contents). Not damage; left on disk, nothing is reported.
  int64_t stale_tail_bytes = 0;
  /// Zeros after the last record up to the next 4 KiB boundary, at the end of a segment: the
  /// padding of a direct-I/O writer that did not close the file (a crash). Not damage.
  int64_t padding_bytes = 0;
  int64_t segments = 0;           ///< segment files read
  int64_t first_lsn = 0;          ///< first valid LSN read (0: none)
  int64_t last_lsn = 0;           ///< last valid LSN read (0: none)
  /// The LSN the writer must continue at: max(last_lsn + 1, the newest segment's first LSN, 1).
  int64_t next_lsn = 1;
  std::vector<std::string> problems;  ///< one line per corruption or oddity (capped)
};

/// fn(lsn, payload): a non-OK Status aborts recovery and is returned.
using RecordFn = std::function<Status(int64_t lsn, std::string_view payload)>;

struct RecoverOptions {
  std::string dir;
  Env* env = nullptr;  ///< nullptr: Env::Default()
  int64_t from_lsn = 1;
  bool repair = false;  ///< truncate the torn tail of the last segment on disk
  int64_t max_payload_bytes = kMaxPayloadBytes;  ///< larger decompressed records are corrupt
  size_t max_problems = 100;
};

/// Recovers the WAL in `opts.dir` (a missing directory is created: an empty log).
Result<RecoveryStats> Recover(const RecoverOptions& opts, const RecordFn& fn);

/// Same, with the default limits.
Result<RecoveryStats> Recover(const std::string& dir, Env* env, int64_t from_lsn, bool repair,
                              const RecordFn& fn);

}  // namespace otlake::wal
