#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "otlake/sources/connector.h"
#include "otlake/sources/secret_box.h"
#include "otlake/sources/source.h"
#include "otlake/sources/store.h"

namespace otlake::sources {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/otlake_sources_testXXXXXX";
  return mkdtemp(tmpl);
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

constexpr const char* kMinimal = R"({"name":"n","bucket":"my-bucket","application_ids":["proj"]})";

Status Create(std::string_view body, Source* s) {
  Status st = ApplySourceJson(body, false, s);
  return st.ok() ? ValidateSource(*s) : st;
}

TEST(SourceValidation, DefaultsAreTheSeeds) {
  Source s;
  ASSERT_TRUE(Create(kMinimal, &s).ok());
  EXPECT_EQ(s.provider, "s3");
  EXPECT_EQ(s.prefix, "");
  EXPECT_EQ(s.file_extensions, std::vector<std::string>{".json"});
  EXPECT_EQ(s.credential_type, "iam_role");
  EXPECT_EQ(s.scan_interval_seconds, 60);
  EXPECT_EQ(s.project(), "proj");
}

TEST(SourceValidation, EachBadFieldIsNamed) {
  struct Case {
    const char* body;
    const char* field;
  } cases[] = {
      {R"({"bucket":"my-bucket","application_ids":["p"]})", "'name'"},
      {R"({"name":"","bucket":"my-bucket","application_ids":["p"]})", "'name'"},
      {R"({"name":"n","application_ids":["p"]})", "'bucket'"},
      {R"({"name":"n","bucket":"s3://b","application_ids":["p"]})", "'bucket'"},
      {R"({"name":"n","bucket":"my-bucket"})", "'application_ids'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["a","b"]})", "'application_ids'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":[]})", "'application_ids'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"provider":"ftp"})", "'provider'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"provider":"hdfs"})", "'provider'"},
      {R"({"name":"n","bucket":"my_bucket","application_ids":["p"],"provider":"s3"})", "'bucket'"},
      {R"({"name":"n","bucket":"my.bucket","application_ids":["p"],"provider":"azure","access_key_id":"acct"})", "'bucket'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"provider":"azure"})", "'access_key_id'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"provider":"gcs","role_arn":"arn:aws:iam::1:role/r"})", "'role_arn'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"provider":"gcs","credential_type":"access_key","secret_access_key":"abc"})", "'secret_access_key'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"credential_type":"anonymous","role_arn":"arn:aws:iam::1:role/r"})", "'role_arn'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"scan_interval_seconds":9})", "'scan_interval_seconds'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"scan_interval_seconds":"60"})", "'scan_interval_seconds'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"file_extensions":[".csv"]})", "'file_extensions'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"file_extensions":[]})", "'file_extensions'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"credential_type":"password"})", "'credential_type'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"credential_type":"access_key"})", "'access_key_id'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"credential_type":"access_key","access_key_id":"A"})", "'secret_access_key'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"endpoint_url":"ftp://x"})", "'endpoint_url'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"region":"US WEST"})", "'region'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"role_arn":"role"})", "'role_arn'"},
      {R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"nmae":"x"})", "'nmae'"},
  };
  for (const Case& c : cases) {
    Source s;
    Status st = Create(c.body, &s);
    ASSERT_TRUE(st.IsInvalid()) << c.body;
    EXPECT_NE(st.message().find(c.field), std::string::npos) << c.body << " -> " << st.message();
  }
  Source s;
  const std::string long_name = R"({"name":")" + std::string(256, 'x') + R"(","bucket":"my-bucket","application_ids":["p"]})";
  EXPECT_TRUE(Create(long_name, &s).IsInvalid());
  const std::string ok_name = R"({"name":")" + std::string(255, 'x') + R"(","bucket":"my-bucket","application_ids":["p"]})";
  EXPECT_TRUE(Create(ok_name, &s).ok());
  const std::string long_desc = R"({"name":"n","description":")" + std::string(1001, 'x') +
                                R"(","bucket":"my-bucket","application_ids":["p"]})";
  Status st = Create(long_desc, &s);
  EXPECT_NE(st.message().find("'description'"), std::string::npos);
  EXPECT_TRUE(Create("not json", &s).IsInvalid());
}

