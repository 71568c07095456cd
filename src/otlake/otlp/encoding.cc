#include "otlake/otlp/encoding.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <array>

namespace otlake::otlp {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeHexTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<int8_t>(i);
  for (int i = 0; i < 6; ++i) {
    t['a' + i] = static_cast<int8_t>(10 + i);
    t['A' + i] = static_cast<int8_t>(10 + i);
  }
  return t;
}
constexpr auto kHexTable = MakeHexTable();

// Both alphabets: '+' and '-' are 62, '/' and '_' are 63.
constexpr std::array<int8_t, 256> MakeB64Table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64[i])] = static_cast<int8_t>(i);
  t['-'] = 62;
  t['_'] = 63;
  return t;
}
constexpr auto kB64Table = MakeB64Table();

// Strips valid trailing padding; false if padding is malformed.
bool StripPadding(std::string_view* b64) {
  std::string_view s = *b64;
  size_t pad = 0;
  while (!s.empty() && s.back() == '=') {
    s.remove_suffix(1);
    ++pad;
  }
  if (pad > 2) return false;
  if (pad > 0 && (s.size() + pad) % 4 != 0) return false;
  *b64 = s;
  return true;
}

template <typename Sink>
bool DecodeB64Core(std::string_view s, Sink&& sink) {
  if (!StripPadding(&s)) return false;
  if (s.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : s) {
    const int8_t v = kB64Table[c];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (!sink(static_cast<uint8_t>((acc >> bits) & 0xFF))) return false;
    }
  }
  return true;
}

}  // namespace

void AppendHex(std::string* out, std::string_view bytes) {
  const size_t base = out->size();
  out->resize(base + bytes.size() * 2);
  char* d = out->data() + base;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
#if defined(__SSE2__)
  // 8 bytes (an id's half) at a time: split the nibbles, interleave high/low, map 0-9 to '0'-'9'
  // and 10-15 to 'a'-'f'.
  while (n >= 8) {
    const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    const __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x0F));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F));
    const __m128i nib = _mm_unpacklo_epi8(hi, lo);
    const __m128i letter = _mm_cmpgt_epi8(nib, _mm_set1_epi8(9));
    const __m128i digits = _mm_add_epi8(_mm_add_epi8(nib, _mm_set1_epi8('0')),
                                        _mm_and_si128(letter, _mm_set1_epi8('a' - '0' - 10)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), digits);
    p += 8;
    d += 16;
    n -= 8;
  }
#endif
  for (; n > 0; --n) {
    const unsigned char c = *p++;
    *d++ = kHexDigits[c >> 4];
    *d++ = kHexDigits[c & 15];
  }
}

bool DecodeHex(std::string_view hex, uint8_t* out, size_t cap, size_t* len) {
  if (hex.size() % 2 != 0 || hex.size() / 2 > cap) return false;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = kHexTable[static_cast<unsigned char>(hex[i])];
    const int lo = kHexTable[static_cast<unsigned char>(hex[i + 1])];
    if ((hi | lo) < 0) return false;
    out[i / 2] = static_cast<uint8_t>((hi << 4) | lo);
  }
  *len = hex.size() / 2;
  return true;
}

void AppendBase64(std::string* out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  const size_t base = out->size();
  out->resize(base + (n + 2) / 3 * 4);
  char* d = out->data() + base;
  while (n >= 3) {
    const uint32_t v = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
    *d++ = kB64[v >> 18];
    *d++ = kB64[(v >> 12) & 63];
    *d++ = kB64[(v >> 6) & 63];
    *d++ = kB64[v & 63];
    p += 3;
    n -= 3;
  }
  if (n == 1) {
    const uint32_t v = uint32_t{p[0]} << 16;
    *d++ = kB64[v >> 18];
    *d++ = kB64[(v >> 12) & 63];
    *d++ = '=';
    *d++ = '=';
  } else if (n == 2) {
    const uint32_t v = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8);
    *d++ = kB64[v >> 18];
    *d++ = kB64[(v >> 12) & 63];
    *d++ = kB64[(v >> 6) & 63];
    *d++ = '=';
  }
}

int64_t Base64DecodedSize(std::string_view b64) {
  if (!StripPadding(&b64)) return -1;
  if (b64.size() % 4 == 1) return -1;
  return static_cast<int64_t>(b64.size() / 4 * 3 + (b64.size() % 4 == 0 ? 0 : b64.size() % 4 - 1));
}

bool DecodeBase64(std::string_view b64, std::string* out) {
  out->reserve(out->size() + b64.size() / 4 * 3 + 3);
  return DecodeB64Core(b64, [out](uint8_t b) {
    out->push_back(static_cast<char>(b));
    return true;
  });
}

bool DecodeBase64(std::string_view b64, uint8_t* out, size_t cap, size_t* len) {
  size_t n = 0;
  const bool ok = DecodeB64Core(b64, [&](uint8_t b) {
    if (n >= cap) return false;
    out[n++] = b;
    return true;
  });
  if (!ok) return false;
  *len = n;
  return true;
}

}  // namespace otlake::otlp
