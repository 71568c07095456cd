#include "otlake/server/memory_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace otlake::server {
namespace {

TEST(MemoryBudget, RefusesAboveTheHighWatermarkUntilBelowTheLowOne) {
  int64_t buffered = 0;  // what the pipeline holds
  MemoryBudget b(1000, 500, [&] { return buffered; });
  ASSERT_TRUE(b.TryReserve(600));
  EXPECT_FALSE(b.TryReserve(500));  // 600 + 500 > 1000
  EXPECT_TRUE(b.overloaded());
  b.Release(200);                   // 400 held, but overloaded until below the low watermark...
  buffered = 150;                   // ... counting the pipeline's bytes: 550 >= 500
  EXPECT_FALSE(b.TryReserve(10));
  buffered = 50;                    // 450 < 500: accepts again
  EXPECT_TRUE(b.TryReserve(10));
  EXPECT_FALSE(b.overloaded());
  EXPECT_EQ(b.refusals(), 2);
  EXPECT_EQ(b.reserved(), 410);
  EXPECT_EQ(b.peak(), 600);
  b.Release(410);
  EXPECT_EQ(b.reserved(), 0);
}

TEST(MemoryBudget, AnAdmittedRequestMayGrowUpToTheLimitWhileNewOnesWaitForTheLowWatermark) {
  MemoryBudget b(1000, 200, {});
  MemoryReservation other(&b), admitted(&b), big(&b), small(&b);
  ASSERT_TRUE(other.Grow(100));
  ASSERT_TRUE(admitted.Grow(200));
  EXPECT_FALSE(big.Grow(800));       // a new request past the limit: overloaded now
  EXPECT_FALSE(small.Grow(10));      // new requests wait for the low watermark (310 would fit)
  EXPECT_TRUE(admitted.Grow(600));   // an admitted one still gets what fits (900)...
  EXPECT_FALSE(admitted.Grow(200));  // ... but not past the limit
  admitted.Release(750);             // 150 held < 200: new requests again
  EXPECT_TRUE(small.Grow(10));
  EXPECT_EQ(b.refusals(), 3);
}

TEST(MemoryBudget, OneRequestLargerThanTheBudgetPassesWhenNothingElseIsHeld) {
  MemoryBudget b(1000, 0, {});
  EXPECT_EQ(b.low(), 800);
  MemoryReservation r(&b);
  ASSERT_TRUE(r.Grow(5000));
  ASSERT_TRUE(r.Grow(5000));  // its WAL copy too: nothing else is held
  EXPECT_FALSE(b.TryReserve(1));
  r.ReleaseAll();
  EXPECT_TRUE(b.TryReserve(1));
}

TEST(MemoryReservation, ReleasesWhatItHoldsWhenDestroyedOrMoved) {
  MemoryBudget b(1000, 0, {});
  MemoryReservation someone_else(&b);
  ASSERT_TRUE(someone_else.Grow(100));
  {
    MemoryReservation r(&b);
    ASSERT_TRUE(r.Grow(300));
    ASSERT_TRUE(r.Grow(300));
    EXPECT_FALSE(r.Grow(500));  // refused: nothing changes
    EXPECT_EQ(r.bytes(), 600);
    MemoryReservation moved(std::move(r));
    EXPECT_EQ(r.bytes(), 0);
    EXPECT_EQ(b.reserved(), 700);
    moved.Release(100);
    EXPECT_EQ(b.reserved(), 600);
    MemoryReservation other(&b);
    other = std::move(moved);
    EXPECT_EQ(b.reserved(), 600);
  }
  EXPECT_EQ(b.reserved(), 100);
  MemoryReservation unbounded;  // no budget: always grows
  EXPECT_TRUE(unbounded.Grow(1ll << 40));
}

TEST(MemoryBudget, ConcurrentReservationsNeverPassTheLimit) {
  MemoryBudget b(64 << 10, 0, {});
  std::atomic<int64_t> held{0}, max_held{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        MemoryReservation r(&b);
        if (!r.Grow(4096)) continue;
        const int64_t now = held += 4096;
        int64_t m = max_held.load();
        while (now > m && !max_held.compare_exchange_weak(m, now)) {
        }
        held -= 4096;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(max_held.load(), 64 << 10);
  EXPECT_LE(b.peak(), 64 << 10);
  EXPECT_EQ(b.reserved(), 0);
}

}  // namespace
}  // namespace otlake::server