TEST(SourceValidation, ProvidersGcsAndAzure) {
  Source s;
  EXPECT_TRUE(Create(R"({"name":"n","bucket":"my_bucket","application_ids":["p"],"provider":"gcs",
      "credential_type":"anonymous","endpoint_url":"http://127.0.0.1:4443"})", &s).ok());
  EXPECT_TRUE(Create(R"({"name":"n","bucket":"b-1","application_ids":["p"],"provider":"gcs",
      "credential_type":"access_key","secret_access_key":"{\"type\":\"service_account\"}"})", &s).ok());
  EXPECT_TRUE(Create(R"({"name":"n","bucket":"logs","application_ids":["p"],"provider":"azure",
      "credential_type":"access_key","access_key_id":"devstoreaccount1","secret_access_key":"a2V5"})", &s).ok());
  EXPECT_TRUE(Create(R"({"name":"n","bucket":"logs","application_ids":["p"],"provider":"azure",
      "endpoint_url":"https://acct.blob.core.windows.net"})", &s).ok());
}

TEST(SourceValidation, PublicJsonHasNoSecret) {
  Source s;
  ASSERT_TRUE(Create(R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"credential_type":"access_key",
      "access_key_id":"AKIAEXAMPLEKEYID","secret_access_key":"super-secret-value"})", &s).ok());
  const std::string j = SourceJson(s);
  EXPECT_EQ(j.find("AKIAEXAMPLEKEYID"), std::string::npos);
  EXPECT_EQ(j.find("super-secret-value"), std::string::npos);
  EXPECT_NE(j.find("\"has_credentials\":true"), std::string::npos);
}

TEST(SecretBox, RoundTripsAndDetectsTampering) {
  SecretBox box(std::string(32, 'k'));
  const std::string plain = "a secret that is longer than one 32-byte keystream block, for sure";
  const std::string sealed = box.Seal(plain);
  EXPECT_EQ(sealed.find("secret"), std::string::npos);
  EXPECT_NE(box.Seal(plain), sealed);  // a fresh nonce each time
  auto opened = box.Open(sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, plain);
  for (size_t i = 0; i < sealed.size(); i += 7) {
    std::string bad = sealed;
    bad[i] ^= 1;
    EXPECT_FALSE(box.Open(bad).ok()) << i;
  }
  EXPECT_FALSE(SecretBox(std::string(32, 'j')).Open(sealed).ok());
  EXPECT_FALSE(box.Open("v1short").ok());
}

TEST(SecretBox, KeyFileIsCreated0600AndReused) {
  const std::string dir = TempDir();
  const std::string path = dir + "/sources.key";
  auto a = SecretBox::OpenKeyFile(path);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto b = SecretBox::OpenKeyFile(path);
  ASSERT_TRUE(b.ok());
  auto opened = b->Open(a->Seal("x"));
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "x");
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    auto st = SourceStore::Open(dir_ + "/sources.sqlite", SecretBox(std::string(32, 'k')));
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(*st);
    ASSERT_TRUE(Create(R"({"name":"n","bucket":"my-bucket","application_ids":["p"],"credential_type":"access_key",
        "access_key_id":"AKIAEXAMPLEKEYID","secret_access_key":"super-secret-value"})", &src_).ok());
    src_.id = "s1";
    ASSERT_TRUE(store_->CreateSource(src_).ok());
  }
  std::string dir_;
  std::unique_ptr<SourceStore> store_;
  Source src_;
};

TEST_F(StoreTest, SecretsRoundTripButNotInTheFile) {
  auto s = store_->GetSource("s1");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->secret_access_key, "super-secret-value");
  EXPECT_EQ(s->access_key_id, "AKIAEXAMPLEKEYID");
  store_.reset();  // checkpoint the WAL into the file
  std::string bytes = ReadAll(dir_ + "/sources.sqlite") + ReadAll(dir_ + "/sources.sqlite-wal");
  EXPECT_EQ(bytes.find("super-secret-value"), std::string::npos);
  EXPECT_EQ(bytes.find("AKIAEXAMPLEKEYID"), std::string::npos);
  EXPECT_NE(bytes.find("my-bucket"), std::string::npos);
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/sources.sqlite").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(StoreTest, NamesAreUnique) {
  Source other = src_;
  other.id = "s2";
  EXPECT_TRUE(store_->CreateSource(other).IsAlreadyExists());
}

