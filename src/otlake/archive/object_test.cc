#include "otlake/archive/object.h"
#include "otlake/server/decompress.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <string>

namespace otlake::archive {
namespace {

std::string Gzip(const std::string& in) { return server::GzipCompress(in).ValueOrDie(); }

std::string Zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

const std::string kTraces =
    R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":)"
    R"({"stringValue":"checkout"}}]},"scopeSpans":[{"spans":[{"traceId":)"
    R"("5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /",)"
    R"("startTimeUnixNano":"1750860547000000000","endTimeUnixNano":"1750860548000000000"}]}]}]})";
const std::string kLogs = R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]})";
const std::string kMetrics = R"({ "resource_metrics" : [] })";
// ExportTraceServiceRequest { resource_spans { scope_spans { span { name: "x" } } } } -- enough
// for the first-field check: field 1, wire type 2, length 9.
const std::string kProto("\x0a\x09\x12\x07\x12\x05\x2a\x01x\x00\x00", 11);

const std::string kKey = "year=2025/month=06/day=25/hour=14/minute=09/traces_312302042.json";

Result<DecodedObject> Decode(const std::string& key, const std::string& bytes,
                             const std::string& content_encoding = "",
                             int64_t max_bytes = 1 << 20) {
  ObjectDecodeOptions o;
  o.content_encoding = content_encoding;
  o.max_decompressed_bytes = max_bytes;
  return DecodeObject(key, bytes, o);
}

void ExpectError(const Result<DecodedObject>& r, const std::string& needle, bool capacity = false) {
  ASSERT_FALSE(r.ok()) << "decoded, expected an error mentioning '" << needle << "'";
  EXPECT_TRUE(capacity ? r.status().IsCapacityError() : r.status().IsInvalid())
      << r.status().ToString();
  EXPECT_NE(r.status().message().find(needle), std::string::npos)
      << "'" << r.status().message() << "' does not mention '" << needle << "'";
}

TEST(Object, SeedKeyPlainJson) {
  auto r = Decode(kKey, kTraces);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name.signal, Signal::kTraces);
  EXPECT_EQ(r->name.marshaler, Marshaler::kOtlpJson);
  EXPECT_EQ(r->decompressed, Compression::kNone);
  ASSERT_EQ(r->documents.size(), 1u);
  EXPECT_EQ(r->documents[0].body, kTraces);
  EXPECT_EQ(r->documents[0].content_type, kJsonContentType);
  EXPECT_EQ(r->documents[0].line, 0);
}

TEST(Object, GzipAndZstdEachMarshaler) {
  for (const auto& [suffix, compress, kind] :
       {std::tuple{".gz", &Gzip, Compression::kGzip}, std::tuple{".zst", &Zstd, Compression::kZstd}}) {
    SCOPED_TRACE(suffix);
    auto r = Decode("p/logs_1.json" + std::string(suffix), (*compress)(kLogs));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->name.signal, Signal::kLogs);
    EXPECT_EQ(r->decompressed, kind);
    ASSERT_EQ(r->documents.size(), 1u);
    EXPECT_EQ(r->documents[0].body, kLogs);

    r = Decode("p/traces_1.binpb" + std::string(suffix), (*compress)(kProto));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->documents.size(), 1u);
    EXPECT_EQ(r->documents[0].body, kProto);
    EXPECT_EQ(r->documents[0].content_type, kProtobufContentType);

    r = Decode("p/metrics_1.jsonl" + std::string(suffix),
               (*compress)(kMetrics + "\n" + kMetrics + "\r\n\n"));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->documents.size(), 2u);
    EXPECT_EQ(r->documents[1].body, kMetrics);
    EXPECT_EQ(r->documents[1].line, 2);
  }
}

TEST(Object, ContentEncodingAndSuffixDecodeOnce) {
  // The exporter sets Content-Encoding: gzip on .gz OTLP objects. Raw bytes from S3 are
  // decompressed once...
  auto r = Decode("logs_1.json.gz", Gzip(kLogs), "gzip");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->decompressed, Compression::kGzip);
  EXPECT_EQ(r->documents[0].body, kLogs);
  // ...and bytes a client already decompressed (the header explains the missing magic) are read
  // as they are, not gunzipped a second time.
  r = Decode("logs_1.json.gz", kLogs, "gzip");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->decompressed, Compression::kNone);
  EXPECT_EQ(r->documents[0].body, kLogs);
  r = Decode("logs_1.json.zst", kLogs, " ZSTD ");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Content-Encoding without a suffix: decided by the magic bytes too.
  r = Decode("logs_1.json", Zstd(kLogs), "zstd");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->decompressed, Compression::kZstd);
  r = Decode("logs_1.json", kLogs, "gzip");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->decompressed, Compression::kNone);
  // A .gz name with plain bytes and no header to explain it is corrupt.
  ExpectError(Decode("logs_1.json.gz", kLogs), "corrupt gzip: the name ends in .gz");
  ExpectError(Decode("logs_1.json.zst", Gzip(kLogs)), "corrupt zstd");
  // Compressed bytes under a plain name are not guessed at: they are bad JSON.
  ExpectError(Decode("logs_1.json", Gzip(kLogs)), "bad JSON");
}

