// Durable local-file primitives for the Delta writer: every byte a commit depends on is fsync'd
// before the name that publishes it appears, and a published name is never replaced.
//
// Contract:
//  - WriteFileDurable writes a new file (fails if it exists), fsyncs it, and closes it.
//  - PublishNoReplace makes `tmp` visible under `target` with put-if-absent semantics (link(2));
//    if `target` exists it returns Status::AlreadyExists and leaves `target` untouched. It then
//    fsyncs the directory and removes `tmp`.
//  - RenameDurable replaces `target` atomically (rename(2)) and fsyncs the directory: only for
//    files that may legitimately be rewritten (_last_checkpoint, checkpoints, data files whose
//    names are unique).
// Errors are Status::IOError naming the path and errno text. No Arrow dependency.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/common/status.h"

namespace otlake::lake {

/// Creates `path` (must not exist), writes `data`, fsyncs and closes it.
Status WriteFileDurable(const std::string& path, std::string_view data);

/// Fsyncs the directory `dir` so that entries created or renamed in it survive a crash.
Status FsyncDir(const std::string& dir);

/// Fsyncs the already-written file at `path`.
Status FsyncFile(const std::string& path);

/// Links `tmp` to `target` unless `target` exists (then Status::AlreadyExists), fsyncs the
/// directory of `target`, and unlinks `tmp` in every case.
Status PublishNoReplace(const std::string& tmp, const std::string& target);

/// Renames `from` over `to` and fsyncs the directory of `to`.
Status RenameDurable(const std::string& from, const std::string& to);

/// Reads the whole file. Status::IOError if absent; `*missing` (if given) tells absence apart.
Result<std::string> ReadWholeFile(const std::string& path, bool* missing = nullptr);

/// Names of the entries of `dir` (not "." and ".."), unsorted.
Result<std::vector<std::string>> ListDir(const std::string& dir);

/// Creates `dir` and its missing parents (like mkdir -p), fsyncing each parent it changed.
Status MakeDirs(const std::string& dir);

/// Removes `path` if it exists; errors other than ENOENT are returned.
Status RemoveIfExists(const std::string& path);

/// A random RFC 4122 version-4 UUID in canonical lowercase form.
std::string NewUuid();

/// Milliseconds since the Unix epoch from the real clock.
int64_t WallClockMs();

}  // namespace otlake::lake
