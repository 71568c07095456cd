// S3 configuration (seed 000's names, precedence, partial configurations, no secret in any
// text), the days index (Depths' record shapes, folding, torn lines), and the Shipper without S3
// (local-only seal; phases after it refuse clearly), and the scheduler's S3 access check.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>

#include "otlake/common/file_util.h"
#include "otlake/lake/delta_table.h"
#include "otlake/lake/test_data.h"
#include "otlake/lake/test_util.h"
#include "otlake/ship/days_index.h"
#include "otlake/ship/s3_config.h"
#include "otlake/ship/scheduler.h"
#include "otlake/ship/shipper.h"

namespace otlake::ship {
namespace {

using Env = std::map<std::string, std::string>;

S3Settings Resolve(const Env& env, const Env& file = {}, const Env& flags = {}) {
  return ResolveS3Settings(
      [&](const char* n) -> std::optional<std::string> {
        auto it = env.find(n);
        if (it == env.end()) return std::nullopt;
        return it->second;
      },
      file, flags);
}

const Env kFull = {{"S3_BUCKET", "b"},
                   {"AWS_ACCESS_KEY_ID", "AKIAEXAMPLE1234"},
                   {"AWS_SECRET_ACCESS_KEY", "very-secret"},
                   {"AWS_REGION", "eu-west-1"},
                   {"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"}};

TEST(S3Config, NothingSetIsLocalOnlyNotAnError) {
  S3Settings s = Resolve({});
  EXPECT_FALSE(s.enabled());
  EXPECT_FALSE(s.any_set);
  EXPECT_TRUE(s.problem.empty());
}

TEST(S3Config, CompleteConfigurationWithAliases) {
  S3Settings s = Resolve({{"S3_BUCKET", "b"}, {"S3_ACCESS_KEY_ID", "k"}, {"S3_SECRET_ACCESS_KEY", "s"},
                          {"S3_URL", "https://minio:9000/"}, {"S3_PREFIX", "/depths-prod/"},
                          {"AWS_SESSION_TOKEN", "tok"}});
  ASSERT_TRUE(s.enabled()) << s.problem;
  EXPECT_EQ(s.config->access_key_id, "k");
  EXPECT_EQ(s.config->secret_access_key, "s");
  EXPECT_EQ(s.config->scheme(), "https");
  EXPECT_EQ(s.config->endpoint_host(), "minio:9000");
  EXPECT_EQ(s.config->region, "");  // may be empty
  EXPECT_EQ(s.config->DaysRoot("default"), "b/depths-prod/default/days");
  EXPECT_EQ(s.config->DaysUri("x"), "s3://b/depths-prod/x/days");
  EXPECT_EQ(s.config->session_token, "tok");
  // The first name of a row wins over its aliases.
  S3Settings t = Resolve({{"S3_BUCKET", "b"}, {"AWS_ACCESS_KEY_ID", "aws"}, {"S3_ACCESS_KEY_ID", "s3"},
                          {"S3_SECRET_KEY", "one"}, {"S3_SECRET_ACCESS_KEY", "two"}, {"AWS_ENDPOINT_URL", "http://h"}});
  ASSERT_TRUE(t.enabled());
  EXPECT_EQ(t.config->access_key_id, "aws");
  EXPECT_EQ(t.config->secret_access_key, "one");
  EXPECT_EQ(Resolve(kFull).config->DaysRoot("i"), "b/i/days");
}

TEST(S3Config, PartialConfigurationNamesExactlyTheMissingVariables) {
  Env e = kFull;
  e.erase("AWS_SECRET_ACCESS_KEY");
  S3Settings s = Resolve(e);
  EXPECT_FALSE(s.enabled());
  EXPECT_EQ(s.problem,
            "S3 configuration is incomplete: AWS_SECRET_ACCESS_KEY (or S3_SECRET_KEY, S3_SECRET_ACCESS_KEY) is "
            "not set; shipping is disabled");
  S3Settings two = Resolve({{"S3_BUCKET", "b"}, {"AWS_SECRET_ACCESS_KEY", "x"}});
  EXPECT_EQ(two.problem,
            "S3 configuration is incomplete: AWS_ACCESS_KEY_ID (or S3_ACCESS_KEY_ID) and AWS_ENDPOINT_URL (or "
            "S3_URL) are not set; shipping is disabled");
  // Empty counts as unset, except the region.
  e = kFull;
  e["S3_BUCKET"] = "";
  EXPECT_NE(Resolve(e).problem.find("S3_BUCKET is not set"), std::string::npos);
  e = kFull;
  e["AWS_REGION"] = "";
  EXPECT_TRUE(Resolve(e).enabled());
  // Only a region or a prefix is not "some S3 configuration".
  EXPECT_TRUE(Resolve({{"AWS_REGION", "us-east-1"}}).problem.empty());
  EXPECT_FALSE(Resolve({{"S3_PREFIX", "p"}}).problem.empty());
}

TEST(S3Config, BadValuesAreRefusedWithAReason) {
  Env e = kFull;
  e["AWS_ENDPOINT_URL"] = "ftp://host";
  EXPECT_NE(Resolve(e).problem.find("http:// or https://"), std::string::npos);
  e = kFull;
  e["S3_BUCKET"] = "b/p";
  EXPECT_NE(Resolve(e).problem.find("S3_PREFIX"), std::string::npos);
}

TEST(S3Config, FlagsOverrideEnvironmentOverridesFile) {
  Env file = kFull;
  file["S3_BUCKET"] = "file";
  file["S3_PREFIX"] = "fp";
  S3Settings s = Resolve({{"S3_BUCKET", "env"}}, file);
  ASSERT_TRUE(s.enabled());
  EXPECT_EQ(s.config->bucket, "env");
  EXPECT_EQ(s.config->prefix, "fp");
  S3Settings f = Resolve({{"S3_BUCKET", "env"}}, file, {{"S3_BUCKET", "flag"}});
  EXPECT_EQ(f.config->bucket, "flag");
  // An alias in the environment beats the canonical name in the file.
  S3Settings a = Resolve({{"S3_URL", "http://env:1"}}, file);
  EXPECT_EQ(a.config->endpoint_url, "http://env:1");
}

TEST(S3Config, NoSecretInAnyText) {
  Env e = kFull;
  e["AWS_SESSION_TOKEN"] = "session-secret";
  S3Settings s = Resolve(e);
  const std::string d = s.Describe("default");
  EXPECT_EQ(d.find("very-secret"), std::string::npos) << d;
  EXPECT_EQ(d.find("session-secret"), std::string::npos) << d;
  EXPECT_EQ(d.find("AKIAEXAMPLE1234"), std::string::npos) << d;  // only its last 4 characters
  EXPECT_NE(d.find("…1234"), std::string::npos) << d;
  for (const auto& src : s.sources) EXPECT_EQ(src.find("very-secret"), std::string::npos);
  e.erase("AWS_ENDPOINT_URL");
  S3Settings p = Resolve(e);
  EXPECT_EQ(p.problem.find("very-secret"), std::string::npos);
  EXPECT_EQ(p.Describe("x").find("very-secret"), std::string::npos);
}

TEST(S3Config, ConfigFile) {
  lake::testing::TempDir tmp;
  const std::string path = tmp / "otlake.env";
  {
    std::ofstream f(path);
    f << "# comment\n\nexport S3_BUCKET=\"quoted\"\nAWS_SECRET_ACCESS_KEY='s e c'\n  S3_PREFIX = p  \n";
  }
  ::chmod(path.c_str(), 0644);
  std::vector<std::string> warnings;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto kv, ReadConfigFile(path, &warnings));
  EXPECT_EQ(kv["S3_BUCKET"], "quoted");
  EXPECT_EQ(kv["AWS_SECRET_ACCESS_KEY"], "s e c");
  EXPECT_EQ(kv["S3_PREFIX"], "p");
  ASSERT_EQ(warnings.size(), 1u);  // a secret others can read
  EXPECT_NE(warnings[0].find("chmod 600"), std::string::npos);
  EXPECT_EQ(warnings[0].find("s e c"), std::string::npos);
  {
    std::ofstream f(path);
    f << "S3_BUCKET=ok\nthis is not a line\n";
  }
  auto bad = ReadConfigFile(path, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":2: expected KEY=VALUE"), std::string::npos);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto none, ReadConfigFile(tmp / "missing.env", nullptr));
  EXPECT_TRUE(none.empty());
}

