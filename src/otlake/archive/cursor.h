// The archive writer's durable state: how far the WAL is archived, the batch being uploaded
// (its intent, so a retry after a crash rebuilds exactly the same objects under the same keys),
// the gaps it gave up on, and totals. One small JSON file (<instance>/archive/state.json)
// replaced atomically (common/file_util.h WriteFileAtomic: write, fsync, rename, fsync dir).
//
// Contract: SaveArchiveState then LoadArchiveState returns what was saved; a missing file is
// NotFound (a fresh archive); a file that is not a valid state is Invalid naming the file.
// Pure I/O of that file; no threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "otlake/common/status.h"

namespace otlake::archive {

/// WAL records the archive will never write (the backlog limit was passed, or the WAL no longer
/// held them). A gap that directly follows the previous one for the same reason extends it.
struct ArchiveGap {
  int64_t from_lsn = 0;  ///< inclusive
  int64_t to_lsn = 0;    ///< inclusive
  int64_t recorded_unix_ms = 0;
  int64_t first_arrival_unix_ms = 0;  ///< arrival time of the records at the gap's ends (0: unknown)
  int64_t last_arrival_unix_ms = 0;
  std::string reason;
};

/// A batch cut from the WAL and being uploaded: every object of it is written under a key made
/// from these three values, so writing it again overwrites the same objects.
struct PendingBatch {
  int64_t first_lsn = 0;
  int64_t last_lsn = 0;
  int64_t time_unix_ms = 0;  ///< the partition and UUIDv7 time of its objects
};

struct ArchiveState {
  uint64_t salt = 0;           ///< per instance, random at creation: keys of two instances differ
  int64_t archived_lsn = 0;    ///< every WAL record <= this is archived (or in a gap)
  std::optional<PendingBatch> pending;
  std::vector<ArchiveGap> gaps;  ///< newest last; at most kMaxGaps kept (older ones counted)
  int64_t gaps_dropped = 0;
  int64_t objects = 0, requests = 0, bytes = 0;  ///< totals written (objects, WAL records, object bytes)
};

inline constexpr size_t kMaxGaps = 100;

/// The state file of an archive directory.
std::string ArchiveStatePath(const std::string& archive_dir);

Result<ArchiveState> LoadArchiveState(const std::string& path);
Status SaveArchiveState(const std::string& path, const ArchiveState& state);

/// The state as JSON (what the file holds; /healthz shows parts of it).
std::string ArchiveStateJson(const ArchiveState& state);

}  // namespace otlake::archive
