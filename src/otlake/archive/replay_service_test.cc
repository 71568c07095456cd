#include "otlake/archive/replay_service.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace otlake::archive {
namespace {

std::string ErrorOf(const std::string& json) {
  auto r = ParseReplayRequest(json, "");
  return r.ok() ? "" : r.status().message();
}

TEST(ReplayRequest, BadSettingsAreNamed) {
  const std::string w = R"("starttime":"2025-06-25","endtime":"2025-06-26")";
  EXPECT_NE(ErrorOf("[]").find("JSON object"), std::string::npos);
  EXPECT_NE(ErrorOf("{" + w + "}").find("s3_bucket"), std::string::npos);  // no source
  EXPECT_NE(ErrorOf(R"({"s3_bucket":"b","source_dir":"/x",)" + w + "}").find("s3_bucket"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"source_dir":"rel/dir",)" + w + "}").find("source_dir"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"s3_bucket":"b","starttime":"25-06-2025","endtime":"2025-06-26"})").find("starttime"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"s3_bucket":"b","starttime":"2025-06-26","endtime":"2025-06-25"})").find("endtime"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"s3_bucket":"b","s3_partition_format":"%Y/%Q",)" + w + "}").find("s3_partition_format"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"s3_bucket":"b","s3_partition_timezone":"Europe/Nowhere",)" + w + "}")
                .find("s3_partition_timezone"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"s3_bucket":"b","signals":"events",)" + w + "}").find("signals"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"s3_bucket":"b","parallelism":0,)" + w + "}").find("parallelism"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"s3_bucket":"b","project":"a b",)" + w + "}").find("project"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"s3_bucket":"b","bucket":"x",)" + w + "}").find("unknown setting 'bucket'"),
            std::string::npos);
  // A secret is never echoed, even in an error about it.
  const std::string e = ErrorOf(R"({"s3_bucket":"b","secret_access_key":"TOPSECRET",)" + w + "}");
  EXPECT_NE(e.find("access_key_id"), std::string::npos);
  EXPECT_EQ(e.find("TOPSECRET"), std::string::npos);
  EXPECT_EQ(ErrorOf(R"({"s3_bucket":"b",)" + w + "}"), "");
}

TEST(ReplayRequest, DefaultsAndSecretsLeftOutOfItsJson) {
  auto r = ParseReplayRequest(
      R"({"s3_bucket":"b","access_key_id":"AKIA","secret_access_key":"TOPSECRET","session_token":"TOK",)"
      R"("starttime":"2025-06-25 14:00","endtime":"2025-06-25 15:00","signals":["logs"],"event_time":true})",
      "team-a");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->project, "team-a");  // the key's project
  EXPECT_EQ(r->signals, std::vector<Signal>{Signal::kLogs});
  EXPECT_TRUE(r->event_time);
  const std::string json = ReplayRequestJson(*r);
  EXPECT_EQ(json.find("TOPSECRET"), std::string::npos);
  EXPECT_EQ(json.find("TOK"), std::string::npos);
  EXPECT_NE(json.find("\"has_credentials\":true"), std::string::npos);
}

TEST(ReplayOrigins, CompleteResumeOrRestart) {
  std::vector<ReplayLedgerRow> rows = {
      {1, "processing", "aaaa", 0, 3, 0},  // all three documents durable
      {2, "processing", "bbbb", 0, 3, 0},  // the first two
      {3, "processing", "cccc", 2, 4, 0},  // resumed at 2, then 2 durable
      {4, "processing", "dddd", 0, 2, 0},  // none (another attempt's records do not count)
  };
  std::vector<std::string> origins = {
      MakeReplayOrigin(1, "aaaa", 0, 3), MakeReplayOrigin(1, "aaaa", 1, 3), MakeReplayOrigin(1, "aaaa", 2, 3),
      MakeReplayOrigin(2, "bbbb", 0, 3), MakeReplayOrigin(2, "bbbb", 1, 3),
      MakeReplayOrigin(3, "cccc", 2, 4),
      MakeReplayOrigin(4, "zzzz", 0, 2),
      "sources/4/dddd/0/2",  // another kind of origin
  };
  auto got = ReconcileReplayOrigins(rows, origins);
  EXPECT_EQ(got[1], -1);
  EXPECT_EQ(got[2], 2);
  EXPECT_EQ(got[3], 3);
  EXPECT_EQ(got[4], 0);
  EXPECT_EQ(MakeReplayOrigin(7, "ab12", 0, 5), "replay/7/ab12/0/5");
}

}  // namespace
}  // namespace otlake::archive

