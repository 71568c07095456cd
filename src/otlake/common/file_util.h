// Small POSIX file helpers with durable semantics, returning Status (errno text in the message).
#pragma once

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

}  // namespace otlake
