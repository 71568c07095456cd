// MemEnv: an Env whose files live in memory — for fuzzing and fast tests.
//
// Contract: same behaviour as PosixEnv for everything the WAL uses (see env.h); Sync and SyncDir
// are no-ops that succeed. Thread-safe. Paths are plain strings: "d/x" is in directory "d".
#pragma once

#include <memory>

#include "otlake/wal/env.h"

namespace otlake::wal {

/// Returns a new, empty in-memory Env.
std::unique_ptr<Env> NewMemEnv();

}  // namespace otlake::wal