TEST(Object, CorruptAndTruncatedCompression) {
  std::string gz = Gzip(kTraces);
  std::string corrupt = gz;
  corrupt[gz.size() / 2] ^= 0x55;
  corrupt[gz.size() / 2 + 1] ^= 0x55;
  ExpectError(Decode(kKey + ".gz", corrupt), "corrupt gzip");
  ExpectError(Decode(kKey + ".gz", gz.substr(0, gz.size() - 10)), "corrupt gzip");
  const std::string zs = Zstd(kTraces);
  ExpectError(Decode(kKey + ".zst", zs.substr(0, zs.size() - 5)), "corrupt zstd");
  ExpectError(Decode(kKey + ".zst", zs.substr(0, 4)), "corrupt zstd");
  ExpectError(Decode(kKey + ".gz", gz.substr(0, 2)), "corrupt gzip");
}

TEST(Object, CompressionBombIsRefused) {
  const std::string zeros(64 << 20, '\0');
  const std::string bomb_gz = Gzip(zeros);
  const std::string bomb_zst = Zstd(zeros);
  ASSERT_LT(bomb_gz.size(), 200u << 10);
  ExpectError(Decode("traces_1.binpb.gz", bomb_gz, "", 1 << 20), "compression bomb", true);
  ExpectError(Decode("traces_1.binpb.zst", bomb_zst, "", 1 << 20), "compression bomb", true);
  // Uncompressed objects are bounded by the same limit.
  ExpectError(Decode(kKey, std::string(2 << 20, ' '), "", 1 << 20), "exceed the limit", true);
  // Exactly at the limit is fine.
  auto r = Decode(kKey, kTraces, "", static_cast<int64_t>(kTraces.size()));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  r = Decode(kKey + ".gz", Gzip(kTraces), "", static_cast<int64_t>(kTraces.size()));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  ExpectError(Decode(kKey + ".gz", Gzip(kTraces), "", static_cast<int64_t>(kTraces.size()) - 1),
              "compression bomb", true);
}

TEST(Object, JsonLinesReportTheBadLine) {
  const std::string body = kTraces + "\n\n" + kTraces + "\n" + R"({"resourceSpans":[)" + "\n" + kTraces;
  ExpectError(Decode("traces_1.jsonl", body), "bad JSON line 4");
  ExpectError(Decode("traces_1.jsonl.gz", Gzip(kTraces + "\n" + kLogs + "\n")),
              "the name says traces but the document holds resourceLogs");
  ExpectError(Decode("traces_1.jsonl", kTraces + "\n[1,2]\n"), "bad JSON line 2: not a JSON object");
  ExpectError(Decode("traces_1.jsonl", kTraces + " " + kTraces), "bad JSON line 1: trailing data");
  ExpectError(Decode("traces_1.jsonl", "\n \r\n"), "empty object");
  auto r = Decode("traces_1.jsonl", "\n" + kTraces);  // no trailing newline, leading blank line
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->documents.size(), 1u);
  EXPECT_EQ(r->documents[0].line, 2);
}

TEST(Object, JsonDocumentChecks) {
  ExpectError(Decode("logs_1.json", kTraces),
              "the name says logs but the document holds resourceSpans");
  ExpectError(Decode("traces_1.json", kMetrics),
              "the name says traces but the document holds resource_metrics");
  ExpectError(Decode("traces_1.json", kTraces + "\n" + kTraces), "name the object .jsonl");
  ExpectError(Decode("traces_1.json", ""), "empty object");
  ExpectError(Decode("traces_1.json", "[]"), "not a JSON object");
  ExpectError(Decode("traces_1.json", R"({"resourceSpans":[})"), "bad JSON");
  ExpectError(Decode("traces_1.json", "{\"a\":\"\xff\"}"), "bad JSON");  // invalid UTF-8
  // A nested field named like another signal's does not count; an empty request is accepted.
  auto r = Decode("traces_1.json", R"({"resourceSpans":[{"resourceLogs":1}]})");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  r = Decode("metrics_1.json", " {} \n");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  // Deep nesting is parsed iteratively (no stack overflow).
  r = Decode("traces_1.json", "{\"a\":" + std::string(200000, '[') + std::string(200000, ']') + "}");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST(Object, ProtobufFirstFieldCheck) {
  ExpectError(Decode("traces_1.binpb", ""), "empty object");
  ExpectError(Decode("traces_1.binpb", std::string("\x08\x01", 2)),
              "first field is 1 wire type 0, expected field 1 wire type 2");
  ExpectError(Decode("traces_1.binpb", std::string("\x12\x00", 2)), "first field is 2");
  ExpectError(Decode("traces_1.binpb", std::string("\x0a\x20xyz", 5)), "truncated protobuf");
  ExpectError(Decode("traces_1.binpb", std::string("\x8a", 1)), "truncated protobuf");
  ExpectError(Decode("traces_1.binpb", kTraces), "first field is");  // JSON named .binpb
  auto r = Decode("logs_1.binpb", std::string("\x0a\x00", 2));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST(Object, NamesThatAreNotArchiveObjects) {
  ExpectError(Decode("a/b/readme.txt", "hello"), "not an archive object");
  ExpectError(Decode("a/b/traces_1.parquet", "PAR1"), "unsupported file format");
  ObjectDecodeOptions o;
  o.file_prefix = "otel-";
  EXPECT_FALSE(DecodeObject("traces_1.json", kTraces, o).ok());
  auto r = DecodeObject("x/otel-traces_1.json", kTraces, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

}  // namespace
}  // namespace otlake::archive
