// CRC32C (Castagnoli, polynomial 0x1EDC6F41 reflected as 0x82F63B78): the checksum of every WAL
// physical record.
//
// Contract: Crc32cExtend(Crc32cExtend(0, a), b) == Crc32c(a + b). Uses the SSE4.2 crc32
// instruction when the CPU has it (checked once at run time), a slicing-by-8 table otherwise;
// both give identical results (tested against the RFC 3720 vectors).
//
// Stored CRCs are *masked* (MaskCrc): a CRC computed over data that itself embeds CRCs is weak,
// so the on-disk value is rotated and offset. See docs/wal.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace otlake::wal {

/// Returns the CRC32C of `data` continued from `crc` (the CRC of the bytes before it; 0 to start).
/// With SSE4.2, inputs of 3 KiB and more run three crc32 chains at once (~18 GB/s here, 8 with one).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

/// Returns the CRC32C of `data`.
inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data.data(), data.size()); }

/// Returns the value stored on disk for `crc`: rotate right by 15 bits, add a constant.
inline uint32_t MaskCrc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

/// Inverts MaskCrc.
inline uint32_t UnmaskCrc(uint32_t masked) {
  const uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

/// True when the hardware (SSE4.2) path is in use; for tests and the benchmark.
bool Crc32cIsHardware();

/// The portable table path, exposed so tests can check it against the hardware one.
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);

}  // namespace otlake::wal
