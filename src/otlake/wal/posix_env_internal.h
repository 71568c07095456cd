// Test seam of posix_env.cc: the direct-I/O file over a caller's descriptor and write function.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "otlake/wal/env.h"

namespace otlake::wal::internal {

using PwriteFn = ssize_t (*)(int fd, const void* buf, size_t n, off_t offset);

/// The WritableFile that Env::DirectIo() returns, over `fd` (opened with O_DIRECT; the file owns
/// it), writing with `pwrite` (tests make it fail).
std::unique_ptr<WritableFile> NewDirectWritableFile(int fd, std::string path, PwriteFn pwrite);

}  // namespace otlake::wal::internal
