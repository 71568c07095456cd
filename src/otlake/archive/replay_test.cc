#include "otlake/archive/replay.h"

#include "otlake/otlp/proto_writer.h"
#include "otlake/server/decompress.h"

#include <arrow/filesystem/localfs.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace otlake::archive {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "replay_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void Put(const std::string& root, const std::string& key, const std::string& bytes) {
  const std::filesystem::path p = std::filesystem::path(root) / key;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string GzipBytes(const std::string& in) { return server::GzipCompress(in).ValueOrDie(); }

std::string SpansJson(int n) {
  std::string spans;
  for (int i = 0; i < n; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016x", i + 1);
    spans += std::string(i ? "," : "") + "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"" +
             id + "\",\"name\":\"op\",\"startTimeUnixNano\":\"1750860540000000000\",\"endTimeUnixNano\":\"1750860541000000000\"}";
  }
  return "{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":[{\"scope\":{},\"spans\":[" + spans + "]}]}]}";
}

std::string LogsJson(int n) {
  std::string recs;
  for (int i = 0; i < n; ++i) {
    recs += std::string(i ? "," : "") + "{\"timeUnixNano\":\"1750860540000000000\",\"body\":{\"stringValue\":\"l" +
            std::to_string(i) + "\"}}";
  }
  return "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[" + recs + "]}]}]}";
}

ReplaySource Local(const TempDir& d) {
  return {std::make_shared<arrow::fs::LocalFileSystem>(), d.path(), d.path()};
}

ListOptions Window(const std::string& start, const std::string& end) {
  ListOptions o;
  o.window.starttime = start;
  o.window.endtime = end;
  o.parallelism = 2;
  return o;
}

std::vector<std::string> Keys(const ObjectListing& l) {
  std::vector<std::string> out;
  for (const auto& o : l.objects) out.push_back(o.key);
  return out;
}

TEST(ListReplayObjects, ListsTheWindowsPartitionsInTimeOrderAndSkipsForeignNames) {
  TempDir d;
  const std::string p = "year=2025/month=06/day=25/hour=14/minute=";
  Put(d.path(), p + "08/traces_1.json", "{}");  // before the window
  Put(d.path(), p + "09/traces_2.json", "{}");
  Put(d.path(), p + "09/logs_3.binpb.gz", "x");
  Put(d.path(), p + "09/traces_4.txt", "x");  // a traces_ name of an unsupported format
  Put(d.path(), p + "09/other.json", "{}");    // no listing prefix matches: ignored silently
  Put(d.path(), p + "10/metrics_5.json.zst", "x");
  Put(d.path(), p + "10/traces_0.jsonl", "{}");
  Put(d.path(), p + "11/traces_6.json", "{}");  // end is exclusive
  auto l = ListReplayObjects(Local(d), Window("2025-06-25T14:09:00Z", "2025-06-25T14:11:00Z"));
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(Keys(*l), (std::vector<std::string>{p + "09/logs_3.binpb.gz", p + "09/traces_2.json",
                                                p + "10/metrics_5.json.zst", p + "10/traces_0.jsonl"}));
  EXPECT_EQ(l->partitions, 2);
  EXPECT_EQ(l->listings, 2);  // each directory once, for all three signals
  ASSERT_EQ(l->skipped.size(), 1u);
  EXPECT_EQ(l->skipped[0].key, p + "09/traces_4.txt");
  EXPECT_EQ(l->bytes(), 2 + 1 + 1 + 2);
  EXPECT_EQ(l->objects[1].name.signal, Signal::kTraces);
  EXPECT_EQ(l->objects[0].name.compression, Compression::kGzip);
  EXPECT_EQ(l->objects[0].path, d.path() + "/" + p + "09/logs_3.binpb.gz");
}

TEST(ListReplayObjects, PrefixFilePrefixZoneAndSignalFilter) {
  TempDir d;
  // Hour partitions in New York, under s3_prefix "arch", file_prefix "app-".
  Put(d.path(), "arch/2025/06/25/10/app-traces_1.json", "{}");  // 14:00Z = 10:00 EDT
  Put(d.path(), "arch/2025/06/25/10/app-logs_2.json", "{}");
  Put(d.path(), "arch/2025/06/25/10/traces_3.json", "{}");  // no file prefix
  Put(d.path(), "arch/2025/06/25/11/app-traces_4.json", "{}");
  ListOptions o = Window("2025-06-25 10:00", "2025-06-25 11:00");  // read in the zone
  o.window.s3_prefix = "arch";
  o.window.s3_partition_format = "%Y/%m/%d/%H";
  o.window.s3_partition_timezone = "America/New_York";
  o.window.file_prefix = "app-";
  o.signals = {Signal::kTraces};
  auto l = ListReplayObjects(Local(d), o);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(Keys(*l), (std::vector<std::string>{"arch/2025/06/25/10/app-traces_1.json"}));
  EXPECT_EQ(l->step, Step::kHour);
}

TEST(ListReplayObjects, BadWindowIsInvalidAndAMissingTreeIsEmpty) {
  TempDir d;
  auto bad = ListReplayObjects(Local(d), Window("2025-06-25", "2025-06-24"));
  EXPECT_TRUE(bad.status().IsInvalid()) << bad.status().ToString();
  auto empty = ListReplayObjects(Local(d), Window("2025-06-25", "2025-06-25 00:05"));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->objects.empty());
  EXPECT_EQ(empty->partitions, 5);
}

TEST(CountRecords, CountsSpansLogsAndDataPoints) {
  ListedObject o;
  o.key = "traces_1.json";
  o.name = *ParseObjectName(o.key);
  auto p = PrepareObject(o, SpansJson(7), {});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->records, 7);
  ASSERT_EQ(p->protobuf.size(), 1u);
  EXPECT_EQ(*CountRecords(Signal::kTraces, p->protobuf[0]), 7);

  o.key = "logs_1.jsonl.gz";
  o.name = *ParseObjectName(o.key);
  auto l = PrepareObject(o, GzipBytes(LogsJson(2) + "\n\n" + LogsJson(3) + "\n"), {});
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->records, 5);
  EXPECT_EQ(l->protobuf.size(), 2u);

  o.key = "metrics_1.json";
  o.name = *ParseObjectName(o.key);
  auto m = PrepareObject(
      o,
      "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"g\",\"gauge\":{\"dataPoints\":["
      "{\"asInt\":\"1\"},{\"asInt\":\"2\"}]}},{\"name\":\"h\",\"histogram\":{\"dataPoints\":[{\"count\":\"1\"}]}}]}]}]}",
      {});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->records, 3);

  EXPECT_FALSE(CountRecords(Signal::kTraces, std::string("\x0a\x05\x12", 3)).ok());
}

