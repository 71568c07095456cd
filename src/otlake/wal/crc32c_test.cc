#include "otlake/wal/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>
#include <string>

namespace otlake::wal {
namespace {

// RFC 3720 (iSCSI) appendix B.4 vectors, plus the classic check value.
TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string up(32, '\0'), down(32, '\0');
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<char>(i);
    down[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(down), 0x113FDB5Cu);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(Crc32c, PortableAndHardwareAgreeAtEveryLengthAndAlignment) {
  std::mt19937 rng(42);
  std::string data(4096 + 16, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t align = 0; align < 8; ++align) {
    for (size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 100, 1000, 4096}) {
      const char* p = data.data() + align;
      ASSERT_EQ(Crc32cExtend(0, p, n), Crc32cExtendPortable(0, p, n)) << align << " " << n;
    }
  }
  std::printf("crc32c hardware path: %s\n", Crc32cIsHardware() ? "SSE4.2" : "no (table)");
}

// Lengths around the three-stripe chunks of the hardware path (3 x 1024 bytes), several chunks,
// any alignment, and a non-zero starting CRC.
TEST(Crc32c, PortableAndHardwareAgreeAcrossInterleavedChunks) {
  std::mt19937 rng(7);
  std::string data(40000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  std::vector<size_t> lengths = {3071, 3072, 3073, 3079, 3080, 6143, 6144, 6145, 9216, 32768, 39990};
  for (int i = 0; i < 200; ++i) lengths.push_back(rng() % 39990);
  for (size_t n : lengths) {
    const size_t align = rng() % 8;
    const uint32_t start = (n % 3 == 0) ? 0 : static_cast<uint32_t>(rng());
    const char* p = data.data() + align;
    ASSERT_EQ(Crc32cExtend(start, p, n), Crc32cExtendPortable(start, p, n)) << align << " " << n;
  }
}

TEST(Crc32c, ExtendComposes) {
  const std::string a = "hello ", b = "world";
  EXPECT_EQ(Crc32cExtend(Crc32c(a), b.data(), b.size()), Crc32c(a + b));
  EXPECT_EQ(Crc32cExtendPortable(Crc32cExtendPortable(0, a.data(), a.size()), b.data(), b.size()),
            Crc32c(a + b));
}

TEST(Crc32c, MaskRoundTripsAndChangesTheValue) {
  for (uint32_t crc : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu}) {
    EXPECT_NE(MaskCrc(crc), crc);
    EXPECT_NE(MaskCrc(MaskCrc(crc)), MaskCrc(crc));
    EXPECT_EQ(UnmaskCrc(MaskCrc(crc)), crc);
  }
}

}  // namespace
}  // namespace otlake::wal
