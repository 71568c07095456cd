#include "otlake/server/decompress.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace otlake::server {
namespace {

std::string Gzip(const std::string& in, int window_bits = 16 + 15) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = in.size();
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = out.size();
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

TEST(Decompress, RoundTripsEveryEncoding) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += "span-" + std::to_string(i % 97);
  std::string out;
  ASSERT_TRUE(Decompress("gzip", Gzip(data), 1 << 30, &out).ok());
  EXPECT_EQ(out, data);
  ASSERT_TRUE(Decompress("GZIP", Gzip(data), 1 << 30, &out).ok());
  EXPECT_EQ(out, data);
  ASSERT_TRUE(Decompress("deflate", Gzip(data, 15), 1 << 30, &out).ok());
  EXPECT_EQ(out, data);
  ASSERT_TRUE(Decompress("deflate", Gzip(data, -15), 1 << 30, &out).ok());
  EXPECT_EQ(out, data);
  ASSERT_TRUE(Decompress("zstd", Zstd(data), 1 << 30, &out).ok());
  EXPECT_EQ(out, data);
  ASSERT_TRUE(Decompress("", data, 1 << 30, &out).ok());
  EXPECT_EQ(out, data);
  ASSERT_TRUE(Decompress("gzip", Gzip(""), 10, &out).ok());
  EXPECT_EQ(out, "");
}

TEST(Decompress, IdentityEncodingsAreRecognised) {
  for (const char* e : {"", "identity", "Identity", " IDENTITY\t", "  "}) {
    EXPECT_TRUE(IsIdentityEncoding(e)) << "'" << e << "'";
  }
  for (const char* e : {"gzip", "identity, gzip", "ident", "zstd"}) {
    EXPECT_FALSE(IsIdentityEncoding(e)) << "'" << e << "'";
  }
}

TEST(Decompress, BombsStopAtTheLimit) {
  const std::string zeros(64 << 20, '\0');  // 64 MiB of zeros: ~64 KiB gzip, ~2 KiB zstd
  std::string out;
  Status st = Decompress("gzip", Gzip(zeros), 1 << 20, &out);
  EXPECT_TRUE(st.IsCapacityError()) << st.ToString();
  EXPECT_LE(out.size(), (2u << 20));
  st = Decompress("zstd", Zstd(zeros), 1 << 20, &out);
  EXPECT_TRUE(st.IsCapacityError()) << st.ToString();
  st = Decompress("identity", std::string(11, 'x'), 10, &out);
  EXPECT_TRUE(st.IsCapacityError());
  // Exactly at the limit is fine.
  EXPECT_TRUE(Decompress("gzip", Gzip(std::string(1000, 'a')), 1000, &out).ok());
}

TEST(Decompress, CorruptTruncatedAndUnknown) {
  std::string out;
  const std::string gz = Gzip(std::string(10000, 'q') + "tail");
  EXPECT_TRUE(Decompress("gzip", "not gzip at all", 1 << 20, &out).IsInvalid());
  EXPECT_TRUE(Decompress("gzip", gz.substr(0, gz.size() / 2), 1 << 20, &out).IsInvalid());
  EXPECT_TRUE(Decompress("gzip", "", 1 << 20, &out).IsInvalid());
  const std::string zs = Zstd(std::string(10000, 'q') + "tail");
  EXPECT_TRUE(Decompress("zstd", zs.substr(0, zs.size() - 3), 1 << 20, &out).IsInvalid());
  EXPECT_TRUE(Decompress("zstd", "garbage!", 1 << 20, &out).IsInvalid());
  EXPECT_TRUE(Decompress("br", "x", 1 << 20, &out).IsNotImplemented());
}

// A zstd frame of `in` (ZSTD_compress: one frame with its content size) whose announced size
// is replaced by `announce` (2-byte size field: 256..65791 bytes).
std::string ZstdAnnouncing(const std::string& in, size_t announce) {
  std::string f = Zstd(in);
  const auto fhd = static_cast<unsigned char>(f[4]);
  EXPECT_EQ(fhd >> 6, 1) << "a 2-byte content size field";
  const size_t at = 5 + (((fhd >> 5) & 1) ? 0 : 1) + (fhd & 3 ? (1u << ((fhd & 3) - 1)) : 0);
  f[at] = static_cast<char>((announce - 256) & 0xff);
  f[at + 1] = static_cast<char>((announce - 256) >> 8);
  return f;
}

