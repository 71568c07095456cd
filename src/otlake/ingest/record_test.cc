#include "otlake/ingest/record.h"

#include <gtest/gtest.h>

namespace otlake::ingest {
namespace {

TEST(Record, RoundTripsEveryField) {
  Record in;
  in.signal = otlp::Signal::kMetrics;
  in.format = BodyFormat::kJson;
  in.arrival_unix_nano = 1795391999123456789;
  const std::string project(200, 'p');  // a multi-byte length varint
  in.project_id = project;
  in.body = std::string_view("{\"resourceMetrics\":[]}\0tail", 27);
  std::string payload;
  EncodeRecord(in, &payload);
  Record out;
  ASSERT_TRUE(DecodeRecord(payload, &out).ok());
  EXPECT_EQ(out.signal, in.signal);
  EXPECT_EQ(out.format, in.format);
  EXPECT_EQ(out.arrival_unix_nano, in.arrival_unix_nano);
  EXPECT_EQ(out.project_id, in.project_id);
  EXPECT_EQ(out.body, in.body);
}

TEST(Record, HeaderThenBodyIsTheEncodedRecord) {
  Record in;
  in.signal = otlp::Signal::kLogs;
  in.arrival_unix_nano = 42;
  in.project_id = "proj-1";
  in.body = "body bytes";
  std::string whole, header;
  EncodeRecord(in, &whole);
  EncodeRecordHeader(in, &header);
  EXPECT_EQ(header + std::string(in.body), whole);
  Record out;
  ASSERT_TRUE(DecodeRecord(whole, &out).ok());
  EXPECT_EQ(out.body, in.body);
}

TEST(Record, OriginMakesAVersion2PayloadAndRoundTrips) {
  Record in;
  in.signal = otlp::Signal::kTraces;
  in.arrival_unix_nano = 7;
  in.project_id = "app";
  in.body = "{\"resourceSpans\":[]}";
  std::string v1;
  EncodeRecord(in, &v1);
  EXPECT_EQ(v1[0], 1);  // no origin: the version 1 bytes, unchanged
  const std::string origin(300, 'o');  // a two-byte length varint
  in.origin = origin;
  std::string v2;
  EncodeRecord(in, &v2);
  EXPECT_EQ(v2[0], 2);
  Record out;
  ASSERT_TRUE(DecodeRecord(v2, &out).ok());
  EXPECT_EQ(out.origin, origin);
  EXPECT_EQ(out.project_id, "app");
  EXPECT_EQ(out.body, in.body);
  ASSERT_TRUE(DecodeRecord(v1, &out).ok());
  EXPECT_TRUE(out.origin.empty());
  // An origin length past the end is refused.
  std::string bad = v2.substr(0, 11 + 1 + 3 + 1);
  EXPECT_TRUE(DecodeRecord(bad, &out).IsInvalid());
}

TEST(Record, RejectsDamagedPayloads) {
  Record in;
  in.project_id = "default";
  in.body = "x";
  std::string payload;
  EncodeRecord(in, &payload);
  Record out;
  for (size_t cut = 0; cut < 12; ++cut) {
    EXPECT_FALSE(DecodeRecord(payload.substr(0, cut), &out).ok()) << cut;
  }
  std::string bad = payload;
  bad[0] = 9;  // unknown version
  EXPECT_TRUE(DecodeRecord(bad, &out).IsInvalid());
  bad = payload;
  bad[1] = 3;  // unknown signal
  EXPECT_TRUE(DecodeRecord(bad, &out).IsInvalid());
  bad = payload;
  bad[11] = 100;  // project id longer than the payload
  EXPECT_TRUE(DecodeRecord(bad, &out).IsInvalid());
}

}  // namespace
}  // namespace otlake::ingest
