// Small POSIX file helpers with durable semantics, returning Status (errno text in the message).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "otlake/common/status.h"

namespace otlake {

/// Creates `path` and its missing parents (like mkdir -p).
Status MakeDirs(const std::string& path);

/// Reads a whole file.
Result<std::string> ReadFile(const std::string& path);

/// Replaces `path` atomically: writes `<path>.tmp.<pid>`, fsyncs it, renames it over `path`, and
/// fsyncs the directory. Readers see the old or the new content, never a mix.
Status WriteFileAtomic(const std::string& path, std::string_view content);

/// Appends one line (a '\n' is added) to `path` with O_APPEND, then fdatasyncs.
Status AppendLine(const std::string& path, std::string_view line);

/// fsyncs a directory so renames and creations inside it are durable.
Status SyncDir(const std::string& dir);

bool PathExists(const std::string& path);

/// An exclusive advisory lock (flock) on a file, held until destroyed; the file is created if
/// missing. Acquire fails with Status::AlreadyExists when another process holds it and !wait.
class FileLock {
 public:
  static Result<std::unique_ptr<FileLock>> Acquire(const std::string& path, bool wait);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace otlake
