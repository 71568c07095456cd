// Cross-checks the format against an independent implementation: the fuzz seed corpus is written
// by make_fuzz_corpus.py from docs/wal.md alone. Clean seeds must recover completely and, when
// re-written by WalWriter, come out byte for byte identical; damaged seeds must recover to what
// their names promise.
#include <gtest/gtest.h>

#include "otlake/wal/log_format.h"
#include "otlake/wal/mem_env.h"
#include "otlake/wal/test_util.h"
#include "otlake/wal/wal_writer.h"

namespace otlake::wal {
namespace {

using testing::Problems;
using testing::Recovered;

constexpr const char* kCorpus = "test/fuzz/wal_reader_corpus/";  // ctest runs in the source dir

Result<Recovered> RecoverSeed(const std::string& name, Env* env) {
  OTLAKE_ASSIGN_OR_RAISE(std::string bytes, Env::Default()->ReadFile(kCorpus + name));
  OTLAKE_RETURN_NOT_OK(env->CreateDir("wal"));
  OTLAKE_ASSIGN_OR_RAISE(auto f, env->NewWritableFile("wal/" + SegmentFileName(1)));
  OTLAKE_RETURN_NOT_OK(f->Append(bytes));
  return testing::RecoverAll("wal", env, /*repair=*/false);
}

TEST(WalCorpus, CleanSeedsRoundTripByteForByte) {
  for (const char* name : {"one-small.wal", "zero-payload.wal",
                           "fragmented.wal", "trailer.wal", "compressed.wal"}) {
    SCOPED_TRACE(name);
    auto env = NewMemEnv();
    WAL_ASSIGN_OR_FAIL(Recovered r, RecoverSeed(name, env.get()));
    EXPECT_TRUE(r.stats.problems.empty()) << Problems(r.stats);
    ASSERT_FALSE(r.records.empty());
    if (std::string(name) == "compressed.wal") continue;  // zstd bytes depend on the library
    auto out = NewMemEnv();
    WalOptions o;
    o.dir = "wal";
    o.env = out.get();
    WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
    for (const auto& [lsn, payload] : r.records) ASSERT_EQ(*w->Append(payload), lsn);
    WAL_ASSERT_OK(w->Close());
    WAL_ASSIGN_OR_FAIL(std::string ours, out->ReadFile("wal/" + SegmentFileName(1)));
    WAL_ASSIGN_OR_FAIL(std::string theirs, Env::Default()->ReadFile(std::string(kCorpus) + name));
    EXPECT_TRUE(ours == theirs) << "framing differs from the Python implementation";
  }
}

TEST(WalCorpus, DamagedSeedsRecoverToTheirValidRecords) {
  struct Case {
    const char* name;
    std::vector<int64_t> lsns;
    int64_t corrupt_records;
    bool torn_tail;
  };
  const Case cases[] = {
      {"empty.wal", {}, 0, false},
      {"bad-zstd.wal", {2}, 1, false},
      {"oversized-zstd.wal", {1}, 0, false},  // 2 MiB is within the production limit
      {"unknown-flags.wal", {2}, 1, false},
      {"torn-header.wal", {1}, 0, true},
      {"torn-fragment.wal", {1}, 0, true},
      {"bad-crc-then-resync.wal", {1, 4}, 2, false},
      {"zero-block.wal", {2}, 1, false},
      {"duplicate-lsn-and-gap.wal", {1, 2, 5}, 3, false},  // one duplicate, LSNs 3..4 missing
      {"orphan-middle.wal", {1}, 0, false},
      {"short-record.wal", {1}, 1, false},
      {"huge-lsn.wal", {1}, 1, false},
      {"length-past-block.wal", {}, 0, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto env = NewMemEnv();
    WAL_ASSIGN_OR_FAIL(Recovered r, RecoverSeed(c.name, env.get()));
    std::vector<int64_t> lsns;
    for (const auto& rec : r.records) lsns.push_back(rec.first);
    EXPECT_EQ(lsns, c.lsns) << Problems(r.stats);
    EXPECT_EQ(r.stats.corrupt_records, c.corrupt_records) << Problems(r.stats);
    EXPECT_EQ(r.stats.truncated_tail_bytes > 0, c.torn_tail) << Problems(r.stats);
  }
}

}  // namespace
}  // namespace otlake::wal