// ---------------------------------------------------------------------------------------------

PhaseRecord Sealed(const std::string& day, int64_t rows) {
  PhaseRecord r;
  r.instance_id = "default";
  r.day = day;
  r.phase = Phase::kSealed;
  r.rows = rows;
  r.version = 3;
  TableEntry t;
  t.name = "otel/spans";
  t.rows = rows;
  t.version = 3;
  t.wal_lsn = 17;
  r.tables.push_back(t);
  return r;
}

TEST(DaysIndex, RecordsRoundTripInDepthsShape) {
  PhaseRecord s = Sealed("2026-11-25", 42);
  s.when_utc = "2026-11-26T00:10:00Z";
  const std::string line = EncodeRecord(s);
  EXPECT_NE(line.find("\"phase\":\"sealed\",\"ok\":true,\"local\":{\"rows\":42,\"version\":3"), std::string::npos)
      << line;
  EXPECT_NE(line.find("{\"name\":\"otel/spans\",\"rows\":42,\"ver\":3"), std::string::npos) << line;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto back, DecodeRecord(line));
  EXPECT_EQ(back.rows, 42);
  ASSERT_EQ(back.tables.size(), 1u);
  EXPECT_EQ(back.tables[0].wal_lsn, 17);
  EXPECT_EQ(back.tables[0].version, 3);

  PhaseRecord u;
  u.instance_id = "default";
  u.day = "2026-11-25";
  u.phase = Phase::kUploaded;
  u.ok = false;
  u.errors = {"e1", "e2", "e3", "e4"};
  u.error = "e1";
  u.uploaded = 2;
  u.skipped = 1;
  TableEntry t;
  t.name = "otel/logs";
  u.tables.push_back(t);
  const std::string ul = EncodeRecord(u);
  EXPECT_NE(ul.find("\"upload\":{\"uploaded\":2,\"skipped\":1,\"errors\":[\"e1\",\"e2\",\"e3\"],\"tables\":[\"otel/logs\"]"),
            std::string::npos)
      << ul;
  // Depths' own records parse too.
  OTLAKE_ASSERT_OK_AND_ASSIGN(
      auto depths, DecodeRecord("{\"instance_id\":\"default\",\"day\":\"2025-10-01\",\"phase\":\"verified\",\"ok\":false,"
                                "\"reason\":\"upload_errors\",\"remote\":{\"rows\":null,\"version\":null},"
                                "\"when_utc\":\"2025-10-02T00:00:05Z\"}"));
  EXPECT_FALSE(depths.ok);
  EXPECT_EQ(depths.error, "upload_errors");
  EXPECT_FALSE(DecodeRecord("{\"day\":\"x\",\"phase\":\"bogus\"}").ok());
  EXPECT_FALSE(DecodeRecord("not json").ok());
}

