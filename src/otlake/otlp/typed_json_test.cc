// Typed attribute JSON: encoding rules and lossless round trips (docs/attributes-json.md).
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "otlake/otlp/typed_json.h"

namespace otlake::otlp {
namespace {

std::string Enc(const AnyValue& v) {
  std::string out;
  EncodeTypedJson(v, &out);
  return out;
}

std::string Dbl(double d) {
  std::string out;
  AppendTypedDouble(&out, d);
  return out;
}

TEST(TypedJson, ScalarsKeepTheirType) {
  EXPECT_EQ(Enc(AnyValue()), "null");
  EXPECT_EQ(Enc(AnyValue::String("a")), "\"a\"");
  EXPECT_EQ(Enc(AnyValue::Bool(true)), "true");
  EXPECT_EQ(Enc(AnyValue::Int(-42)), "-42");
  EXPECT_EQ(Enc(AnyValue::Int(INT64_MIN)), "-9223372036854775808");
  EXPECT_EQ(Enc(AnyValue::Double(42)), "42.0");
  EXPECT_EQ(Enc(AnyValue::Bytes(std::string("\x00\xFF", 2))), R"({"$bytes":"AP8="})");
  EXPECT_EQ(Enc(AnyValue::Bytes("")), R"({"$bytes":""})");
}

TEST(TypedJson, DoublesAlwaysLookLikeDoubles) {
  EXPECT_EQ(Dbl(0.0), "0.0");
  EXPECT_EQ(Dbl(-0.0), "-0.0");
  EXPECT_EQ(Dbl(1.5), "1.5");
  EXPECT_EQ(Dbl(0.1), "0.1");
  EXPECT_EQ(Dbl(1e20), "1e+20");
  EXPECT_EQ(Dbl(1e-7), "1e-07");
  EXPECT_EQ(Dbl(123456789012.0), "123456789012.0");
  EXPECT_EQ(Dbl(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(Dbl(std::numeric_limits<double>::denorm_min()), "5e-324");
  EXPECT_EQ(Dbl(std::nan("")), R"({"$double":"NaN"})");
  EXPECT_EQ(Dbl(HUGE_VAL), R"({"$double":"Infinity"})");
  EXPECT_EQ(Dbl(-HUGE_VAL), R"({"$double":"-Infinity"})");
}

// AppendTypedDouble has a fast path for short decimals; its text must be to_chars' exactly.
std::string ToCharsReference(double v) {
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

TEST(TypedJson, ShortDecimalsPrintAsToCharsDoes) {
  std::mt19937_64 rng(11);
  std::vector<double> values = {0.001, 0.0015, 0.000999, 1e-3, 999999999.0, 999999999.5, 1e9,
                                100, 1000, 1e5, 1e6, 1500000, 1234567, 0.1, 0.2, 0.3, 0.25,
                                2.5, 12.5, 3.14159, 0.333333, 0.3333333, 1.000001, 1.0000001,
                                999999.999999, 123456789.123456, 5e8, 10, 1, 7, 0.01, 0.02};
  for (int i = 0; i < 200000; ++i) {
    const int k = static_cast<int>(rng() % 8);
    const uint64_t d = rng() % (i % 3 == 0 ? 1000ull : 1000000000000000ull);
    values.push_back(static_cast<double>(d) / std::pow(10.0, k));
    uint64_t bits = rng();
    double any;
    std::memcpy(&any, &bits, 8);
    values.push_back(any);
    values.push_back(std::ldexp(static_cast<double>(rng() % 100000), -static_cast<int>(rng() % 30)));
  }
  for (double v : values) {
    for (double x : {v, -v}) {
      std::string out;
      AppendTypedDouble(&out, x);
      if (std::isfinite(x)) ASSERT_EQ(out, ToCharsReference(x)) << std::hexfloat << x;
    }
  }
}

TEST(TypedJson, StringsAreEscapedPerRfc8259AndKeepUtf8) {
  std::string out;
  std::string in = "q\"b\\s/\b\f\n\r\t\x01\x1F\x7F";
  in.push_back('\0');
  ASSERT_TRUE(AppendJsonString(&out, in));
  EXPECT_EQ(out, R"("q\"b\\s/\b\f\n\r\t\u0001\u001f)" "\x7F" R"(\u0000")");
  out.clear();
  ASSERT_TRUE(AppendJsonString(&out, "caf\xC3\xA9 \xF0\x9F\x98\x80 long enough for the fast path"));
  EXPECT_EQ(out, "\"caf\xC3\xA9 \xF0\x9F\x98\x80 long enough for the fast path\"");
  out.clear();
  EXPECT_FALSE(AppendJsonString(&out, "bad \xC3("));
  EXPECT_FALSE(AppendJsonString(&out, "\xED\xA0\x80"));  // surrogate
}

// The escaper's scans read 16 bytes at a time, for short strings past their end while that stays
// in the page. Every length 0..40 at offsets that end on, just before and just past a page
// boundary, with a special byte at each position, must give what a byte-by-byte escaper gives.
std::string EscapeByteByByte(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

TEST(TypedJson, StringScansAgreeWithAByteByByteEscaperAtPageBoundaries) {
  constexpr size_t kPage = 4096;
  std::vector<char> mem(5 * kPage);
  char* page = mem.data() + (kPage - reinterpret_cast<uintptr_t>(mem.data()) % kPage) + kPage;
  const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', 'z'};
  for (size_t len = 0; len <= 40; ++len) {
    for (long shift : {-40L, -17L, -16L, -15L, -1L, 0L, 1L, 15L}) {
      char* p = page + shift - static_cast<long>(len);  // the string ends `shift` from the boundary
      for (size_t at = 0; at <= len; ++at) {
        for (char special : specials) {
          for (size_t plain_after : {0, 1, 6}) {
            for (size_t i = 0; i < len; ++i) p[i] = static_cast<char>('a' + (i * 7) % 26);
            if (at < len) p[at] = special;
            // Past the end: a few plain bytes, then ones that would need escaping.
            std::memset(p + len, 'x', plain_after);
            std::memset(p + len + plain_after, '"', 16);
            const std::string_view in(p, len);
            std::string out = "prefix";
            ASSERT_TRUE(AppendJsonString(&out, in));
            ASSERT_EQ(out, "prefix" + EscapeByteByByte(in))
                << len << " " << shift << " " << at << " " << plain_after;
          }
          if (at == len) break;  // no special byte to vary
        }
      }
    }
  }
  // Strings that end right before an unmapped page: the 16-byte load must not be used there.
  char* guard = static_cast<char*>(
      ::mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(guard, MAP_FAILED);
  ASSERT_EQ(::mprotect(guard + kPage, kPage, PROT_NONE), 0);
  for (size_t len = 0; len <= 40; ++len) {
    for (size_t gap : {0, 1, 7, 15, 16}) {
      char* q = guard + kPage - gap - len;
      for (size_t i = 0; i < len; ++i) q[i] = static_cast<char>('a' + i % 26);
      std::string out;
      ASSERT_TRUE(AppendJsonString(&out, std::string_view(q, len)));
      ASSERT_EQ(out, EscapeByteByByte(std::string_view(q, len)));
    }
  }
  ::munmap(guard, 2 * kPage);
  // Non-ASCII inside the window is still checked as UTF-8.
  char* p = page - 5;
  std::memcpy(p, "ab\xC3(", 4);
  std::string out;
  EXPECT_FALSE(AppendJsonString(&out, std::string_view(p, 4)));
}

TEST(TypedJson, KeysCarryTheirSeparatorAndColon) {
  std::string out = "{";
  ASSERT_TRUE(AppendJsonKey(&out, '\0', "a"));
  out += "1";
  ASSERT_TRUE(AppendJsonKey(&out, ',', "needs \"escape\"\n"));
  out += "2";
  ASSERT_TRUE(AppendJsonKey(&out, ',', ""));
  out += "3}";
  EXPECT_EQ(out, R"({"a":1,"needs \"escape\"\n":2,"":3})");
  EXPECT_FALSE(AppendJsonKey(&out, ',', "bad \xC3("));
}

TEST(TypedJson, ArraysAndKvlists) {
  AnyValue arr = AnyValue::Array({AnyValue::Int(1), AnyValue::Double(1), AnyValue::String("1"),
                                  AnyValue(), AnyValue::Array({})});
  EXPECT_EQ(Enc(arr), R"([1,1.0,"1",null,[]])");
  AnyValue kv = AnyValue::Kvlist({{"a", AnyValue::Int(1)}, {"a", AnyValue::Bool(false)}});
  EXPECT_EQ(Enc(kv), R"({"a":1,"a":false})");  // order and duplicates kept
  EXPECT_EQ(Enc(AnyValue::Kvlist({})), "{}");
}

TEST(TypedJson, KvlistsThatLookLikeEscapesAreWrapped) {
  EXPECT_EQ(Enc(AnyValue::Kvlist({{"$bytes", AnyValue::String("x")}})),
            R"({"$kvlist":{"$bytes":"x"}})");
  EXPECT_EQ(Enc(AnyValue::Kvlist({{"$anything", AnyValue::Int(1)}})),
            R"({"$kvlist":{"$anything":1}})");
  // Two entries, or a first key without '$': never confused with an escape, never wrapped.
  EXPECT_EQ(Enc(AnyValue::Kvlist({{"$double", AnyValue::Int(1)}, {"b", AnyValue::Int(2)}})),
            R"({"$double":1,"b":2})");
  EXPECT_EQ(Enc(AnyValue::Kvlist({{"x$", AnyValue::Int(1)}})), R"({"x$":1})");
}

TEST(TypedJson, AttributeListsAreNeverWrapped) {
  std::string out;
  EncodeTypedJsonAttributes({{"$bytes", AnyValue::String("not an escape")}}, &out);
  EXPECT_EQ(out, R"({"$bytes":"not an escape"})");
  auto back = DecodeTypedJsonAttributes(out);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].key, "$bytes");
  EXPECT_EQ((*back)[0].value, AnyValue::String("not an escape"));
}

TEST(TypedJson, DecodesEveryEscape) {
  auto v = DecodeTypedJson(R"([1,1.0,-0.0,{"$double":"NaN"},{"$double":"-Infinity"},)"
                           R"({"$bytes":"AP8="},{"$kvlist":{"$bytes":"x"}},{"a":null}])");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->array.size(), 8u);
  EXPECT_EQ(v->array[0], AnyValue::Int(1));
  EXPECT_EQ(v->array[1], AnyValue::Double(1));
  EXPECT_TRUE(std::signbit(v->array[2].double_value));
  EXPECT_TRUE(std::isnan(v->array[3].double_value));
  EXPECT_EQ(v->array[4], AnyValue::Double(-HUGE_VAL));
  EXPECT_EQ(v->array[5], AnyValue::Bytes(std::string("\x00\xFF", 2)));
  EXPECT_EQ(v->array[6], AnyValue::Kvlist({{"$bytes", AnyValue::String("x")}}));
  EXPECT_EQ(v->array[7], AnyValue::Kvlist({{"a", AnyValue()}}));
}

TEST(TypedJson, DecoderRejectsWhatTheEncoderNeverWrites) {
  for (const char* bad : {R"({"$double":"nan"})", R"({"$double":1})", R"({"$bytes":"!!"})",
                          R"({"$kvlist":[1]})", R"({"$unknown":1})", "18446744073709551615",
                          "[1,", "\"\\ud800\""}) {
    EXPECT_FALSE(DecodeTypedJson(bad).ok()) << bad;
  }
  EXPECT_FALSE(DecodeTypedJsonAttributes("[]").ok());
}

TEST(TypedJson, DecoderEnforcesDepth) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  auto r = DecodeTypedJson(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nesting deeper than 64"), std::string::npos);
  std::string ok(64, '[');
  ok += std::string(64, ']');
  EXPECT_TRUE(DecodeTypedJson(ok).ok());
  std::string over(65, '[');
  over += std::string(65, ']');
  EXPECT_FALSE(DecodeTypedJson(over).ok());
}

// Random trees of every type survive encode -> decode unchanged.
AnyValue RandomValue(std::mt19937_64& rng, int depth) {
  const int kinds = depth >= 4 ? 6 : 8;
  switch (rng() % kinds) {
    case 0: return AnyValue();
    case 1: {
      std::string s;
      const char* pieces[] = {"a", "\"", "\\", "\n", "\x01", "\xC3\xA9", "$", "\xF0\x9F\x98\x80"};
      for (int i = 0, n = rng() % 6; i < n; ++i) s += pieces[rng() % 8];
      return AnyValue::String(s);
    }
    case 2: return AnyValue::Bool(rng() % 2);
    case 3: return AnyValue::Int(static_cast<int64_t>(rng()));
    case 4: {
      const double specials[] = {0.0, -0.0, 1.0, 0.1, 1e300, -1e-300, 5e-324,
                                 std::nan(""), HUGE_VAL, -HUGE_VAL, 3.0e10};
      if (rng() % 2) return AnyValue::Double(specials[rng() % 11]);
      uint64_t bits = rng();
      double d;
      std::memcpy(&d, &bits, 8);
      return AnyValue::Double(d);
    }
    case 5: {
      std::string b;
      for (int i = 0, n = rng() % 7; i < n; ++i) b.push_back(static_cast<char>(rng()));
      return AnyValue::Bytes(b);
    }
    case 6: {
      std::vector<AnyValue> a;
      for (int i = 0, n = rng() % 4; i < n; ++i) a.push_back(RandomValue(rng, depth + 1));
      return AnyValue::Array(std::move(a));
    }
    default: {
      std::vector<KeyValue> kv;
      const char* keys[] = {"k", "$bytes", "$double", "$kvlist", "$x", "", "k"};
      for (int i = 0, n = rng() % 4; i < n; ++i) {
        kv.push_back({keys[rng() % 7], RandomValue(rng, depth + 1)});
      }
      return AnyValue::Kvlist(std::move(kv));
    }
  }
}

TEST(TypedJson, RandomTreesRoundTrip) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 5000; ++i) {
    const AnyValue v = RandomValue(rng, 0);
    const std::string json = Enc(v);
    auto back = DecodeTypedJson(json);
    ASSERT_TRUE(back.ok()) << json << ": " << back.status().ToString();
    EXPECT_EQ(*back, v) << json;
    EXPECT_EQ(Enc(*back), json);
  }
}

}  // namespace
}  // namespace otlake::otlp