TEST_F(StoreTest, StateTransitions) {
  ASSERT_TRUE(*store_->Observe("s1", "a.json", "t1", 10, 1000));
  ASSERT_FALSE(*store_->Observe("s1", "a.json", "t1", 10, 1001));  // unchanged: not new
  auto f = store_->ClaimNext(2000);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->status, "processing");
  EXPECT_FALSE(store_->ClaimNext(2000)->has_value());  // nothing else pending
  // Overwritten while processing: not noted now, so the scan after completion re-queues it.
  EXPECT_FALSE(*store_->Observe("s1", "a.json", "t9", 99, 2001));
  EXPECT_EQ(store_->GetFile("s1", (*f)->id)->etag, "t1");
  // Transient errors: back to pending with retries + 1 and a backoff, then failed.
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(*store_->Transient((*f)->id, "503 SlowDown", 3000, 100), "pending");
    EXPECT_FALSE(store_->ClaimNext(3050)->has_value());  // backoff not over
    auto again = store_->ClaimNext(3100);
    ASSERT_TRUE(again->has_value());
    EXPECT_EQ((*again)->retries, i);
  }
  EXPECT_EQ(*store_->Transient((*f)->id, "503 SlowDown", 4000, 100), "failed");
  auto failed = store_->GetFile("s1", (*f)->id);
  EXPECT_EQ(failed->status, "failed");
  EXPECT_NE(failed->error_message.find("after 3 retries"), std::string::npos);
  // Retry re-queues with retries 0; a pending file cannot be retried.
  ASSERT_TRUE(store_->RetryFile("s1", (*f)->id).ok());
  EXPECT_TRUE(store_->RetryFile("s1", (*f)->id).status().IsInvalid());
  auto g = store_->ClaimNext(5000);
  ASSERT_TRUE(g->has_value());
  EXPECT_EQ((*g)->retries, 0);
  ASSERT_TRUE(store_->Complete((*g)->id, 4, 6000).ok());
  auto stats = store_->Stats("s1");
  EXPECT_EQ(stats->completed, 1);
  EXPECT_EQ(stats->spans, 4);
  EXPECT_EQ(stats->last_completed_ms, 6000);
  // Completed is not reprocessed unless the object changes.
  EXPECT_FALSE(*store_->Observe("s1", "a.json", "t1", 10, 7000));
  EXPECT_TRUE(*store_->Observe("s1", "a.json", "t2", 11, 7000));
  EXPECT_EQ(store_->GetFile("s1", (*g)->id)->status, "pending");
}

TEST_F(StoreTest, PermanentFailureAndRetryFailed) {
  for (const char* k : {"a.json", "b.json", "c.json"}) ASSERT_TRUE(*store_->Observe("s1", k, "t", 1, 1));
  for (int i = 0; i < 2; ++i) {
    auto f = store_->ClaimNext(10);
    ASSERT_TRUE(store_->Fail((*f)->id, "malformed file", 20).ok());
  }
  int64_t total = 0;
  auto failed = store_->ListFiles("s1", "failed", 100, 0, &total);
  EXPECT_EQ(total, 2);
  EXPECT_EQ(failed->size(), 2u);
  EXPECT_EQ(*store_->RetryFailed("s1"), 2);
  EXPECT_EQ(store_->Stats("s1")->pending, 3);
  auto page = store_->ListFiles("s1", "", 2, 2, &total);
  EXPECT_EQ(total, 3);
  EXPECT_EQ(page->size(), 1u);
}

TEST_F(StoreTest, ProcessingIsResetAtStart) {
  ASSERT_TRUE(*store_->Observe("s1", "a.json", "t", 1, 1));
  ASSERT_TRUE(store_->ClaimNext(10)->has_value());
  EXPECT_EQ(*store_->ResetProcessing(), 1);
  EXPECT_TRUE(store_->ClaimNext(10)->has_value());
}

TEST_F(StoreTest, DeleteRemovesFiles) {
  ASSERT_TRUE(*store_->Observe("s1", "a.json", "t", 1, 1));
  ASSERT_TRUE(store_->DeleteSource("s1").ok());
  EXPECT_TRUE(store_->GetSource("s1").status().IsKeyError());
  EXPECT_FALSE(store_->ClaimNext(10)->has_value());
  EXPECT_TRUE(store_->DeleteSource("s1").IsKeyError());
}

