// Pieces of DeltaTableWriter shared by delta_table.cc (appends), compact.cc (rewrites) and seal.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "otlake/common/status.h"

namespace otlake::lake {

/// Writes `lines` as commit `version` of the log in `log_dir` atomically (temp file, fsync,
/// link(2)); Status::AlreadyExists if the version is taken.
Status PublishCommit(const std::string& log_dir, int64_t version,
                     const std::vector<std::string>& lines);

/// A new data file name: part-<seq>-<uuid>.zstd.parquet, or part-<seq>-<uuid>.sealed.zstd.parquet
/// for a file written by Seal (which then leaves it alone when run again).
std::string DataFileName(int64_t seq, bool sealed = false);

/// True for a name DataFileName(…, sealed=true) made.
bool IsSealedFileName(const std::string& path);

/// The uncompressed size of the Parquet file at `path` (its row groups' total_byte_size), read
/// from its footer alone: what compaction and seal bound before reading a file whole.
Result<int64_t> UncompressedBytes(const std::string& path);

}  // namespace otlake::lake