TEST(DaysIndex, FoldKeepsTheFurthestSuccessAndCountsFailures) {
  std::vector<PhaseRecord> recs = {Sealed("2026-11-25", 10)};
  PhaseRecord fail;
  fail.day = "2026-11-25";
  fail.phase = Phase::kUploaded;
  fail.ok = false;
  fail.error = "NoSuchBucket";
  recs.push_back(fail);
  recs.push_back(fail);
  auto st = FoldRecords(recs)["2026-11-25"];
  EXPECT_EQ(st.done, Phase::kSealed);
  EXPECT_EQ(st.failures, 2);
  EXPECT_EQ(st.failed_phase, Phase::kUploaded);
  EXPECT_EQ(st.last_error, "NoSuchBucket");
  EXPECT_EQ(st.sealed.rows, 10);
  PhaseRecord up;
  up.day = "2026-11-25";
  up.phase = Phase::kUploaded;
  recs.push_back(up);
  st = FoldRecords(recs)["2026-11-25"];
  EXPECT_EQ(st.done, Phase::kUploaded);
  EXPECT_EQ(st.failures, 0);
  // A copy that verified wrong goes back to "sealed" (uploaded again); an unreachable S3 does not.
  PhaseRecord bad;
  bad.day = "2026-11-25";
  bad.phase = Phase::kVerified;
  bad.ok = false;
  bad.reason = "s3_unreachable";
  recs.push_back(bad);
  EXPECT_EQ(FoldRecords(recs)["2026-11-25"].done, Phase::kUploaded);
  bad.reason = "mismatch";
  recs.push_back(bad);
  EXPECT_EQ(FoldRecords(recs)["2026-11-25"].done, Phase::kSealed);
}

TEST(DaysIndex, AppendSurvivesATornLastLineAndWritesDayJson) {
  lake::testing::TempDir tmp;
  DaysIndex index(tmp / "index");
  OTLAKE_ASSERT_OK(index.Append(Sealed("2026-11-24", 1)));
  // A crash in the middle of an append leaves half a line.
  {
    std::ofstream f(index.jsonl_path(), std::ios::app);
    f << "{\"instance_id\":\"default\",\"day\":\"2026-11-2";
  }
  OTLAKE_ASSERT_OK(index.Append(Sealed("2026-11-25", 2)));
  int bad = 0;
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto all, index.ReadAll(&bad));
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(bad, 1);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto st, index.Load());
  EXPECT_EQ(st["2026-11-25"].sealed.rows, 2);
  OTLAKE_ASSERT_OK_AND_ASSIGN(std::string snapshot, ReadFile(tmp / "index/day.json"));
  EXPECT_EQ(snapshot.front(), '[');
  EXPECT_NE(snapshot.find("2026-11-24"), std::string::npos);
  EXPECT_NE(snapshot.find("2026-11-25"), std::string::npos);
  EXPECT_FALSE(all[0].when_utc.empty());
}

