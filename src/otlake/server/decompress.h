// Request body decompression for Content-Encoding gzip, deflate (zlib or raw) and zstd, with a
// hard cap on the decompressed size so a compression bomb costs at most `max_output` bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "otlake/common/status.h"

namespace otlake::server {

/// Decompresses `input` according to the Content-Encoding value `encoding` (case-insensitive;
/// "" and "identity" copy). Errors:
///   CapacityError  output would exceed max_output bytes        (-> 413)
///   Invalid        corrupt or truncated compressed data        (-> 400)
///   NotImplemented an encoding other than gzip/deflate/zstd     (-> 415)
Status Decompress(std::string_view encoding, std::string_view input, int64_t max_output,
                  std::string* output);

}  // namespace otlake::server
