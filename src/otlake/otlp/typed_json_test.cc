// Typed attribute JSON: encoding rules and lossless round trips (docs/attributes-json.md).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

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
