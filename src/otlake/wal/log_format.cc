#include "otlake/wal/log_format.h"

#include <cstdio>

namespace otlake::wal {

std::string SegmentFileName(int64_t first_lsn) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "wal-%020lld.log", static_cast<long long>(first_lsn));
  return buf;
}

std::string RecycledFileName(int64_t first_lsn) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "recycle-%020lld.log", static_cast<long long>(first_lsn));
  return buf;
}

bool IsRecycledFileName(std::string_view name) {
  return name.size() == 8 + 20 + 4 && name.starts_with("recycle-") && name.ends_with(".log");
}

std::optional<int64_t> ParseSegmentFileName(std::string_view name) {
  constexpr std::string_view kPrefix = "wal-", kSuffix = ".log";
  if (name.size() != kPrefix.size() + 20 + kSuffix.size()) return std::nullopt;
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return std::nullopt;
  uint64_t v = 0;
  for (char c : name.substr(kPrefix.size(), 20)) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (static_cast<uint64_t>(kMaxLsn) - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  if (v == 0) return std::nullopt;  // LSNs are 1-based
  return static_cast<int64_t>(v);
}

}  // namespace otlake::wal
