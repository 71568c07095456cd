// The WAL's on-disk constants and segment naming, shared by the writer and the reader.
// docs/wal.md is the specification; change the two together.
//
// A segment is a sequence of 32 KiB blocks. A block holds physical records:
//   masked CRC32C (4, LE) | length (2, LE) | type (1) | `length` bytes of fragment
// with the CRC over the type byte and the fragment. A block tail too small for a header
// (< 7 bytes) is zero-filled. A logical record — split into FULL or FIRST, MIDDLE…, LAST
// fragments — is
//   LSN (8, LE) | flags (1; bit 0 = payload is one zstd frame) | payload
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace otlake::wal {

inline constexpr int kBlockSize = 32 * 1024;
inline constexpr int kHeaderSize = 4 + 2 + 1;
/// A direct-I/O writer pads its last write with zeros to a multiple of this; kBlockSize is one.
inline constexpr int kPadAlign = 4096;
static_assert(kBlockSize % kPadAlign == 0);
inline constexpr int kRecordHeaderSize = 8 + 1;  // LSN + flags
inline constexpr uint8_t kFlagZstd = 0x01;
inline constexpr uint8_t kKnownFlags = kFlagZstd;
/// LSNs are 1..kMaxLsn; larger values on disk are corruption (keeps LSN arithmetic overflow-free).
inline constexpr int64_t kMaxLsn = int64_t{1} << 62;
/// The largest payload Append accepts (the receiver's decompressed-body limit).
inline constexpr int64_t kMaxPayloadBytes = 256ll << 20;

enum class RecordType : uint8_t {
  kZero = 0,  // never written; zeros here are preallocation or a lost tail
  kFull = 1,
  kFirst = 2,
  kMiddle = 3,
  kLast = 4,
};
inline constexpr uint8_t kMaxRecordType = 4;

/// Returns "wal-<first_lsn as 20 digits>.log".
std::string SegmentFileName(int64_t first_lsn);

/// Returns the first LSN encoded in a segment file name, or nullopt if `name` is not one.
std::optional<int64_t> ParseSegmentFileName(std::string_view name);

/// Returns "recycle-<first_lsn as 20 digits>.log": a retired segment kept for reuse (its old
/// name's number, which keeps the names unique).
std::string RecycledFileName(int64_t first_lsn);
/// True for names RecycledFileName makes.
bool IsRecycledFileName(std::string_view name);

inline void PutFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
inline uint32_t GetFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

}  // namespace otlake::wal
