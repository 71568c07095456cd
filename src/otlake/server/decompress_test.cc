#include "otlake/server/decompress.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

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

}  // namespace
}  // namespace otlake::server
