// zstd for WAL payloads (internal to the wal module).
//
// Contract: ZstdCompressAppend appends one zstd frame that declares its content size;
// ZstdDecompress accepts exactly one such frame whose declared size is <= max_bytes and never
// allocates more than that, whatever the input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "otlake/common/status.h"

namespace otlake::wal {

/// Appends the zstd frame of `data` to `out` (a per-thread context is reused).
Status ZstdCompressAppend(std::string_view data, int level, std::string* out);

/// Decompresses one frame into `out`. Invalid when damaged, oversized or not exactly one frame.
Status ZstdDecompress(std::string_view frame, int64_t max_bytes, std::string* out);

}  // namespace otlake::wal