std::string Pb(Signal s, const std::string& json) {
  ListedObject o;
  o.key = std::string(SignalName(s)) + "_1.json";
  o.name = *ParseObjectName(o.key);
  auto p = PrepareObject(o, json, {});
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? p->protobuf[0] : "";
}

std::string Span(const std::string& id, int64_t start) {
  return "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"" + id +
         "\",\"name\":\"op\",\"startTimeUnixNano\":\"" + std::to_string(start) + "\"}";
}

TEST(FilterByEventTime, KeepsRecordsInTheWindowAndDropsEmptiedContainers) {
  // Resource 1: spans at 99 (out), 100 (in), 199 (in), 200 (out); resource 2: only out.
  const std::string json =
      "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"v\"}}]},"
      "\"scopeSpans\":[{\"scope\":{\"name\":\"a\"},\"spans\":[" + Span("0000000000000001", 99) + "," +
      Span("0000000000000002", 100) + "]},{\"scope\":{\"name\":\"b\"},\"spans\":[" +
      Span("0000000000000003", 199) + "," + Span("0000000000000004", 200) + "]}]},"
      "{\"scopeSpans\":[{\"spans\":[" + Span("0000000000000005", 5) + "]}]}]}";
  const std::string pb = Pb(Signal::kTraces, json);
  int64_t dropped = 0;
  auto f = FilterByEventTime(Signal::kTraces, pb, 100, 200, &dropped);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(dropped, 3);
  EXPECT_EQ(*CountRecords(Signal::kTraces, *f), 2);
  // Exactly what transcoding the kept part gives (resource and scopes copied, resource 2 gone).
  const std::string kept_json =
      "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"v\"}}]},"
      "\"scopeSpans\":[{\"scope\":{\"name\":\"a\"},\"spans\":[" + Span("0000000000000002", 100) +
      "]},{\"scope\":{\"name\":\"b\"},\"spans\":[" + Span("0000000000000003", 199) + "]}]}]}";
  EXPECT_EQ(*f, Pb(Signal::kTraces, kept_json));
  // Nothing in the window: an empty request.
  dropped = 0;
  EXPECT_EQ(*FilterByEventTime(Signal::kTraces, pb, 1000, 2000, &dropped), "");
  EXPECT_EQ(dropped, 5);

  // Logs: time_unix_nano, else observed; no time at all is kept.
  const std::string logs = Pb(Signal::kLogs,
      "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"150\"},"
      "{\"observedTimeUnixNano\":\"150\"},{\"timeUnixNano\":\"50\",\"observedTimeUnixNano\":\"150\"},"
      "{\"body\":{\"stringValue\":\"timeless\"}}]}]}]}");
  dropped = 0;
  auto fl = FilterByEventTime(Signal::kLogs, logs, 100, 200, &dropped);
  ASSERT_TRUE(fl.ok());
  EXPECT_EQ(*CountRecords(Signal::kLogs, *fl), 3);
  EXPECT_EQ(dropped, 1);

  // Metrics: data points; a metric left without points goes.
  const std::string metrics = Pb(Signal::kMetrics,
      "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"g\",\"gauge\":{\"dataPoints\":["
      "{\"timeUnixNano\":\"150\",\"asInt\":\"1\"},{\"timeUnixNano\":\"250\",\"asInt\":\"2\"}]}},"
      "{\"name\":\"s\",\"sum\":{\"dataPoints\":[{\"timeUnixNano\":\"300\",\"asInt\":\"1\"}]}}]}]}]}");
  dropped = 0;
  auto fm = FilterByEventTime(Signal::kMetrics, metrics, 100, 200, &dropped);
  ASSERT_TRUE(fm.ok());
  EXPECT_EQ(*CountRecords(Signal::kMetrics, *fm), 1);
  EXPECT_EQ(dropped, 2);
  EXPECT_EQ(fm->find(std::string("\x0a\x01s", 3)), std::string::npos);  // metric "s" dropped

  EXPECT_FALSE(FilterByEventTime(Signal::kTraces, std::string("\x0a\x05\x12", 3), 0, 1, &dropped).ok());
}