// ---------------------------------------------------------------------------------------------

TEST(Shipper, LocalOnlySealsAndRefusesToUploadWithoutS3) {
  lake::testing::TempDir tmp;
  const std::string root = tmp.path();
  const std::string table_dir = root + "/staging/days/2026-11-25/otel/spans";
  {
    OTLAKE_ASSERT_OK_AND_ASSIGN(auto w, lake::DeltaTableWriter::Open(table_dir, table::TableId::kSpans, {}));
    for (int i = 0; i < 3; ++i) {
      auto b = lake::testing::MakeBatch(table::TableId::kSpans, 100, lake::testing::Seeded(i));
      OTLAKE_ASSERT_OK(w->Append({b.get()}).status());
    }
  }
  ShipperOptions so;
  so.instance_id = "default";
  so.instance_root = root;
  Shipper shipper(so);
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto st, shipper.Run("2026-11-25", Phase::kSealed));
  EXPECT_EQ(st.done, Phase::kSealed);
  EXPECT_EQ(st.sealed.rows, 300);
  ASSERT_EQ(st.sealed.tables.size(), 1u);
  EXPECT_EQ(st.sealed.tables[0].files_before, 3);
  EXPECT_EQ(st.sealed.tables[0].files, 1);
  // Again: nothing to do, nothing recorded.
  OTLAKE_ASSERT_OK(shipper.Run("2026-11-25", Phase::kSealed).status());
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto recs, shipper.index()->ReadAll());
  EXPECT_EQ(recs.size(), 1u);
  // Upload without S3: a clear error, recorded, the local day kept.
  auto up = shipper.Run("2026-11-25", Phase::kCleaned);
  ASSERT_FALSE(up.ok());
  EXPECT_NE(up.status().message().find("S3 is not configured"), std::string::npos);
  OTLAKE_ASSERT_OK_AND_ASSIGN(recs, shipper.index()->ReadAll());
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].phase, Phase::kUploaded);
  EXPECT_FALSE(recs[1].ok);
  EXPECT_TRUE(std::filesystem::exists(table_dir));
  // A day that is not there.
  EXPECT_FALSE(shipper.Run("2026-11-20", Phase::kSealed).ok());
  EXPECT_TRUE(shipper.Run("20261120", Phase::kSealed).status().IsInvalid());
}

// The access check runs in the first pass, on every pass while it fails, and only every
// s3_recheck_ms once it succeeds; /healthz's s3_access and Problem() follow it.
TEST(Scheduler, S3AccessCheckedAtStartRetriedWhileFailing) {
  lake::testing::TempDir tmp;
  std::atomic<int> calls{0};
  std::atomic<bool> reachable{false};
  std::atomic<int64_t> now{1'700'000'000'000};
  SchedulerOptions o;
  o.shipper.instance_id = "default";
  o.shipper.instance_root = tmp.path();
  o.check_interval_ms = 5;
  o.s3_recheck_ms = 60'000;
  o.now_ms = [&] { return now.load(); };
  o.check_s3 = [&]() -> Status {
    ++calls;
    return reachable ? Status::OK() : Status::IOError("bucket 'b' does not exist at http://s3");
  };
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 2000 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return pred();
  };
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto sched, Scheduler::Start(o));
  ASSERT_TRUE(wait_for([&] { return calls >= 3; }));  // failing: every pass
  EXPECT_NE(sched->StatusJson().find(R"("s3_access":{"ok":false,"error":"bucket 'b' does not exist at http://s3")"),
            std::string::npos) << sched->StatusJson();
  EXPECT_EQ(sched->Problem(), "S3 is not usable: bucket 'b' does not exist at http://s3");
  reachable = true;
  ASSERT_TRUE(wait_for([&] { return sched->StatusJson().find(R"("s3_access":{"ok":true,"error":null)") != std::string::npos; }))
      << sched->StatusJson();
  EXPECT_EQ(sched->Problem(), "");
  const int after = calls;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // ~20 passes, clock unchanged
  EXPECT_EQ(calls, after);
  now += 60'000;  // recheck due
  ASSERT_TRUE(wait_for([&] { return calls > after; }));
  sched->Stop();
}

TEST(Scheduler, NoS3NoAccessCheck) {
  lake::testing::TempDir tmp;
  SchedulerOptions o;
  o.shipper.instance_id = "default";
  o.shipper.instance_root = tmp.path();
  OTLAKE_ASSERT_OK_AND_ASSIGN(auto sched, Scheduler::Start(o));
  EXPECT_NE(sched->StatusJson().find(R"("s3_access":null)"), std::string::npos) << sched->StatusJson();
  sched->Stop();
}

}  // namespace
}  // namespace otlake::ship
