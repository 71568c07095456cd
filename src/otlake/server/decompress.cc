#include "otlake/server/decompress.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace otlake::server {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status TooLarge(int64_t max_output) {
  return Status::CapacityError("decompressed body exceeds the limit of ", max_output, " bytes");
}

// Grows `out` (by doubling) up to max_output + 1 bytes; `used` bytes are filled.
// Returns false when the output is already past the limit.
bool Grow(std::string* out, size_t used, int64_t max_output) {
  if (used < out->size()) return true;
  if (static_cast<int64_t>(out->size()) > max_output) return false;
  out->resize(std::min<size_t>(std::max<size_t>(out->size() * 2, 4096), max_output + 1));
  return true;
}

size_t InitialSize(std::string_view input, int64_t max_output) {
  return std::min<size_t>(std::max<size_t>(input.size() * 4, 4096), max_output + 1);
}

// window_bits: 16+15 gzip, 15 zlib, -15 raw deflate.
Status Inflate(std::string_view input, int window_bits, const char* name, int64_t max_output,
               std::string* out) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return Status::OutOfMemory("inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  zs.avail_in = static_cast<uInt>(input.size());
  out->assign(InitialSize(input, max_output), '\0');
  size_t used = 0;
  for (;;) {
    if (!Grow(out, used, max_output)) return TooLarge(max_output);
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + used);
    zs.avail_out = static_cast<uInt>(out->size() - used);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    used = out->size() - zs.avail_out;
    if (static_cast<int64_t>(used) > max_output) return TooLarge(max_output);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in > 0 && window_bits > 16) {  // concatenated gzip members
        if (inflateReset(&zs) != Z_OK) return Status::Invalid("invalid ", name, " data");
        continue;
      }
      if (zs.avail_in > 0) return Status::Invalid("invalid ", name, " data: trailing bytes");
      out->resize(used);
      return Status::OK();
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && zs.avail_out > 0) {
      return Status::Invalid("invalid ", name, " data: truncated stream");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Status::Invalid("invalid ", name, " data: ", zs.msg ? zs.msg : "corrupt stream");
    }
  }
}

Status Unzstd(std::string_view input, int64_t max_output, std::string* out) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return Status::OutOfMemory("ZSTD_createDCtx failed");
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, 27);  // bound decoder memory (128 MiB)
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  out->assign(InitialSize(input, max_output), '\0');
  size_t used = 0;
  size_t pending = 1;  // ZSTD_decompressStream's hint; 0 once a frame is complete
  while (in.pos < in.size || pending != 0) {
    if (!Grow(out, used, max_output)) return TooLarge(max_output);
    ZSTD_outBuffer ob{out->data(), out->size(), used};
    const size_t in_before = in.pos;
    pending = ZSTD_decompressStream(ctx.get(), &ob, &in);
    if (ZSTD_isError(pending)) {
      return Status::Invalid("invalid zstd data: ", ZSTD_getErrorName(pending));
    }
    const bool progress = ob.pos != used || in.pos != in_before;
    used = ob.pos;
    if (static_cast<int64_t>(used) > max_output) return TooLarge(max_output);
    if (!progress && in.pos == in.size && used < out->size()) {
      return Status::Invalid("invalid zstd data: truncated frame");
    }
  }
  out->resize(used);
  return Status::OK();
}

}  // namespace

Status Decompress(std::string_view encoding, std::string_view input, int64_t max_output,
                  std::string* output) {
  encoding = Trim(encoding);
  if (encoding.empty() || IEquals(encoding, "identity")) {
    if (static_cast<int64_t>(input.size()) > max_output) return TooLarge(max_output);
    output->assign(input.data(), input.size());
    return Status::OK();
  }
  if (IEquals(encoding, "gzip") || IEquals(encoding, "x-gzip")) {
    return Inflate(input, 16 + 15, "gzip", max_output, output);
  }
  if (IEquals(encoding, "deflate")) {
    // HTTP "deflate" means zlib-wrapped, but many clients send raw deflate: accept both.
    if (input.size() >= 2 && (static_cast<unsigned char>(input[0]) & 0x0f) == 8 &&
        ((static_cast<unsigned char>(input[0]) << 8) | static_cast<unsigned char>(input[1])) % 31 == 0) {
      return Inflate(input, 15, "deflate", max_output, output);
    }
    return Inflate(input, -15, "deflate", max_output, output);
  }
  if (IEquals(encoding, "zstd")) return Unzstd(input, max_output, output);
  return Status::NotImplemented("unsupported Content-Encoding '", std::string(encoding),
                                "' (supported: gzip, deflate, zstd, identity)");
}

}  // namespace otlake::server
