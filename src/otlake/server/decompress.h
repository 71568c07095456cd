// Request body decompression for Content-Encoding gzip, deflate (zlib or raw) and zstd, with a
// hard cap on the decompressed size so a compression bomb costs at most `max_output` bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "otlake/common/status.h"
#include "otlake/server/memory_budget.h"

namespace otlake::server {

/// True for the Content-Encoding values "" and "identity" (case-insensitive, surrounding spaces
/// ignored): the body is its own decompressed form. Check this first and use the body as it is --
/// Decompress would only copy it.
bool IsIdentityEncoding(std::string_view encoding);

/// Decompresses `input` according to the Content-Encoding value `encoding` (case-insensitive;
/// "" and "identity" copy, see IsIdentityEncoding). Errors:
///   CapacityError  output would exceed max_output bytes        (-> 413)
///   Invalid        corrupt or truncated compressed data        (-> 400)
///   NotImplemented an encoding other than gzip/deflate/zstd     (-> 415)
///   OutOfMemory    `memory` (may be null) refused to grow        (-> 429)
/// With `memory`, every byte the output buffer grows by is reserved there first (the output is
/// grown by doubling, so up to twice the decompressed size is reserved while it runs; what is
/// left over is released at the end).
Status Decompress(std::string_view encoding, std::string_view input, int64_t max_output,
                  std::string* output, MemoryReservation* memory = nullptr);

/// `input` as one gzip member (what `Content-Encoding: gzip` and `.gz` objects hold), at zlib's
/// default level. UnknownError only if zlib fails.
Result<std::string> GzipCompress(std::string_view input);

}  // namespace otlake::server
