// WireReader and ProtoWriter: the protobuf wire format by hand.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "otlake/otlp/proto_writer.h"
#include "otlake/otlp/wire.h"

namespace otlake::otlp {
namespace {

std::vector<WireField> ReadAll(std::string_view data, std::string* error) {
  std::vector<WireField> out;
  WireReader r(data);
  WireField f;
  while (r.Next(&f)) out.push_back(f);
  *error = r.ok() ? "" : r.error();
  return out;
}

TEST(Wire, RoundTripsEveryWireType) {
  ProtoWriter w;
  w.Varint(1, 0);
  w.Varint(2, UINT64_MAX);
  w.Int64(3, -1);
  w.Sint32(4, -3);
  w.Fixed64(5, 0x0102030405060708ULL);
  w.Double(6, 2.5);
  w.Fixed32(7, 0xDEADBEEF);
  w.String(8, "hello");
  w.BeginMessage(9);
  w.String(1, std::string(300, 'x'));  // forces a two-byte length on EndMessage
  w.EndMessage();
  w.Varint(536870911, 7);  // largest field number
  std::string err;
  auto fields = ReadAll(w.data(), &err);
  ASSERT_EQ(err, "");
  ASSERT_EQ(fields.size(), 10u);
  EXPECT_EQ(fields[0].value, 0u);
  EXPECT_EQ(fields[1].value, UINT64_MAX);
  EXPECT_EQ(fields[2].AsInt64(), -1);
  EXPECT_EQ(fields[3].AsSint32(), -3);
  EXPECT_EQ(fields[4].type, WireType::kFixed64);
  EXPECT_EQ(fields[4].value, 0x0102030405060708ULL);
  EXPECT_EQ(fields[5].AsDouble(), 2.5);
  EXPECT_EQ(fields[6].type, WireType::kFixed32);
  EXPECT_EQ(fields[6].value, 0xDEADBEEFu);
  EXPECT_EQ(fields[7].data, "hello");
  EXPECT_EQ(fields[8].data.size(), 303u);
  EXPECT_EQ(fields[9].number, 536870911u);
}

TEST(Wire, ZigZag) {
  for (int32_t v : {0, 1, -1, 2, -2, INT32_MAX, INT32_MIN}) {
    ProtoWriter w;
    w.Sint32(1, v);
    std::string err;
    auto f = ReadAll(w.data(), &err);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].AsSint32(), v);
  }
}

TEST(Wire, SkipsGroupsIncludingNested) {
  ProtoWriter w;
  w.Varint(1, 5);
  w.Tag(2, WireType::kStartGroup);
  w.Varint(3, 1);
  w.Tag(4, WireType::kStartGroup);
  w.String(5, "in");
  w.Tag(4, WireType::kEndGroup);
  w.Fixed32(6, 1);
  w.Fixed64(7, 1);
  w.Tag(2, WireType::kEndGroup);
  w.Varint(8, 9);
  std::string err;
  auto f = ReadAll(w.data(), &err);
  EXPECT_EQ(err, "");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].number, 1u);
  EXPECT_EQ(f[1].number, 8u);
}

struct BadCase {
  const char* name;
  std::string bytes;
  const char* error;
};

TEST(Wire, RejectsMalformedInput) {
  const std::vector<BadCase> cases = {
      {"truncated tag", "\x80", "truncated tag"},
      {"truncated varint", std::string("\x08\x80", 2), "truncated varint"},
      {"11-byte varint", std::string("\x08") + std::string(10, '\x80') + "\x01",
       "varint longer than 10 bytes"},
      {"varint overflowing 64 bits", std::string("\x08") + std::string(9, '\xFF') + "\x02",
       "varint longer than 10 bytes"},
      {"truncated fixed64", std::string("\x09\x01\x02", 3), "truncated fixed64"},
      {"truncated fixed32", std::string("\x0D\x01", 2), "truncated fixed32"},
      {"length past end", std::string("\x0A\x05""abc", 5), "length past end of message"},
      {"huge length", std::string("\x0A\xFF\xFF\xFF\xFF\x0F", 6), "length past end of message"},
      {"field number 0", std::string("\x00\x01", 2), "field number 0"},
      {"wire type 6", std::string("\x0E\x01", 2), "invalid wire type"},
      {"wire type 7", std::string("\x0F\x01", 2), "invalid wire type"},
      {"stray end-group", std::string("\x0C", 1), "end-group without start-group"},
      {"unterminated group", std::string("\x0B\x10\x01", 3), "unterminated group"},
      {"mismatched end-group", std::string("\x0B\x14", 2), "end-group does not match start-group"},
      {"tag above 32 bits", std::string("\x80\x80\x80\x80\x80\x01", 6), "tag above 32 bits"},
  };
  for (const BadCase& c : cases) {
    std::string err;
    ReadAll(c.bytes, &err);
    EXPECT_EQ(err, c.error) << c.name;
  }
}

TEST(Wire, DeeplyNestedGroupsFailCleanly) {
  std::string s;
  for (int i = 0; i < 100000; ++i) s.push_back('\x0B');  // field 1 start-group, forever
  std::string err;
  ReadAll(s, &err);
  EXPECT_EQ(err, "groups nested too deeply");
}

TEST(Wire, TenByteVarintWithTopBitIsAccepted) {
  std::string s = std::string("\x08") + std::string(9, '\xFF') + "\x01";
  std::string err;
  auto f = ReadAll(s, &err);
  EXPECT_EQ(err, "");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].value, UINT64_MAX);
}

TEST(ProtoWriter, PackedAndAnyValue) {
  ProtoWriter w;
  const uint64_t counts[] = {1, 2, 300};
  w.PackedVarint(1, counts);
  w.PackedFixed64(2, counts);
  const double bounds[] = {0.5, 1.5};
  w.PackedDouble(3, bounds);
  std::string err;
  auto f = ReadAll(w.data(), &err);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].data.size(), 4u);  // 1, 2, 300 (2 bytes)
  EXPECT_EQ(f[1].data.size(), 24u);
  EXPECT_EQ(f[2].data.size(), 16u);

  ProtoWriter a;
  WriteAnyValue(&a, 1, AnyValue::Kvlist({{"k", AnyValue::Int(-5)}}));
  auto g = ReadAll(a.data(), &err);
  ASSERT_EQ(g.size(), 1u);
  auto kvlist = ReadAll(g[0].data, &err);  // AnyValue
  ASSERT_EQ(kvlist.size(), 1u);
  EXPECT_EQ(kvlist[0].number, 6u);
}

}  // namespace
}  // namespace otlake::otlp
