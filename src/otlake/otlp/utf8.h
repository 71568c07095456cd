// UTF-8 validation with an ASCII fast path.
//
// Contract: a string is valid when it is well-formed UTF-8 per RFC 3629 -- no overlong forms, no
// surrogate code points (U+D800..U+DFFF), nothing above U+10FFFF. Embedded NULs are valid.
// Used for every string taken from an OTLP request (protobuf has no validation of its own; JSON
// strings are checked again because \u escapes can spell lone surrogates).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace otlake::otlp {

/// Returns the length (2..4) of the well-formed multi-byte UTF-8 sequence starting at `p` (whose
/// first byte is >= 0x80), or 0 if the sequence is ill-formed or truncated at `end`.
inline int Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  const ptrdiff_t avail = end - p;
  auto cont = [](unsigned char b) { return (b & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) {
    return (avail >= 2 && cont(p[1])) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3) return 0;
    const unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80;
    const unsigned char hi = (c == 0xED) ? 0x9F : 0xBF;
    return (p[1] >= lo && p[1] <= hi && cont(p[2])) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4) return 0;
    const unsigned char lo = (c == 0xF0) ? 0x90 : 0x80;
    const unsigned char hi = (c == 0xF4) ? 0x8F : 0xBF;
    return (p[1] >= lo && p[1] <= hi && cont(p[2]) && cont(p[3])) ? 4 : 0;
  }
  return 0;
}

/// Returns the length of the longest well-formed UTF-8 prefix of `s` (s.size() if all of it).
inline size_t Utf8ValidPrefix(std::string_view s) {
  auto* begin = reinterpret_cast<const unsigned char*>(s.data());
  auto* p = begin;
  auto* end = p + s.size();
  while (p < end) {
    while (end - p >= 16) {
      uint64_t w[2];
      std::memcpy(w, p, 16);
      if ((w[0] | w[1]) & 0x8080808080808080ULL) break;
      p += 16;
    }
    while (p < end && *p < 0x80) ++p;
    if (p == end) break;
    const int n = Utf8SequenceLength(p, end);
    if (n == 0) return static_cast<size_t>(p - begin);
    p += n;
  }
  return s.size();
}

/// True if no byte of the `n` bytes at `p` has its high bit set. Short strings (attribute keys
/// and values) take one or two possibly overlapping word loads instead of a byte loop.
inline bool IsAscii(const unsigned char* p, size_t n) {
  if (n >= 8) {
    uint64_t acc = 0, w;
    for (size_t i = 0; i + 8 <= n; i += 8) {
      std::memcpy(&w, p + i, 8);
      acc |= w;
    }
    std::memcpy(&w, p + n - 8, 8);
    return ((acc | w) & 0x8080808080808080ULL) == 0;
  }
  if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    return ((a | b) & 0x80808080U) == 0;
  }
  unsigned acc = 0;
  for (size_t i = 0; i < n; ++i) acc |= p[i];
  return acc < 0x80;
}

/// Returns true if `s` is well-formed UTF-8.
inline bool IsValidUtf8(std::string_view s) {
  if (s.size() <= 64 && IsAscii(reinterpret_cast<const unsigned char*>(s.data()), s.size())) return true;
  return Utf8ValidPrefix(s) == s.size();
}

}  // namespace otlake::otlp