TEST(PrepareObject, CorruptTruncatedAndNotOtlpAreInvalid) {
  ListedObject o;
  o.key = "traces_1.json.gz";
  o.name = *ParseObjectName(o.key);
  const std::string gz = GzipBytes(SpansJson(3));
  auto truncated = PrepareObject(o, gz.substr(0, gz.size() / 2), {});
  EXPECT_TRUE(truncated.status().IsInvalid()) << truncated.status().ToString();
  auto corrupt = PrepareObject(o, "not gzip at all", {});
  EXPECT_TRUE(corrupt.status().IsInvalid()) << corrupt.status().ToString();
  o.key = "traces_1.json";
  o.name = *ParseObjectName(o.key);
  // Well-formed JSON, but a span ID that is neither hex nor base64: the ingest rules refuse it.
  auto bad = PrepareObject(o, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"spanId\":\"zz!\"}]}]}]}", {});
  EXPECT_TRUE(bad.status().IsInvalid()) << bad.status().ToString();
}

TEST(Retry, StatusClassesFollowTheOtlpSpec) {
  EXPECT_EQ(ClassifyHttpStatus(200), HttpVerdict::kOk);
  EXPECT_EQ(ClassifyHttpStatus(204), HttpVerdict::kOk);
  for (int s : {429, 502, 503, 504}) EXPECT_EQ(ClassifyHttpStatus(s), HttpVerdict::kRetry) << s;
  for (int s : {400, 401, 403, 404, 413, 415, 500}) EXPECT_EQ(ClassifyHttpStatus(s), HttpVerdict::kPermanent) << s;
}