TEST_F(StoreTest, AttemptIsKeptWhenResuming) {
  ASSERT_TRUE(*store_->Observe("s1", "a.jsonl", "t", 1, 1));
  auto f = store_->ClaimNext(10);
  ASSERT_TRUE(f->has_value());
  const std::string attempt = (*f)->attempt;
  EXPECT_FALSE(attempt.empty());
  // Two of its documents durable, then a transient error: resumes at 2 under the same attempt.
  EXPECT_EQ(*store_->Resume((*f)->id, 2, "ingest failed", 20, 0, true), "pending");
  auto g = store_->ClaimNext(30);
  ASSERT_TRUE(g->has_value());
  EXPECT_EQ((*g)->resume_doc, 2);
  EXPECT_EQ((*g)->attempt, attempt);
  EXPECT_EQ((*g)->retries, 1);
  // A changed object starts over with a new attempt.
  ASSERT_TRUE(store_->Complete((*g)->id, 3, 40).ok());
  ASSERT_TRUE(*store_->Observe("s1", "a.jsonl", "t2", 2, 50));
  auto h = store_->ClaimNext(60);
  EXPECT_EQ((*h)->resume_doc, 0);
  EXPECT_NE((*h)->attempt, attempt);
}

TEST(ReconcileOrigins, CompletesOrResumesFromWhatTheWalHolds) {
  FileRow a, b, c, d;
  a.id = 1, a.attempt = "x";  // all 3 documents durable
  b.id = 2, b.attempt = "y";  // documents 0 and 1 of 3 durable
  c.id = 3, c.attempt = "z";  // nothing durable (its old attempt's records do not count)
  d.id = 4, d.attempt = "w", d.resume_doc = 2;  // resumed at 2; 2 of 3 durable now
  const std::vector<std::string> origins = {
      MakeOrigin(1, "x", 0, 3), MakeOrigin(1, "x", 1, 3), MakeOrigin(2, "y", 0, 3), MakeOrigin(1, "x", 2, 3),
      MakeOrigin(2, "y", 1, 3), MakeOrigin(3, "old", 0, 1), MakeOrigin(4, "w", 2, 3), "not/ours"};
  auto r = ReconcileOrigins({a, b, c, d}, origins);
  EXPECT_EQ(r[1], -1);
  EXPECT_EQ(r[2], 2);
  EXPECT_EQ(r[3], 0);
  EXPECT_EQ(r[4], -1);
}

TEST(DecodeFile, PicksSignalAndFormat) {
  auto t = DecodeFileBytes("x/a.json", R"({"resourceSpans":[]})", 1 << 20);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)[0].signal, 0);
  auto l = DecodeFileBytes("x/a.json", R"({"resourceLogs":[]})", 1 << 20);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ((*l)[0].signal, 1);
  auto j = DecodeFileBytes("x/a.jsonl", "{\"resourceSpans\":[]}\n{\"resourceSpans\":[]}\n", 1 << 20);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->size(), 2u);
  EXPECT_TRUE(DecodeFileBytes("x/a.json", "{not json", 1 << 20).status().IsInvalid());
  EXPECT_TRUE(DecodeFileBytes("x/a.json.gz", "plain", 1 << 20).status().IsInvalid());
}

TEST(ClassifyS3Error, NamesTheCause) {
  EXPECT_EQ(ClassifyS3Error("AWS Error NO_SUCH_BUCKET ... NoSuchBucket").code, "NoSuchBucket");
  EXPECT_EQ(ClassifyS3Error("AWS Error ACCESS_DENIED during ListObjectsV2").code, "AccessDenied");
  EXPECT_TRUE(ClassifyS3Error("AccessDenied").permanent);
  EXPECT_EQ(ClassifyS3Error("InvalidAccessKeyId: The AWS Access Key Id").code, "InvalidAccessKeyId");
  EXPECT_EQ(ClassifyS3Error("curlCode: 7, Couldn't connect to server").code, "EndpointUnreachable");
  EXPECT_FALSE(ClassifyS3Error("curlCode: 7, Couldn't connect to server").permanent);
  EXPECT_FALSE(ClassifyS3Error("HTTP 503 SlowDown").permanent);
}

}  // namespace
}  // namespace otlake::sources
