// Ingestor::HoldSegments: WAL segments holding records logged after a hold survive the tables
// committing past them (and segments rolling) until the hold is released.
#include "otlake/ingest/ingestor.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <set>
#include <string>

#include "otlake/common/time_util.h"
#include "otlake/wal/wal_reader.h"

namespace otlake::ingest {
namespace {

std::string SpanJson(int i, size_t pad) {
  char trace[33];
  std::snprintf(trace, sizeof trace, "%032x", i + 1);
  const int64_t now = NowUnixNanos();
  return R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"s"}}]},)"
         R"("scopeSpans":[{"spans":[{"traceId":")" + std::string(trace) +
         R"(","spanId":"00000000000000a1","name":"n","startTimeUnixNano":")" + std::to_string(now) +
         R"(","endTimeUnixNano":")" + std::to_string(now) +
         R"(","attributes":[{"key":"pad","value":{"stringValue":")" + std::string(pad, 'x') + R"("}}]}]}]}]})";
}

// The origins of the records still in the WAL directory.
std::set<std::string> OriginsOnDisk(const std::string& wal_dir) {
  std::set<std::string> out;
  auto st = wal::Recover(wal_dir, nullptr, 1, /*repair=*/false, [&](int64_t, std::string_view payload) {
    Record r;
    if (DecodeRecord(payload, &r).ok() && !r.origin.empty()) out.emplace(r.origin);
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  return out;
}

// Logs one record with `origin` (under a hold when `hold`), then enough others to roll several
// segments, flushes every table (they commit past all of it) and reports whether the origin's
// record is still on disk.
bool SurvivesCommit(bool hold) {
  char tmpl[] = "/tmp/otlake_ingestor_testXXXXXX";
  const std::string dir = mkdtemp(tmpl);
  IngestOptions o;
  o.wal_dir = dir + "/wal";
  o.wal_segment_bytes = 1 << 20;
  o.wal_recycle_segments = 0;
  o.wal_direct_io = false;
  o.pipeline.days_dir = dir + "/days";
  auto in = Ingestor::Open(o);
  EXPECT_TRUE(in.ok()) << in.status().ToString();
  if (!in.ok()) return false;
  auto ingest = [&](int i, std::string_view origin) {
    const std::string body = SpanJson(i, 64 << 10);
    otlp::DecodeOptions opts;
    opts.now_unix_nano = NowUnixNanos();
    otlp::DecodeResult decoded;
    EXPECT_TRUE(otlp::DecodeJson(otlp::Signal::kTraces, body, opts, &decoded).ok());
    Record r;
    r.format = BodyFormat::kJson;
    r.arrival_unix_nano = opts.now_unix_nano;
    r.project_id = "default";
    r.body = body;
    r.origin = origin;
    EXPECT_TRUE((*in)->Ingest(r, &decoded).ok());
  };
  const int64_t h = hold ? (*in)->HoldSegments() : 0;
  ingest(0, "sources/1/a/0/1");
  for (int i = 1; i < 60; ++i) ingest(i, "");  // ~4 MiB: several segments
  EXPECT_TRUE((*in)->pipeline()->FlushAll().ok());
  const bool found = OriginsOnDisk(o.wal_dir).count("sources/1/a/0/1") > 0;
  if (hold) (*in)->ReleaseSegments(h);
  EXPECT_TRUE((*in)->Stop().ok());
  if (hold) {
    EXPECT_EQ(OriginsOnDisk(o.wal_dir).count("sources/1/a/0/1"), 0u);  // released: gone at Stop
  }
  return found;
}

TEST(Ingestor, HeldSegmentsSurviveCommitsUntilReleased) {
  EXPECT_FALSE(SurvivesCommit(/*hold=*/false));  // without a hold the segment goes
  EXPECT_TRUE(SurvivesCommit(/*hold=*/true));
}

}  // namespace
}  // namespace otlake::ingest
