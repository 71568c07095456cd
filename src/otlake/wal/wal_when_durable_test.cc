// WalWriter::WhenDurable: the asynchronous ack. Every waiter is answered exactly once; an OK
// answer means the record survives a power cut; a failing disk answers with its error; Close and
// the destructor answer whoever still waits.
#include <errno.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "otlake/wal/fault_injection_env.h"
#include "otlake/wal/mem_env.h"
#include "otlake/wal/test_util.h"
#include "otlake/wal/wal_writer.h"

namespace otlake::wal {
namespace {

using testing::Payload;
using testing::Problems;
using testing::RecoverAll;
using testing::Recovered;
using testing::TempDir;

// Records every answer by LSN; counts answers per LSN (each must be answered exactly once).
class Answers {
 public:
  std::function<void(Status)> For(int64_t lsn) {
    return [this, lsn](Status st) {
      std::lock_guard lk(mu_);
      auto& a = by_lsn_[lsn];
      ++a.times;
      a.status = std::move(st);
      cv_.notify_all();
    };
  }
  // Waits until `n` distinct LSNs are answered (false on timeout).
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return by_lsn_.size() >= n; });
  }
  struct Answer {
    int times = 0;
    Status status;
  };
  std::map<int64_t, Answer> Snapshot() {
    std::lock_guard lk(mu_);
    return by_lsn_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, Answer> by_lsn_;
};

// An in-memory file system that can fail and lose unsynced bytes, and options for a log on it.
struct FaultyDisk {
  std::unique_ptr<Env> mem = NewMemEnv();
  FaultInjectionEnv env{mem.get()};
  WalOptions Options() {
    WalOptions o;
    o.dir = "wal";
    o.env = &env;
    return o;
  }
};

TEST(WalWhenDurable, OkAnswersSurviveAPowerCutAndShareSyncs) {
  FaultyDisk disk;
  FaultInjectionEnv& env = disk.env;
  WalOptions o = disk.Options();
  o.segment_bytes = 200000;  // several rotations
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
  Answers answers;
  constexpr int kThreads = 4, kPerThread = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        // Append assigns LSNs in order; the payload is a function of the LSN it got.
        auto lsn = w->Append(std::string(700, 'x'));
        ASSERT_TRUE(lsn.ok());
        w->WhenDurable(*lsn, answers.For(*lsn));
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(answers.WaitFor(kThreads * kPerThread));
  const auto got = answers.Snapshot();
  for (const auto& [lsn, a] : got) {
    EXPECT_EQ(a.times, 1) << "LSN " << lsn;
    EXPECT_TRUE(a.status.ok()) << a.status.ToString();
  }
  const auto stats = w->stats();
  // One group commit covers everyone waiting: fewer syncs than records (the threads append
  // faster than a sync completes, even on the in-memory file system's bookkeeping).
  EXPECT_LT(stats.syncs, stats.records);
  // A power cut right now: every record answered OK is there.
  WAL_ASSERT_OK(env.DropUnsyncedData());
  w.reset();
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", &env, true));
  EXPECT_GE(r.records.size(), got.size()) << Problems(r.stats);
  EXPECT_EQ(r.stats.corrupt_records, 0) << Problems(r.stats);
}

