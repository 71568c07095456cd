// JsonTape (ParseJsonFast): values as ParseJson gives them, and the texts it leaves to ParseJson.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "otlake/otlp/json_fields.h"

namespace otlake::otlp::internal {
namespace {

std::string_view Str(const JsonNode& n) { return JsonStr(n); }

TEST(JsonTape, ValuesAndStructure) {
  JsonTape t;
  const std::string text = R"( {"a" : [1, -2, 3.5, "x", true, false, null, {}, []],)"
                           R"( "b":{"c":"d"}, "a":18446744073709551615} )";
  ASSERT_TRUE(t.Parse(text));
  const JsonNode& root = t.root();
  ASSERT_TRUE(root.IsObject());
  EXPECT_EQ(root.Size(), 3u);
  auto m = root.MemberBegin();
  EXPECT_EQ(Str(m->name), "a");
  const JsonNode& arr = m->value;
  ASSERT_TRUE(arr.IsArray());
  EXPECT_EQ(arr.Size(), 9u);
  auto e = arr.Begin();
  EXPECT_TRUE(e->IsUint64() && e->IsInt64() && e->GetUint64() == 1);
  ++e;
  EXPECT_TRUE(!e->IsUint64() && e->IsInt64() && e->GetInt64() == -2);
  ++e;
  EXPECT_TRUE(e->IsDouble() && e->GetDouble() == 3.5);
  ++e;
  EXPECT_EQ(Str(*e), "x");
  ++e;
  EXPECT_TRUE(e->IsBool() && e->GetBool());
  ++e;
  EXPECT_TRUE(e->IsBool() && !e->GetBool());
  ++e;
  EXPECT_TRUE(e->IsNull());
  ++e;
  EXPECT_TRUE(e->IsObject() && e->Size() == 0 && e->MemberBegin() == e->MemberEnd());
  ++e;
  EXPECT_TRUE(e->IsArray() && e->Size() == 0);
  ++e;
  EXPECT_TRUE(e == arr.End());
  ++m;
  EXPECT_EQ(Str(m->name), "b");
  ASSERT_TRUE(m->value.IsObject());
  EXPECT_EQ(Str(m->value.MemberBegin()->value), "d");
  ++m;
  EXPECT_EQ(Str(m->name), "a");  // duplicate keys are all kept, in order
  EXPECT_TRUE(m->value.IsUint64() && !m->value.IsInt64());
  EXPECT_EQ(m->value.GetUint64(), UINT64_MAX);
  ++m;
  EXPECT_TRUE(m == root.MemberEnd());
}

TEST(JsonTape, NumbersAsParseJsonReadsThem) {
  JsonTape t;
  auto one = [&](const std::string& n) -> const JsonNode& {
    EXPECT_TRUE(t.Parse("[" + n + "]")) << n;
    return *t.root().Begin();
  };
  EXPECT_TRUE(one("-0").IsDouble());
  EXPECT_TRUE(std::signbit(one("-0").GetDouble()));
  EXPECT_EQ(one("-9223372036854775808").GetInt64(), INT64_MIN);
  EXPECT_TRUE(one("9223372036854775808").IsUint64());
  EXPECT_FALSE(one("9223372036854775808").IsInt64());
  EXPECT_TRUE(one("18446744073709551616").IsDouble());  // beyond 64 bits
  EXPECT_TRUE(one("-9223372036854775809").IsDouble());
  // Underflow: zero, as ParseJson (an exponent of 290 or more is left to ParseJson itself).
  EXPECT_EQ(one("0." + std::string(200, '0') + "1e-200").GetDouble(), 0.0);
  EXPECT_FALSE(t.Parse("[1e-400]"));
  EXPECT_EQ(one("0.1").GetDouble(), 0.1);
  EXPECT_EQ(one("1E+2").GetDouble(), 100.0);
  EXPECT_EQ(one("12345678901234567890123").GetDouble(), 12345678901234567890123.0);
}

TEST(JsonTape, StringsAreDecodedAndPointIntoTheTextWhenPlain) {
  JsonTape t;
  const std::string text = "[\"plain text longer than sixteen bytes\", \"caf\xC3\xA9\", "
                           "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00\", "
                           "\"\\u0000\"]";
  ASSERT_TRUE(t.Parse(text));
  auto e = t.root().Begin();
  EXPECT_EQ(Str(*e), "plain text longer than sixteen bytes");
  EXPECT_EQ(e->GetString(), text.data() + 2);  // no copy
  ++e;
  EXPECT_EQ(Str(*e), "caf\xC3\xA9");
  ++e;
  EXPECT_EQ(Str(*e), "a\"b\\c/d\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  ++e;
  EXPECT_EQ(Str(*e), std::string_view("\0", 1));
}

TEST(JsonTape, LeavesToParseJsonWhatItDoesNotTake) {
  JsonTape t;
  // Not JSON: ParseJson says what is wrong.
  for (const char* bad : {"", "{", "{\"a\":1,}", "[1 2]", "01", "1.", "-", "1e", "tru", "nul",
                          "{\"a\" 1}", "{1:2}", "[1]x", "\"\x01\"", "\"\\x\"", "\"\\u12g4\"",
                          "\"abc", "\"\xC3(\"", "\xEF\xBB\xBF{}"}) {
    EXPECT_FALSE(t.Parse(bad)) << bad;
  }
  EXPECT_FALSE(t.Parse(std::string_view("{}\0", 3)));
  EXPECT_FALSE(t.Parse(std::string_view("[\"a\0\"]", 6)));
  // JSON the fast parser leaves aside: lone surrogates, numbers RapidJSON may call too big.
  for (const char* aside : {"\"\\udc00\"", "\"\\ud800\"", "\"\\ud800\\u0041\"", "1e400", "1e290",
                            "1e-290"}) {
    EXPECT_FALSE(t.Parse(aside)) << aside;
    std::string buffer;
    rapidjson::Document doc;
    (void)ParseJson(aside, &buffer, &doc);  // ParseJson decides (no crash either way)
  }
  EXPECT_FALSE(t.Parse(std::string(251, '1')));
  EXPECT_TRUE(t.Parse(std::string(250, '1')));
}

TEST(JsonTape, DeepNestingUsesNoRecursion) {
  JsonTape t;
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  ASSERT_TRUE(t.Parse(deep));
  EXPECT_EQ(t.root().Span(), 200000u);
}

}  // namespace
}  // namespace otlake::otlp::internal