TEST(Retry, RetryAfterSecondsAndHttpDate) {
  EXPECT_EQ(ParseRetryAfterMs("3", 0), 3000);
  EXPECT_EQ(ParseRetryAfterMs(" 0 ", 0), 0);
  EXPECT_EQ(ParseRetryAfterMs("", 0), -1);
  EXPECT_EQ(ParseRetryAfterMs("soon", 0), -1);
  EXPECT_EQ(ParseRetryAfterMs("-1", 0), -1);
  // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480.
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10000);
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);  // in the past
}

TEST(Retry, ExponentialBackoffIsBoundedAndRetryAfterWins) {
  RetryPolicy p;
  p.initial_backoff_ms = 500;
  p.max_backoff_ms = 4000;
  p.max_retry_after_ms = 60000;
  EXPECT_EQ(RetryDelayMs(p, 1, -1), 500);
  EXPECT_EQ(RetryDelayMs(p, 2, -1), 1000);
  EXPECT_EQ(RetryDelayMs(p, 3, -1), 2000);
  EXPECT_EQ(RetryDelayMs(p, 4, -1), 4000);
  EXPECT_EQ(RetryDelayMs(p, 40, -1), 4000);
  EXPECT_EQ(RetryDelayMs(p, 1, 7000), 7000);  // the server's word over the schedule
  EXPECT_EQ(RetryDelayMs(p, 1, 0), 0);
  EXPECT_EQ(RetryDelayMs(p, 1, 3600000), 60000);  // capped
}

TEST(Retry, PartialSuccessOfAnExportResponse) {
  otlp::ProtoWriter w;
  w.BeginMessage(1);
  w.Int64(1, 3);
  w.String(2, "span_id: 3 (wrong length)");
  w.EndMessage();
  int64_t rejected = -1;
  std::string message;
  EXPECT_TRUE(ParsePartialSuccess(w.data(), &rejected, &message));
  EXPECT_EQ(rejected, 3);
  EXPECT_EQ(message, "span_id: 3 (wrong length)");
  EXPECT_TRUE(ParsePartialSuccess("", &rejected, &message));  // an empty response: all accepted
  EXPECT_EQ(rejected, 0);
  EXPECT_FALSE(ParsePartialSuccess("{\"partialSuccess\":{}}", &rejected, &message));
}

TEST(OtlpHttpSink, RefusesUrlsItCannotUse) {
  for (const char* u : {"ftp://127.0.0.1:4318", "127.0.0.1:4318", "http://", "https://", "http://h:0", "http://h:99999"}) {
    OtlpHttpOptions o;
    o.url = u;
    EXPECT_TRUE(MakeOtlpHttpSink(o).status().IsInvalid()) << u;
  }
  for (const char* u : {"http://127.0.0.1:4318/base/", "https://otlp.example:4318", "https://otlp.example"}) {
    OtlpHttpOptions o;
    o.url = u;
    EXPECT_TRUE(MakeOtlpHttpSink(o).ok()) << u;
  }
}

TEST(OtlpHttpSink, ConnectionFailuresAreRetriedThenReported) {
  OtlpHttpOptions o;
  o.url = "http://127.0.0.1:1";  // nothing listens on port 1
  o.retry.max_attempts = 3;
  std::vector<int64_t> slept;
  o.sleep = [&](int64_t ms) { slept.push_back(ms); };
  auto sink = MakeOtlpHttpSink(o);
  ASSERT_TRUE(sink.ok());
  ListedObject l;
  l.key = "traces_1.json";
  l.name = *ParseObjectName(l.key);
  auto p = PrepareObject(l, SpansJson(1), {});
  ASSERT_TRUE(p.ok());
  Status st = (*sink)->Send(*p);
  EXPECT_TRUE(st.IsIOError()) << st.ToString();
  EXPECT_NE(st.message().find("after 3 attempts"), std::string::npos) << st.ToString();
  EXPECT_EQ(slept, (std::vector<int64_t>{500, 1000}));
  EXPECT_EQ((*sink)->retries(), 2);
}

