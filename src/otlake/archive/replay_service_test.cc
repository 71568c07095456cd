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
