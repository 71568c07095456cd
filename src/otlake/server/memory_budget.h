// MemoryBudget: one bound on the memory ingest may hold -- rows in the open batches (counted by
// the pipeline, read through `other_bytes`) plus the request bodies being read, decompressed,
// decoded and logged (reserved here by the HTTP server and the receiver).
//
// High/low watermarks: a new request (one that holds nothing yet) whose reservation would take
// the total past `limit` is refused, and so is every new request after it until the total is
// below `low` again (hysteresis, so a server at the limit does not flap between accepting and
// refusing every other request). A request already admitted that needs more (its decompressed
// body, its WAL copy) is refused only if it would pass `limit` itself. When nothing else is
// held, a reservation is always granted even past the limit (so a request larger than the budget
// is not refused forever; the body limits bound it).
//
// Threads: every method is thread-safe (one mutex; `other_bytes` is called under it and must not
// call back into the budget).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

namespace otlake::server {

class MemoryBudget {
 public:
  /// `low` <= 0 means 80% of `limit`. `other_bytes` (may be empty) returns memory held elsewhere
  /// that counts against the same limit (the pipeline's buffered rows).
  MemoryBudget(int64_t limit, int64_t low, std::function<int64_t()> other_bytes);

  /// Reserves `bytes` more for a request that already holds `held` bytes; false (nothing
  /// reserved) as described above. Each refusal is counted.
  [[nodiscard]] bool TryReserve(int64_t bytes, int64_t held = 0);
  /// Returns `bytes` reserved earlier.
  void Release(int64_t bytes);

  int64_t limit() const { return limit_; }
  int64_t low() const { return low_; }
  /// Bytes reserved by requests now (not counting `other_bytes`).
  int64_t reserved() const;
  /// Largest reserved() + other_bytes() seen by a reservation.
  int64_t peak() const;
  /// Reservations refused so far.
  int64_t refusals() const;
  /// True between a refusal and the total falling below the low watermark.
  bool overloaded() const;

 private:
  const int64_t limit_;
  const int64_t low_;
  const std::function<int64_t()> other_bytes_;
  mutable std::mutex mu_;
  int64_t reserved_ = 0;     // guarded by mu_
  int64_t peak_ = 0;         // guarded by mu_
  int64_t refusals_ = 0;     // guarded by mu_
  bool overloaded_ = false;  // guarded by mu_
};

/// Bounds how much freed memory the C allocator can keep apart from the budget: glibc gives each
/// thread that meets contention an arena of its own (up to 8 per core), and memory freed in one
/// arena is reused only by the threads attached to it, so under load the process's resident size
/// grows well past the budget (bench/README.md, "Memory under overload"). Limits glibc to
/// `arenas` arenas (mallopt M_ARENA_MAX) unless MALLOC_ARENA_MAX or GLIBC_TUNABLES is set in the
/// environment (the operator's choice wins). glibc fixes its arena limit when the second arena is
/// made, so this must run before any thread allocates: memory_budget.cc calls it with 2 from a
/// static initializer, before main, in every process that links the budget (the server).
/// Returns the limit applied (0: left to the environment or not glibc).
int LimitMallocArenas(int arenas);

/// Makes Arrow's default memory pool the C allocator's (ARROW_DEFAULT_MEMORY_POOL=system) unless
/// the environment names one: with Arrow's own allocator (mimalloc in the wheel) the Parquet
/// writes and compactions keep their high-water mark resident apart from what glibc keeps for
/// the batches, ~70 MiB at a 96 MiB budget (bench/README.md, "Memory under overload"); with one
/// allocator, what the flusher frees is reused by ingest and returned by the same trim. Arrow
/// reads the variable when its pool is first used, so memory_budget.cc calls this from the same
/// static initializer as LimitMallocArenas. Returns true if it set the variable.
bool UseSystemArrowPool();

/// Bytes reserved for one request; released when it is destroyed (or by Release). Move-only.
class MemoryReservation {
 public:
  MemoryReservation() = default;
  /// `budget` (may be null: every Grow succeeds) must outlive the reservation.
  explicit MemoryReservation(MemoryBudget* budget) : budget_(budget) {}
  MemoryReservation(MemoryReservation&& o) noexcept : budget_(o.budget_), bytes_(o.bytes_) {
    o.bytes_ = 0;
  }
  MemoryReservation& operator=(MemoryReservation&& o) noexcept;
  MemoryReservation(const MemoryReservation&) = delete;
  MemoryReservation& operator=(const MemoryReservation&) = delete;
  ~MemoryReservation() { Release(bytes_); }

  /// Reserves `bytes` more; false (nothing changed) when the budget refuses.
  [[nodiscard]] bool Grow(int64_t bytes);
  /// Gives back up to `bytes` (all of them by default).
  void Release(int64_t bytes);
  void ReleaseAll() { Release(bytes_); }
  int64_t bytes() const { return bytes_; }

 private:
  MemoryBudget* budget_ = nullptr;  // not owned
  int64_t bytes_ = 0;
};

}  // namespace otlake::server