TEST(Decompress, AnnouncedSizesAreHintsNotTrusted) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>('a' + (i * 7) % 26);
  std::string out;
  // One frame announcing its size (decoded in one call) and a frame without one (streamed).
  ASSERT_TRUE(Decompress("zstd", ZstdAnnouncing(data, data.size()), 1 << 20, &out).ok());
  EXPECT_EQ(out, data);
  {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
    std::string f(ZSTD_compressBound(data.size()), '\0');
    f.resize(ZSTD_compress2(c, f.data(), f.size(), data.data(), data.size()));
    ZSTD_freeCCtx(c);
    EXPECT_EQ(ZSTD_getFrameContentSize(f.data(), f.size()), ZSTD_CONTENTSIZE_UNKNOWN);
    ASSERT_TRUE(Decompress("zstd", f, 1 << 20, &out).ok());
    EXPECT_EQ(out, data);
  }
  // A size that lies, either way: refused as invalid data, never a short or padded body.
  EXPECT_TRUE(Decompress("zstd", ZstdAnnouncing(data, 900), 1 << 20, &out).IsInvalid());
  EXPECT_TRUE(Decompress("zstd", ZstdAnnouncing(data, 1100), 1 << 20, &out).IsInvalid());
  // Two frames: the first one's size is not the body's; streamed, both decoded.
  ASSERT_TRUE(Decompress("zstd", Zstd(data) + Zstd("tail"), 1 << 20, &out).ok());
  EXPECT_EQ(out, data + "tail");
  // Two gzip members: the trailer gives only the last one's size; the buffer grows.
  ASSERT_TRUE(Decompress("gzip", Gzip(data) + Gzip("tail"), 1 << 20, &out).ok());
  EXPECT_EQ(out, data + "tail");
  // A gzip trailer that lies about the size: zlib's length check refuses it.
  std::string gz = Gzip(data);
  gz[gz.size() - 4] = static_cast<char>(gz[gz.size() - 4] ^ 0x10);
  EXPECT_TRUE(Decompress("gzip", gz, 1 << 20, &out).IsInvalid());
  // A size past the limit is not believed: the body stops at the limit as a bomb does.
  Status big = Decompress("zstd", ZstdAnnouncing(data, data.size()), 999, &out);
  EXPECT_TRUE(big.IsCapacityError()) << big.ToString();
}

TEST(Decompress, ReservesTheOutputAgainstAMemoryBudget) {
  std::string data;
  for (int i = 0; i < 200000; ++i) data += "span-" + std::to_string(i % 97);  // ~1.2 MB
  const std::string packed[] = {Gzip(data), Zstd(data)};
  const char* names[] = {"gzip", "zstd"};
  for (int k = 0; k < 2; ++k) {
    SCOPED_TRACE(names[k]);
    {
      // Enough room: the output is reserved while the request holds it; the slack is released.
      MemoryBudget budget(8 << 20, 0, {});
      MemoryReservation r(&budget);
      std::string out;
      ASSERT_TRUE(Decompress(names[k], packed[k], 1 << 30, &out, &r).ok());
      EXPECT_EQ(out, data);
      EXPECT_GE(r.bytes(), static_cast<int64_t>(data.size()));
      EXPECT_LE(r.bytes(), static_cast<int64_t>(out.capacity()) + 4096);
      EXPECT_EQ(budget.reserved(), r.bytes());
    }
    {
      // 1 MiB budget and something else already holding 100 KiB: the output does not fit.
      MemoryBudget budget(1 << 20, 0, [] { return int64_t{100 << 10}; });
      MemoryReservation r(&budget);
      std::string out;
      Status st = Decompress(names[k], packed[k], 1 << 30, &out, &r);
      EXPECT_TRUE(st.IsOutOfMemory()) << st.ToString();
      EXPECT_EQ(budget.refusals(), 1);
      r.ReleaseAll();
      EXPECT_EQ(budget.reserved(), 0);
    }
  }
  // identity copies are reserved too
  MemoryBudget budget(1 << 20, 0, {});
  MemoryReservation r(&budget);
  std::string out;
  ASSERT_TRUE(Decompress("", std::string(1000, 'x'), 1 << 30, &out, &r).ok());
  EXPECT_EQ(r.bytes(), 1000);
  MemoryReservation r2(&budget);  // another request: 1000 + ~1.2 MB does not fit in 1 MiB
  EXPECT_TRUE(Decompress("identity", data, 1 << 30, &out, &r2).IsOutOfMemory());
  EXPECT_EQ(r2.bytes(), 0);
}

// OTLAKE_BENCH=1 otlake_server_test --gtest_filter='DecompressBench.*': CPU per MB of output for
// ~356 KB bodies (the ingest bench's request size) compressed as OTLP senders do.
TEST(DecompressBench, RequestSizedBodies) {
  const char* v = std::getenv("OTLAKE_BENCH");
  if (v == nullptr || *v == '\0' || *v == '0') GTEST_SKIP() << "set OTLAKE_BENCH=1 to run measurements";
  std::string data;
  for (int i = 0; data.size() < 356 * 1024; ++i) {
    data += "\x0a\x10service.name\x12\x0ccheckout-" + std::to_string(i % 8) + "span-" + std::to_string(i * 7919 % 100003) +
            "http.route/api/v1/items/" + std::to_string(i % 50);
  }
  const std::pair<const char*, std::string> bodies[] = {{"zstd", Zstd(data)}, {"gzip", Gzip(data)}};
  for (const auto& [name, body] : bodies) {
    std::string out;
    const int reps = 2000;
    timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    for (int i = 0; i < reps; ++i) {
      std::string fresh;  // a request's body buffer is new each time
      ASSERT_TRUE(Decompress(name, body, 1 << 30, &fresh).ok());
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    const double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
    std::printf("%s: %zu -> %zu bytes, %.1f us per body, %.0f MB/s of output per CPU-s\n", name, body.size(),
                data.size(), s * 1e6 / reps, data.size() * reps / s / 1e6);
  }
}

}  // namespace
}  // namespace otlake::server