TEST(WalWhenDurable, AFailingSyncAnswersWithItsErrorAndTheLogRecovers) {
  FaultyDisk disk;
  FaultInjectionEnv& env = disk.env;
  WalOptions o = disk.Options();
  o.retry_backoff_ms = 20;
  o.max_retry_backoff_ms = 20;
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
  Answers answers;
  ASSERT_EQ(*w->Append(Payload(1, 100)), 1);
  w->WhenDurable(1, answers.For(1));
  ASSERT_TRUE(answers.WaitFor(1));
  EXPECT_TRUE(answers.Snapshot()[1].status.ok());

  env.SetFailSync(ENOSPC);
  ASSERT_EQ(*w->Append(Payload(2, 100)), 2);
  w->WhenDurable(2, answers.For(2));
  ASSERT_TRUE(answers.WaitFor(2));
  const Status failed = answers.Snapshot()[2].status;
  EXPECT_TRUE(failed.IsIOError()) << failed.ToString();
  EXPECT_NE(failed.message().find("No space left"), std::string::npos) << failed.ToString();
  EXPECT_EQ(w->durable_lsn(), 1);

  // Space again: the next record is answered OK once the backoff has passed, and the record
  // that failed is rewritten in front of it (LSNs stay contiguous).
  env.Reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  auto lsn3 = w->Append(Payload(3, 100));
  ASSERT_TRUE(lsn3.ok()) << lsn3.status().ToString();
  w->WhenDurable(*lsn3, answers.For(*lsn3));
  ASSERT_TRUE(answers.WaitFor(3));
  EXPECT_TRUE(answers.Snapshot()[3].status.ok()) << answers.Snapshot()[3].status.ToString();
  EXPECT_EQ(w->durable_lsn(), 3);
  WAL_ASSERT_OK(w->Close());
  WAL_ASSERT_OK(env.DropUnsyncedData());
  WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", &env, true));
  ASSERT_EQ(r.records.size(), 3u) << Problems(r.stats);
  for (int64_t lsn = 1; lsn <= 3; ++lsn) EXPECT_EQ(r.records[lsn - 1].second, Payload(lsn, 100));
}

TEST(WalWhenDurable, EveryWaiterIsAnsweredOnceWhenTheWriterGoesAway) {
  for (bool close : {true, false}) {
    FaultyDisk disk;
    FaultInjectionEnv& env = disk.env;
    WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(disk.Options(), 1));
    Answers answers;
    constexpr int kRecords = 2000;
    for (int i = 0; i < kRecords; ++i) {
      auto lsn = w->Append(std::string(300, 'y'));
      ASSERT_TRUE(lsn.ok());
      w->WhenDurable(*lsn, answers.For(*lsn));
    }
    if (close) {
      WAL_ASSERT_OK(w->Close());
      // Everything appended is durable after Close: every answer is OK.
      ASSERT_TRUE(answers.WaitFor(kRecords, std::chrono::milliseconds(0)));
      for (const auto& [lsn, a] : answers.Snapshot()) {
        EXPECT_TRUE(a.status.ok()) << "LSN " << lsn << ": " << a.status.ToString();
      }
      // Asked after Close: answered at once, from what is known.
      std::promise<Status> late;
      w->WhenDurable(kRecords, [&](Status st) { late.set_value(std::move(st)); });
      EXPECT_TRUE(late.get_future().get().ok());
    } else {
      w.reset();  // like a crash: whoever still waits hears an error, nobody waits forever
      ASSERT_TRUE(answers.WaitFor(kRecords, std::chrono::milliseconds(0)));
      WAL_ASSERT_OK(env.DropUnsyncedData());
      WAL_ASSIGN_OR_FAIL(Recovered r, RecoverAll("wal", &env, true));
      // An OK answer still means durable; an error makes no claim.
      for (const auto& [lsn, a] : answers.Snapshot()) {
        if (a.status.ok()) {
          EXPECT_LE(lsn, static_cast<int64_t>(r.records.size())) << Problems(r.stats);
        }
      }
    }
    for (const auto& [lsn, a] : answers.Snapshot()) ASSERT_EQ(a.times, 1) << "LSN " << lsn;
  }
}

TEST(WalWhenDurable, AnLsnNotYetAssignedIsInvalid) {
  auto mem = NewMemEnv();
  WalOptions o;
  o.dir = "wal";
  o.env = mem.get();
  WAL_ASSIGN_OR_FAIL(auto w, WalWriter::Open(o, 1));
  std::promise<Status> p;
  w->WhenDurable(1, [&](Status st) { p.set_value(std::move(st)); });
  EXPECT_TRUE(p.get_future().get().IsInvalid());
  WAL_ASSERT_OK(w->Close());
}

}  // namespace
}  // namespace otlake::wal
