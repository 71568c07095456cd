#include "otlake/archive/marshal.h"

#include <arrow/buffer.h>
#include <arrow/filesystem/filesystem.h>
#include <arrow/io/interfaces.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>

#include "otlake/otlp/decode.h"
#include "otlake/otlp/json_to_proto.h"

namespace otlake::archive {
namespace {

static_assert(static_cast<int>(Signal::kTraces) == static_cast<int>(otlp::Signal::kTraces) &&
              static_cast<int>(Signal::kLogs) == static_cast<int>(otlp::Signal::kLogs) &&
              static_cast<int>(Signal::kMetrics) == static_cast<int>(otlp::Signal::kMetrics));

// Room for one compressed object (its worst-case size) per thread, kept between objects and
// never zero-filled: compressed output is a fraction of the bound, so a fresh zero-filled bound
// per object would touch (fault in and clear) pages the compressor never writes. The result is
// copied out at its real size.
char* CompressScratch(size_t bound) {
  thread_local std::unique_ptr<char[]> buf;
  thread_local size_t cap = 0;
  if (cap < bound) {
    buf.reset(new char[bound]);  // default-initialised: not zeroed
    cap = bound;
  }
  return buf.get();
}

Result<std::string> Gzip(std::string_view input, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level > 0 ? level : kDefaultGzipLevel, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::OutOfMemory("deflateInit2 failed");
  }
  const size_t bound = deflateBound(&zs, input.size());
  char* out = CompressScratch(bound);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  zs.avail_in = static_cast<uInt>(input.size());
  zs.next_out = reinterpret_cast<Bytef*>(out);
  zs.avail_out = static_cast<uInt>(bound);
  const int rc = deflate(&zs, Z_FINISH);
  const size_t n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status::UnknownError("gzip failed");
  return std::string(out, n);
}

Result<std::string> Zstd(std::string_view input, int level) {
  const size_t bound = ZSTD_compressBound(input.size());
  char* out = CompressScratch(bound);
  // One context per thread: the archive writer compresses on one thread, and a context keeps
  // its tables between objects.
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!ctx) return Status::OutOfMemory("ZSTD_createCCtx failed");
  const size_t n = ZSTD_compressCCtx(ctx.get(), out, bound, input.data(), input.size(),
                                     level > 0 ? level : kDefaultZstdLevel);
  if (ZSTD_isError(n)) return Status::UnknownError("zstd failed: ", ZSTD_getErrorName(n));
  return std::string(out, n);
}

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

Result<std::string> CompressObject(std::string_view input, Compression compression, int level) {
  switch (compression) {
    case Compression::kGzip: return Gzip(input, level);
    case Compression::kZstd: return Zstd(input, level);
    case Compression::kNone: break;
  }
  return std::string(input);
}

Result<std::string_view> MarshalObject(Signal signal, std::string_view proto_requests,
                                       Marshaler marshaler, Compression compression, int level,
                                       std::string* storage) {
  if (marshaler == Marshaler::kOtlpJson) {
    OTLAKE_ASSIGN_OR_RAISE(*storage,
                           otlp::OtlpProtobufToJson(static_cast<otlp::Signal>(signal), proto_requests));
    if (compression != Compression::kNone) {
      OTLAKE_ASSIGN_OR_RAISE(*storage, CompressObject(*storage, compression, level));
    }
    return std::string_view(*storage);
  }
  if (marshaler != Marshaler::kOtlpProto) {
    return Status::Invalid("marshaler: ", MarshalerName(marshaler), " is not written by the archive");
  }
  if (compression == Compression::kNone) return proto_requests;  // the requests are the object
  OTLAKE_ASSIGN_OR_RAISE(*storage, CompressObject(proto_requests, compression, level));
  return std::string_view(*storage);
}

Status PutObject(arrow::fs::FileSystem& fs, const std::string& path,
                 const std::shared_ptr<const arrow::KeyValueMetadata>& metadata, std::string_view body,
                 bool create_dirs) {
  if (create_dirs) OTLAKE_RETURN_NOT_OK(fs.CreateDir(path.substr(0, path.rfind('/')), /*recursive=*/true));
  OTLAKE_ASSIGN_OR_RAISE(auto out, fs.OpenOutputStream(path, metadata));
  // The stream keeps the buffer until Close, and `body` outlives Close.
  Status st = out->Write(std::make_shared<arrow::Buffer>(reinterpret_cast<const uint8_t*>(body.data()),
                                                         static_cast<int64_t>(body.size())));
  Status closed = out->Close();
  return st.ok() ? closed : st;
}

std::string_view ContentEncoding(Compression compression) {
  switch (compression) {
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
    case Compression::kNone: break;
  }
  return "";
}

std::string ArchiveUuidV7(int64_t unix_ms, uint64_t salt, Signal signal, int64_t first_lsn,
                          int64_t last_lsn) {
  const uint64_t h1 = Mix(salt ^ Mix(static_cast<uint64_t>(first_lsn) * 4 + static_cast<uint64_t>(signal)));
  const uint64_t h2 = Mix(h1 ^ Mix(static_cast<uint64_t>(last_lsn)));
  uint8_t b[16];
  const uint64_t ms = static_cast<uint64_t>(unix_ms) & 0xFFFFFFFFFFFFull;
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  b[6] = static_cast<uint8_t>(0x70 | ((h1 >> 8) & 0x0F));
  b[7] = static_cast<uint8_t>(h1);
  b[8] = static_cast<uint8_t>(0x80 | ((h2 >> 56) & 0x3F));
  for (int i = 9; i < 16; ++i) b[i] = static_cast<uint8_t>(h2 >> (8 * (15 - i)));
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
  return out;
}

}  // namespace otlake::archive
