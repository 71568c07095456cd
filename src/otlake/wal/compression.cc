#include "otlake/wal/compression.h"

#include <zstd.h>

#include <memory>

namespace otlake::wal {
namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

}  // namespace

Status ZstdCompressAppend(std::string_view data, int level, std::string* out) {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  if (!ctx) return Status::OutOfMemory("ZSTD_createCCtx");
  const size_t old = out->size();
  out->resize(old + ZSTD_compressBound(data.size()));
  const size_t n =
      ZSTD_compressCCtx(ctx.get(), out->data() + old, out->size() - old, data.data(), data.size(),
                        level);
  if (ZSTD_isError(n)) {
    out->resize(old);
    return Status::UnknownError("zstd compress: ", ZSTD_getErrorName(n));
  }
  out->resize(old + n);
  return Status::OK();
}

Status ZstdDecompress(std::string_view frame, int64_t max_bytes, std::string* out) {
  const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return Status::Invalid("zstd frame without a valid content size");
  }
  if (size > static_cast<unsigned long long>(max_bytes)) {
    return Status::Invalid("zstd frame declares ", size, " bytes, more than ", max_bytes);
  }
  const size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size) || frame_size != frame.size()) {
    return Status::Invalid("payload is not exactly one zstd frame");
  }
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  if (!ctx) return Status::OutOfMemory("ZSTD_createDCtx");
  out->resize(static_cast<size_t>(size));
  const size_t n = ZSTD_decompressDCtx(ctx.get(), out->data(), out->size(), frame.data(),
                                       frame.size());
  if (ZSTD_isError(n) || n != size) {
    out->clear();
    return Status::Invalid("zstd decompress: ",
                           ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size mismatch");
  }
  return Status::OK();
}

}  // namespace otlake::wal