class RecordingSink : public ReplaySink {
 public:
  Status Send(PreparedObject& o) override {
    std::lock_guard<std::mutex> lock(mu);
    if (o.listed->key.find("refused") != std::string::npos) return Status::Invalid("HTTP 400: no");
    keys.insert(o.listed->key);
    return Status::OK();
  }
  std::mutex mu;
  std::set<std::string> keys;
};

TEST(RunReplay, KeepsGoingPastBadObjectsAndReportsThem) {
  TempDir d;
  const std::string p = "year=2025/month=06/day=25/hour=14/minute=09/";
  Put(d.path(), p + "traces_1.json", SpansJson(2));
  Put(d.path(), p + "traces_2.json.gz", GzipBytes(SpansJson(3)));
  Put(d.path(), p + "traces_3.json.gz", "corrupt");
  Put(d.path(), p + "logs_4.json", LogsJson(4));
  Put(d.path(), p + "logs_refused.json", LogsJson(1));
  auto l = ListReplayObjects(Local(d), Window("2025-06-25T14:09:00Z", "2025-06-25T14:10:00Z"));
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  ASSERT_EQ(l->objects.size(), 5u);
  RecordingSink sink;
  ReplayOptions ro;
  ro.parallelism = 3;
  int progress_calls = 0;
  ro.progress = [&](const ReplayProgress&) { ++progress_calls; };
  ReplayReport r = RunReplay(Local(d), *l, &sink, ro);
  EXPECT_EQ(r.objects, 5);
  EXPECT_EQ(r.objects_ok, 3);
  EXPECT_EQ(r.objects_failed, 2);
  EXPECT_EQ(r.records, 2 + 3 + 4);
  EXPECT_EQ(r.bytes, l->bytes());
  EXPECT_GE(progress_calls, 1);
  ASSERT_EQ(r.failures.size(), 2u);
  EXPECT_EQ(r.failures[0].key, p + "logs_refused.json");
  EXPECT_EQ(r.failures[0].reason, "HTTP 400: no");
  EXPECT_EQ(r.failures[1].key, p + "traces_3.json.gz");
  EXPECT_EQ(r.failures[1].reason.rfind("corrupt gzip", 0), 0u) << r.failures[1].reason;  // no key
  EXPECT_EQ(sink.keys, (std::set<std::string>{p + "traces_1.json", p + "traces_2.json.gz", p + "logs_4.json"}));
}

TEST(DirSink, WritesJsonLinesAndBinpbAtTheKeyWithoutCompression) {
  TempDir src, out;
  const std::string p = "a/2025/";
  Put(src.path(), p + "traces_1.json.gz", GzipBytes("{\n  \"resourceSpans\": []\n}"));
  Put(src.path(), p + "logs_2.jsonl", LogsJson(1) + "\r\n" + LogsJson(2) + "\n");
  const std::string pb("\x0a\x00", 2);
  Put(src.path(), p + "metrics_3.binpb", pb);
  ListOptions lo = Window("2025-01-01", "2026-01-01");
  lo.window.s3_prefix = "a";
  lo.window.s3_partition_format = "%Y";
  auto l = ListReplayObjects(Local(src), lo);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  ASSERT_EQ(l->objects.size(), 3u);
  auto sink = MakeDirSink(out.path());
  ReplayReport r = RunReplay(Local(src), *l, sink.get(), {});
  EXPECT_EQ(r.objects_failed, 0) << (r.failures.empty() ? "" : r.failures[0].reason);
  auto read = [&](const std::string& k) {
    std::ifstream f(out.path() + "/" + k, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  EXPECT_EQ(read(p + "traces_1.jsonl"), "{   \"resourceSpans\": [] }\n");
  EXPECT_EQ(read(p + "logs_2.jsonl"), LogsJson(1) + "\n" + LogsJson(2) + "\n");
  EXPECT_EQ(read(p + "metrics_3.binpb"), pb);
}

}  // namespace
}  // namespace otlake::archive
