// Test-only helpers for the wal module (header-only; never part of the library).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "otlake/wal/wal_reader.h"

#define WAL_ASSERT_OK(expr)                              \
  do {                                                   \
    const ::otlake::Status _st = (expr);                 \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.ToString(); \
  } while (0)

#define WAL_ASSIGN_OR_FAIL_IMPL(tmp, lhs, rexpr)                    \
  auto tmp = (rexpr);                                               \
  ASSERT_TRUE(tmp.ok()) << #rexpr << ": " << tmp.status().ToString(); \
  lhs = std::move(tmp).ValueOrDie()
#define WAL_CONCAT2(a, b) a##b
#define WAL_CONCAT(a, b) WAL_CONCAT2(a, b)
#define WAL_ASSIGN_OR_FAIL(lhs, rexpr) \
  WAL_ASSIGN_OR_FAIL_IMPL(WAL_CONCAT(_res_, __LINE__), lhs, rexpr)

namespace otlake::wal::testing {

/// A fresh directory under TMPDIR, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/otlake-wal-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// A deterministic payload for `lsn`: its size and bytes derive from (lsn, salt), so a reader can
/// check every byte it gets back. `compressible` makes text-like, repetitive bytes.
inline std::string Payload(int64_t lsn, size_t size, bool compressible = false, uint64_t salt = 0) {
  std::string s(size, '\0');
  std::mt19937_64 rng(static_cast<uint64_t>(lsn) * 0x9E3779B97F4A7C15ull + salt);
  if (compressible) {
    static const char* kWords[] = {"service.name", "checkout", "http.route", "/api/v1/orders",
                                   "span", "trace_id", "0af7651916cd43dd", "GET", "200"};
    size_t i = 0;
    while (i < size) {
      const char* w = kWords[rng() % 9];
      for (const char* p = w; *p != 0 && i < size; ++p) s[i++] = *p;
      if (i < size) s[i++] = static_cast<char>(rng() % 4);
    }
  } else {
    for (char& c : s) c = static_cast<char>(rng());
  }
  return s;
}

/// Everything a Recover returned.
struct Recovered {
  RecoveryStats stats;
  std::vector<std::pair<int64_t, std::string>> records;
};

inline Result<Recovered> RecoverAll(const std::string& dir, Env* env, bool repair,
                                    int64_t from_lsn = 1) {
  Recovered out;
  auto st = Recover(dir, env, from_lsn, repair, [&](int64_t lsn, std::string_view payload) {
    out.records.emplace_back(lsn, std::string(payload));
    return Status::OK();
  });
  if (!st.ok()) return st.status();
  out.stats = std::move(*st);
  return out;
}

inline std::string Problems(const RecoveryStats& s) {
  std::string out;
  for (const auto& p : s.problems) out += p + "\n";
  return out;
}

}  // namespace otlake::wal::testing