// ---------------------------------------------------------------------------------------------
// The service with a real Ingestor over a local-directory archive.

#include <rapidjson/document.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "otlake/common/time_util.h"
#include "otlake/ingest/ingestor.h"

namespace otlake::archive {
namespace {

rapidjson::Document WaitForJob(ReplayService* s, const std::string& id) {
  rapidjson::Document d;
  for (int i = 0; i < 600; ++i) {
    auto json = s->JobJson(id);
    EXPECT_TRUE(json.ok()) << json.status().ToString();
    d.Parse(json->c_str());
    const std::string status = d["status"].GetString();
    if (status != "listing" && status != "running") return d;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "job " << id << " did not finish";
  return d;
}

TEST(ReplayServiceTest, ReplaysIntoTheIngestorOnceThenSkipsWhatIsStored) {
  char tmpl[] = "/tmp/otlake_replay_service_testXXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::filesystem::create_directories(dir + "/inst/configs");
  const std::string part = dir + "/archive/year=2025/month=06/day=25/hour=14/minute=09";
  std::filesystem::create_directories(part);
  const int64_t now = NowUnixNanos();
  for (int i = 0; i < 3; ++i) {
    std::ofstream(part + "/traces_" + std::to_string(100 + i) + ".json")
        << R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10",)"
        << R"("spanId":"000000000000000)" << i + 1 << R"(","name":"op","startTimeUnixNano":")" << now
        << R"("},{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"00000000000000f)" << i
        << R"(","name":"op2","startTimeUnixNano":")" << now << R"("}]}]}]})";
  }
  std::ofstream(part + "/traces_999.json") << "{not json";  // reported, the rest goes on
  ingest::IngestOptions io;
  io.wal_dir = dir + "/inst/wal";
  io.wal_direct_io = false;
  io.pipeline.days_dir = dir + "/inst/days";
  auto in = ingest::Ingestor::Open(io);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  ReplayServiceOptions so;
  so.instance_root = dir + "/inst";
  so.ingestor = in->get();
  auto svc = ReplayService::Start(so);
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  const std::string body = R"({"source_dir":")" + dir + R"(/archive","starttime":"2025-06-25 14:00",)"
                           R"("endtime":"2025-06-25 15:00","project":"p1"})";
  for (int run = 0; run < 2; ++run) {
    auto req = ParseReplayRequest(body, "");
    ASSERT_TRUE(req.ok()) << req.status().ToString();
    auto id = (*svc)->Submit(*req);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    rapidjson::Document d = WaitForJob(svc->get(), *id);
    EXPECT_STREQ(d["status"].GetString(), "done");
    EXPECT_EQ(d["objects_failed"].GetInt64(), 1);
    EXPECT_EQ(d["failures"][0]["key"].GetString(),
              std::string("year=2025/month=06/day=25/hour=14/minute=09/traces_999.json"));
    if (run == 0) {
      EXPECT_EQ(d["objects_ok"].GetInt64(), 3);
      EXPECT_EQ(d["records"].GetInt64(), 6);
      EXPECT_EQ(d["objects_already"].GetInt64(), 0);
    } else {  // the ledger: nothing read or logged twice
      EXPECT_EQ(d["objects_ok"].GetInt64(), 0);
      EXPECT_EQ(d["records"].GetInt64(), 0);
      EXPECT_EQ(d["objects_already"].GetInt64(), 3);
      EXPECT_EQ(d["records_already"].GetInt64(), 6);
    }
  }
  EXPECT_EQ((*in)->wal_stats().last_lsn, 3);  // one WAL record per document, logged once
  // Into another project the same objects are new.
  std::string body2 = body;
  body2.replace(body2.find("\"p1\""), 4, "\"p2\"");
  auto other = ParseReplayRequest(body2, "");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto id = (*svc)->Submit(*other);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(WaitForJob(svc->get(), *id)["objects_ok"].GetInt64(), 3);
  EXPECT_EQ((*in)->wal_stats().last_lsn, 6);
  EXPECT_NE((*svc)->ListJson().find(*id), std::string::npos);
  (*svc)->Stop();
  ASSERT_TRUE((*in)->Stop().ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace otlake::archive
