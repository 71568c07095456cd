#include "otlake/server/memory_budget.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace otlake::server {

int LimitMallocArenas(int arenas) {
#if defined(__GLIBC__)
  if (arenas <= 0 || std::getenv("MALLOC_ARENA_MAX") != nullptr ||
      std::getenv("GLIBC_TUNABLES") != nullptr) {
    return 0;
  }
  return mallopt(M_ARENA_MAX, arenas) == 1 ? arenas : 0;
#else
  (void)arenas;
  return 0;
#endif
}

bool UseSystemArrowPool() {
  if (std::getenv("ARROW_DEFAULT_MEMORY_POOL") != nullptr) return false;
  return setenv("ARROW_DEFAULT_MEMORY_POOL", "system", /*overwrite=*/0) == 0;
}

namespace {
// A process that holds a memory budget (the server) limits malloc's arenas before main, i.e.
// before any thread exists (see LimitMallocArenas), and gives Arrow the same allocator.
[[maybe_unused]] const int kMallocArenas = LimitMallocArenas(2);
[[maybe_unused]] const bool kSystemArrowPool = UseSystemArrowPool();
}  // namespace

MemoryBudget::MemoryBudget(int64_t limit, int64_t low, std::function<int64_t()> other_bytes)
    : limit_(limit),
      low_(low > 0 ? std::min(low, limit) : limit / 10 * 8),
      other_bytes_(std::move(other_bytes)) {}

bool MemoryBudget::TryReserve(int64_t bytes, int64_t held) {
  if (bytes <= 0) return true;
  std::lock_guard lk(mu_);
  const int64_t total = reserved_ + (other_bytes_ ? other_bytes_() : 0);
  const bool others = total - held > 0;  // anything held besides the caller's own bytes
  if (overloaded_ && total < low_) overloaded_ = false;
  const bool over = others && total + bytes > limit_;
  if (over) overloaded_ = true;
  if (over || (held == 0 && overloaded_)) {
    ++refusals_;
    return false;
  }
  reserved_ += bytes;
  peak_ = std::max(peak_, total + bytes);
  return true;
}

void MemoryBudget::Release(int64_t bytes) {
  if (bytes <= 0) return;
  std::lock_guard lk(mu_);
  reserved_ -= bytes;
}

int64_t MemoryBudget::reserved() const {
  std::lock_guard lk(mu_);
  return reserved_;
}

int64_t MemoryBudget::peak() const {
  std::lock_guard lk(mu_);
  return peak_;
}

int64_t MemoryBudget::refusals() const {
  std::lock_guard lk(mu_);
  return refusals_;
}

bool MemoryBudget::overloaded() const {
  std::lock_guard lk(mu_);
  return overloaded_;
}

MemoryReservation& MemoryReservation::operator=(MemoryReservation&& o) noexcept {
  if (this != &o) {
    Release(bytes_);
    budget_ = o.budget_;
    bytes_ = o.bytes_;
    o.bytes_ = 0;
  }
  return *this;
}

bool MemoryReservation::Grow(int64_t bytes) {
  if (bytes <= 0) return true;
  if (budget_ != nullptr && !budget_->TryReserve(bytes, bytes_)) return false;
  bytes_ += bytes;
  return true;
}

void MemoryReservation::Release(int64_t bytes) {
  bytes = std::min(bytes, bytes_);
  if (bytes <= 0) return;
  if (budget_ != nullptr) budget_->Release(bytes);
  bytes_ -= bytes;
}

}  // namespace otlake::server
