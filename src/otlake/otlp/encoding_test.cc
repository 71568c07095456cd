// UTF-8 validation, hex and base64.
#include <gtest/gtest.h>

#include <string>

#include "otlake/otlp/encoding.h"
#include "otlake/otlp/utf8.h"

namespace otlake::otlp {
namespace {

TEST(Utf8, AcceptsWellFormed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, long enough to use the 8-byte fast path"));
  EXPECT_TRUE(IsValidUtf8(std::string("nul\0inside", 10)));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9"));              // é
  EXPECT_TRUE(IsValidUtf8("\xE2\x82\xAC euro"));         // €
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80 emoji"));    // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xEF\xBF\xBF"));              // U+FFFF
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));          // U+10FFFF
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));              // U+D7FF, just below surrogates
  EXPECT_TRUE(IsValidUtf8("abcdefgh\xC3\xA9" "abcdefgh\xC3\xA9"));
}

TEST(Utf8, RejectsIllFormed) {
  EXPECT_FALSE(IsValidUtf8("\x80"));                 // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));             // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));             // overlong
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));         // overlong 3-byte
  EXPECT_FALSE(IsValidUtf8("\xF0\x80\x80\xAF"));     // overlong 4-byte
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));         // U+D800 surrogate
  EXPECT_FALSE(IsValidUtf8("\xED\xBF\xBF"));         // U+DFFF surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));     // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("caf\xC3"));              // truncated at the end
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
  EXPECT_FALSE(IsValidUtf8("abcdefghijklmnop\xC3("));  // bad continuation after fast path
}

TEST(Utf8, EveryLengthAndPositionAgreesWithTheScalarCheck) {
  // The ASCII fast path (word loads, overlapping at the end) against the sequence-by-sequence
  // check: one non-ASCII byte (valid two-byte sequence, lone continuation, truncated lead) at
  // every position of strings of every length up to 80.
  for (size_t n = 0; n <= 80; ++n) {
    const std::string ascii(n, 'a');
    EXPECT_TRUE(IsValidUtf8(ascii)) << n;
    EXPECT_TRUE(IsAscii(reinterpret_cast<const unsigned char*>(ascii.data()), n)) << n;
    for (size_t at = 0; at < n; ++at) {
      std::string lone = ascii, lead = ascii, pair = ascii;
      lone[at] = '\x80';
      lead[at] = '\xC3';
      EXPECT_FALSE(IsValidUtf8(lone)) << n << " " << at;
      EXPECT_FALSE(IsAscii(reinterpret_cast<const unsigned char*>(lone.data()), n)) << n << " " << at;
      EXPECT_EQ(IsValidUtf8(lead), Utf8ValidPrefix(lead) == n) << n << " " << at;
      EXPECT_FALSE(IsValidUtf8(lead)) << n << " " << at;  // followed by 'a' or the end
      if (at + 1 < n) {
        pair[at] = '\xC3';
        pair[at + 1] = '\xA9';
        EXPECT_TRUE(IsValidUtf8(pair)) << n << " " << at;
      }
    }
  }
}

TEST(Hex, EncodesLowercaseAndDecodesEitherCase) {
  std::string out;
  AppendHex(&out, std::string("\x00\x01\xAB\xFF", 4));
  EXPECT_EQ(out, "0001abff");
  uint8_t buf[16];
  size_t n = 0;
  ASSERT_TRUE(DecodeHex("0001ABff", buf, sizeof(buf), &n));
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(buf[2], 0xAB);
  EXPECT_FALSE(DecodeHex("abc", buf, sizeof(buf), &n));   // odd
  EXPECT_FALSE(DecodeHex("zz", buf, sizeof(buf), &n));    // not hex
  EXPECT_FALSE(DecodeHex(std::string(34, 'a'), buf, sizeof(buf), &n));  // too long for buf
}

TEST(Hex, EveryByteAtEveryLengthMatchesTheTable) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (int i = 0; i < 37; ++i) bytes.push_back(static_cast<char>(i * 97 + 13));
  for (size_t start = 0; start < bytes.size(); start += 5) {
    for (size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 24, 33}) {
      if (start + len > bytes.size()) continue;
      const std::string in = bytes.substr(start, len);
      std::string want = "x";
      for (unsigned char c : in) {
        want.push_back("0123456789abcdef"[c >> 4]);
        want.push_back("0123456789abcdef"[c & 15]);
      }
      std::string got = "x";
      AppendHex(&got, in);
      ASSERT_EQ(got, want) << start << " " << len;
    }
  }
}

TEST(Base64, StandardPaddedEncoding) {
  std::string out;
  AppendBase64(&out, "");
  EXPECT_EQ(out, "");
  out.clear();
  AppendBase64(&out, "f");
  EXPECT_EQ(out, "Zg==");
  out.clear();
  AppendBase64(&out, "fo");
  EXPECT_EQ(out, "Zm8=");
  out.clear();
  AppendBase64(&out, "foobar");
  EXPECT_EQ(out, "Zm9vYmFy");
  out.clear();
  AppendBase64(&out, std::string("\xFB\xFF\xBF", 3));
  EXPECT_EQ(out, "+/+/");
}

TEST(Base64, DecodesStandardUrlSafePaddedOrNot) {
  for (const char* in : {"Zm9vYg==", "Zm9vYg"}) {
    std::string out;
    EXPECT_TRUE(DecodeBase64(in, &out)) << in;
    EXPECT_EQ(out, "foob") << in;
  }
  std::string a, b;
  EXPECT_TRUE(DecodeBase64("+/+/", &a));
  EXPECT_TRUE(DecodeBase64("-_-_", &b));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, std::string("\xFB\xFF\xBF", 3));
  EXPECT_EQ(Base64DecodedSize("AAAAAAAAAAAAAAAAAAAAAA=="), 16);
  EXPECT_EQ(Base64DecodedSize("AAAAAAAAAAAAAAAAAAAAAA"), 16);
  EXPECT_EQ(Base64DecodedSize("AAAAAAAAAAA="), 8);
  EXPECT_EQ(Base64DecodedSize("AAAAA"), -1);
}

TEST(Base64, RejectsMalformed) {
  std::string out;
  EXPECT_FALSE(DecodeBase64("Zm9v!", &out));
  EXPECT_FALSE(DecodeBase64("Z", &out));        // 4n+1 length
  EXPECT_FALSE(DecodeBase64("Zg===", &out));    // too much padding
  EXPECT_FALSE(DecodeBase64("Z=g=", &out));     // padding inside
  EXPECT_FALSE(DecodeBase64("Zm9vY===", &out));
  EXPECT_FALSE(DecodeBase64("Zg=", &out));      // partial padding
  EXPECT_FALSE(DecodeBase64("Zm9vYg=", &out));
  uint8_t buf[2];
  size_t n = 0;
  EXPECT_FALSE(DecodeBase64("Zm9v", buf, sizeof(buf), &n));  // does not fit
}

}  // namespace
}  // namespace otlake::otlp
