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

Status OverBudget() {
  return Status::OutOfMemory("the memory budget is full (decompressing the body); retry later");
}

// The output buffer, its size reserved against an optional memory budget.
class Output {
 public:
  Output(std::string* out, int64_t max_output, MemoryReservation* memory)
      : out_(out), max_output_(max_output), memory_(memory) {}
  ~Output() {
    if (memory_ != nullptr) memory_->Release(reserved_ - static_cast<int64_t>(out_->capacity()));
  }
  // Sizes the buffer to `n` bytes (reserving the growth); false if the budget refuses.
  bool Resize(size_t n) {
    const int64_t more = static_cast<int64_t>(n) - reserved_;
    if (more > 0 && memory_ != nullptr) {
      if (!memory_->Grow(more)) return false;
      reserved_ += more;
    }
    out_->resize(n);
    return true;
  }
  // Grows (by doubling) up to max_output + 1 bytes when `used` bytes are filled. kTooLarge when
  // already past the limit, kOverBudget when the budget refuses.
  enum Grow { kOk, kTooLarge, kOverBudget };
  Grow GrowFor(size_t used) {
    if (used < out_->size()) return kOk;
    if (static_cast<int64_t>(out_->size()) > max_output_) return kTooLarge;
    const size_t n = std::min<size_t>(std::max<size_t>(out_->size() * 2, 4096), max_output_ + 1);
    return Resize(n) ? kOk : kOverBudget;
  }
  // Cuts the buffer to `used` bytes (and frees the slack, releasing its reservation).
  void Finish(size_t used) {
    out_->resize(used);
    if (out_->capacity() > used + used / 8 + 4096) out_->shrink_to_fit();
  }
  std::string* str() { return out_; }

 private:
  std::string* out_;
  int64_t max_output_;
  MemoryReservation* memory_;  // not owned; may be null
  int64_t reserved_ = 0;       // bytes reserved for out_ so far
};

Status GrowStatus(Output::Grow g, int64_t max_output) {
  return g == Output::kTooLarge ? TooLarge(max_output) : OverBudget();
}

size_t InitialSize(std::string_view input, int64_t max_output) {
  return std::min<size_t>(std::max<size_t>(input.size() * 4, 4096), max_output + 1);
}

// The size a stream's own header or trailer announces is believed up to this many times the
// compressed size (OTLP compresses ~10x): a lying 20-byte body cannot reserve a large part of
// the memory budget before a byte is decoded.
constexpr size_t kMaxAnnouncedRatio = 64;

// True if a body of `input` announcing `announced` decompressed bytes may be given a buffer of
// that size: within the limit and the believable ratio.
bool Believable(std::string_view input, int64_t max_output, uint64_t announced) {
  return announced > 0 && announced <= static_cast<uint64_t>(max_output) &&
         announced / kMaxAnnouncedRatio <= std::max<size_t>(input.size(), 64);
}

// A single-member gzip stream's ISIZE trailer (the size modulo 2^32), or 0.
uint64_t GzipAnnouncedSize(std::string_view input) {
  if (input.size() < 18) return 0;
  const auto* t = reinterpret_cast<const unsigned char*>(input.data() + input.size() - 4);
  return static_cast<uint64_t>(t[0]) | static_cast<uint64_t>(t[1]) << 8 |
         static_cast<uint64_t>(t[2]) << 16 | static_cast<uint64_t>(t[3]) << 24;
}

