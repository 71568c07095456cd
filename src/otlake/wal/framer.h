// Framer: splits logical records into checksummed physical records laid out in 32 KiB blocks.
//
// Contract: the bytes AddRecord appends, written one after another from the start of a segment,
// are exactly the format of log_format.h / docs/wal.md. The Framer only tracks the position in
// the current block; it does no I/O and is not thread-safe (the WAL leader owns it).
#pragma once

#include <string>
#include <string_view>

namespace otlake::wal {

class Framer {
 public:
  /// Starts at the beginning of a fresh segment.
  Framer() = default;

  /// Appends the physical records (and any block trailer) for `record` to `out`.
  void AddRecord(std::string_view record, std::string* out);

  /// Starts over at offset 0 (a new segment).
  void Reset() { block_offset_ = 0; }

 private:
  int block_offset_ = 0;  // bytes already used in the current block
};

}  // namespace otlake::wal
