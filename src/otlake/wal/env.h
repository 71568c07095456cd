// Env: the filesystem as the WAL sees it, injected so tests can fail I/O and simulate power cuts.
//
// Contract: every call returns Status (IOError with the path and errno text; NotFound-like cases
// are IOError too). A WritableFile is used by one thread at a time. Sync() makes the file's data
// (and its size) durable — fdatasync on POSIX; it does NOT make the file's directory entry
// durable: a new file needs SyncDir(dir) before its data can be trusted to survive a power cut.
// Implementations: PosixEnv (Env::Default()), MemEnv (mem_env.h) and FaultInjectionEnv
// (fault_injection_env.h), all run through the same conformance test (env_test.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/common/status.h"

namespace otlake::wal {

/// An open file that is written sequentially.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  /// Writes `data` at the current position — the end of the file, except in a file opened by
  /// ReuseWritableFile, which is overwritten from offset 0 — and advances it (may leave a prefix
  /// written on error).
  virtual Status Append(std::string_view data) = 0;
  /// Makes everything appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  /// Closes the file; further calls fail. The destructor closes too, ignoring errors.
  virtual Status Close() = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  /// Returns the process-wide POSIX Env (never deleted).
  static Env* Default();
  /// The POSIX Env whose NewWritableFile and ReuseWritableFile open files with O_DIRECT (where
  /// the file system supports it; buffered elsewhere): appends bypass the page cache, and a file
  /// holds zero padding up to the next 4 KiB boundary past its last append until it is closed.
  static Env* DirectIo();

  /// Creates `path`, truncating it if it exists.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  /// Opens `path` for appending, creating it if missing.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  /// Renames `from` to `to` (replacing `to`) and opens it for writing from offset 0 WITHOUT
  /// truncating it: writes overwrite the old bytes in place and extend the file past its old end;
  /// bytes beyond the last write keep their old contents. This recycles a WAL segment, whose
  /// blocks are then already allocated and its pages already in the page cache. The rename is
  /// durable after SyncDir.
  virtual Result<std::unique_ptr<WritableFile>> ReuseWritableFile(const std::string& from,
                                                                  const std::string& to) = 0;
  /// Renames `from` to `to`, replacing `to`. Durable after SyncDir.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  /// Reads the whole file.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  /// Returns the names (not paths) of the entries of `dir`, in no particular order.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  /// Creates `dir` and its missing parents.
  virtual Status CreateDir(const std::string& dir) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;
  virtual Result<int64_t> FileSize(const std::string& path) = 0;
  /// Shrinks (or extends with zeros) `path` to `size` bytes and makes the new size durable.
  virtual Status Truncate(const std::string& path, int64_t size) = 0;
  /// Makes creations, deletions and renames inside `dir` durable (fsync of the directory).
  virtual Status SyncDir(const std::string& dir) = 0;
};

/// Returns `dir + "/" + name`.
std::string JoinPath(const std::string& dir, const std::string& name);

/// Returns the directory part of `path` ("." when there is none).
std::string DirName(const std::string& path);

}  // namespace otlake::wal