// window_bits: 16+15 gzip, 15 zlib, -15 raw deflate.
Status Inflate(std::string_view input, int window_bits, const char* name, int64_t max_output,
               Output& output) {
  std::string* out = output.str();
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return Status::OutOfMemory("inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  zs.avail_in = static_cast<uInt>(input.size());
  out->clear();
  // Sized by the trailer when it is believable, plus one byte so that a stream of exactly that
  // size ends without the buffer growing; a wrong one (several members, a lie) only means the
  // buffer grows or is trimmed as before.
  const uint64_t announced = window_bits > 16 ? GzipAnnouncedSize(input) : 0;
  const size_t first = Believable(input, max_output, announced) ? static_cast<size_t>(announced)
                                                                : InitialSize(input, max_output);
  if (!output.Resize(first + 1)) return OverBudget();
  size_t used = 0;
  for (;;) {
    if (auto g = output.GrowFor(used); g != Output::kOk) return GrowStatus(g, max_output);
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
      output.Finish(used);
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

Status Unzstd(std::string_view input, int64_t max_output, Output& output) {
  std::string* out = output.str();
  // A body of one frame that announces its size (what one-shot compressors write) is decoded in
  // one call straight into a buffer of exactly that size, with a context kept by the thread
  // (one-shot decoding needs no window buffer, so the context stays small). Anything else --
  // several frames, no size, a size not believed -- is streamed.
  const unsigned long long announced = ZSTD_getFrameContentSize(input.data(), input.size());
  if (announced != ZSTD_CONTENTSIZE_UNKNOWN && announced != ZSTD_CONTENTSIZE_ERROR &&
      Believable(input, max_output, announced) &&
      ZSTD_findFrameCompressedSize(input.data(), input.size()) == input.size()) {
    thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> once(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!once) return Status::OutOfMemory("ZSTD_createDCtx failed");
    out->clear();
    if (!output.Resize(static_cast<size_t>(announced))) return OverBudget();
    const size_t n = ZSTD_decompressDCtx(once.get(), out->data(), out->size(), input.data(), input.size());
    if (ZSTD_isError(n)) return Status::Invalid("invalid zstd data: ", ZSTD_getErrorName(n));
    if (n != announced) return Status::Invalid("invalid zstd data: frame content size mismatch");
    output.Finish(n);
    return Status::OK();
  }
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return Status::OutOfMemory("ZSTD_createDCtx failed");
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, 27);  // bound decoder memory (128 MiB)
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  out->clear();
  if (!output.Resize(InitialSize(input, max_output))) return OverBudget();
  size_t used = 0;
  size_t pending = 1;  // ZSTD_decompressStream's hint; 0 once a frame is complete
  while (in.pos < in.size || pending != 0) {
    if (auto g = output.GrowFor(used); g != Output::kOk) return GrowStatus(g, max_output);
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
  output.Finish(used);
  return Status::OK();
}

}  // namespace

bool IsIdentityEncoding(std::string_view encoding) {
  encoding = Trim(encoding);
  return encoding.empty() || IEquals(encoding, "identity");
}

Status Decompress(std::string_view encoding, std::string_view input, int64_t max_output,
                  std::string* output, MemoryReservation* memory) {
  encoding = Trim(encoding);
  Output out(output, max_output, memory);
  if (IsIdentityEncoding(encoding)) {
    if (static_cast<int64_t>(input.size()) > max_output) return TooLarge(max_output);
    output->clear();
    if (!out.Resize(input.size())) return OverBudget();
    if (!input.empty()) output->replace(0, input.size(), input.data(), input.size());
    return Status::OK();
  }
  if (IEquals(encoding, "gzip") || IEquals(encoding, "x-gzip")) {
    return Inflate(input, 16 + 15, "gzip", max_output, out);
  }
  if (IEquals(encoding, "deflate")) {
    // HTTP "deflate" means zlib-wrapped, but many clients send raw deflate: accept both.
    if (input.size() >= 2 && (static_cast<unsigned char>(input[0]) & 0x0f) == 8 &&
        ((static_cast<unsigned char>(input[0]) << 8) | static_cast<unsigned char>(input[1])) % 31 == 0) {
      return Inflate(input, 15, "deflate", max_output, out);
    }
    return Inflate(input, -15, "deflate", max_output, out);
  }
  if (IEquals(encoding, "zstd")) return Unzstd(input, max_output, out);
  return Status::NotImplemented("unsupported Content-Encoding '", std::string(encoding),
                                "' (supported: gzip, deflate, zstd, identity)");
}

Result<std::string> GzipCompress(std::string_view input) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::OutOfMemory("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, input.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  zs.avail_in = static_cast<uInt>(input.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status::UnknownError("gzip failed");
  return out;
}

}  // namespace otlake::server
