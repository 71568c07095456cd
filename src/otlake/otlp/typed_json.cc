#include "otlake/otlp/typed_json.h"

#include <rapidjson/document.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define OTLAKE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OTLAKE_ASAN 1
#endif
#endif

#include "otlake/otlp/encoding.h"
#include "otlake/otlp/json_fields.h"
#include "otlake/otlp/utf8.h"

namespace otlake::otlp {
namespace {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

// True if any byte of `w` is >= 0x80, < 0x20, '"' or '\\'.
inline bool NeedsAttention(uint64_t w) {
  const uint64_t lt20 = (w - kOnes * 0x20) & ~w;
  const uint64_t q = w ^ (kOnes * '"');
  const uint64_t eq_q = (q - kOnes) & ~q;
  const uint64_t b = w ^ (kOnes * '\\');
  const uint64_t eq_b = (b - kOnes) & ~b;
  return ((w | lt20 | eq_q | eq_b) & kHighs) != 0;
}

void AppendEscape(std::string* out, unsigned char c) {
  switch (c) {
    case '"': out->append("\\\""); return;
    case '\\': out->append("\\\\"); return;
    case '\b': out->append("\\b"); return;
    case '\f': out->append("\\f"); return;
    case '\n': out->append("\\n"); return;
    case '\r': out->append("\\r"); return;
    case '\t': out->append("\\t"); return;
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out->append(esc, 6);
    }
  }
}

}  // namespace

namespace {

// The first byte at or after `p` that needs escaping or UTF-8 checking (control, '"', '\\',
// >= 0x80), or `end`.
#if defined(__SSE2__)
// 16 bytes at a time: a signed compare below 0x20 catches control bytes and non-ASCII.
inline int Attention16(const unsigned char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i hit = _mm_or_si128(
      _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  return _mm_movemask_epi8(hit);
}

// A string shorter than 16 bytes (most keys and values) is checked with one 16-byte load when
// that load stays inside p's 4 KiB page: the bytes past `end` are read but masked off, and
// reading them cannot fault (the page is mapped). Left out under ASan, which would call it an
// overflow (the byte loops below do the same work there).
inline const unsigned char* SkipPlainShort(const unsigned char* p, size_t n) {
  const int mask = Attention16(p) & ((1 << n) - 1);
  return mask != 0 ? p + __builtin_ctz(static_cast<unsigned>(mask)) : p + n;
}
#endif

__attribute__((always_inline)) inline const unsigned char* SkipPlain(const unsigned char* p,
                                                                 const unsigned char* end) {
#if defined(__SSE2__)
  const size_t n = static_cast<size_t>(end - p);
  if (n >= 16) {
    while (end - p >= 16) {
      const int mask = Attention16(p);
      if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
      p += 16;
    }
    if (p == end) return p;
    // The tail: the last 16 bytes, overlapping bytes already found plain (their bits are 0).
    const unsigned char* q = end - 16;
    const int mask = Attention16(q);
    return mask != 0 ? q + __builtin_ctz(static_cast<unsigned>(mask)) : end;
  }
#if !defined(OTLAKE_ASAN)
  if (n > 0 && (reinterpret_cast<uintptr_t>(p) & 4095) <= 4096 - 16) return SkipPlainShort(p, n);
#endif
#endif
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    if (NeedsAttention(w)) break;
    p += 8;
  }
  while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') ++p;
  return p;
}

// Appends [before]"s"[after] ('\0': none) with one resize: `s` needs no escaping.
__attribute__((always_inline)) inline void AppendQuotedPlain(std::string* out, char before,
                                                             std::string_view s, char after) {
  const size_t n = out->size();
  out->resize(n + (before != '\0') + s.size() + 2 + (after != '\0'));
  char* d = out->data() + n;
  if (before != '\0') *d++ = before;
  *d++ = '"';
  if (!s.empty()) std::memcpy(d, s.data(), s.size());
  d += s.size();
  *d++ = '"';
  if (after != '\0') *d = after;
}

}  // namespace

bool AppendJsonString(std::string* out, std::string_view s) {
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  auto* end = p + s.size();
  p = SkipPlain(p, end);
  if (p == end) {  // the common case: nothing to escape, nothing to check
    AppendQuotedPlain(out, '\0', s, '\0');
    return true;
  }
  auto* run = reinterpret_cast<const unsigned char*>(s.data());  // bytes not yet copied
  out->push_back('"');
  while (p < end) {
    const unsigned char c = *p;
    if (c >= 0x80) {
      const int n = Utf8SequenceLength(p, end);
      if (n == 0) return false;
      p += n;
    } else if (c < 0x20 || c == '"' || c == '\\') {
      out->append(reinterpret_cast<const char*>(run), p - run);
      AppendEscape(out, c);
      run = ++p;
    } else {
      ++p;
    }
    p = SkipPlain(p, end);
  }
  out->append(reinterpret_cast<const char*>(run), end - run);
  out->push_back('"');
  return true;
}

bool AppendJsonKey(std::string* out, char sep, std::string_view key) {
  auto* p = reinterpret_cast<const unsigned char*>(key.data());
  auto* end = p + key.size();
  if (SkipPlain(p, end) == end) {
    AppendQuotedPlain(out, sep, key, ':');
    return true;
  }
  if (sep != '\0') out->push_back(sep);
  if (!AppendJsonString(out, key)) return false;
  out->push_back(':');
  return true;
}

namespace {

// The text std::to_chars(v) gives (its shortest round-trip digits, fixed notation unless the
// scientific one is shorter), for the values most attributes hold: 0.001 <= |v| < 1e9 with at
// most 6 decimals. False for anything else (the caller falls back to to_chars). Why the digits
// are the same: for such v, d / 10^k == v with d an integer and k the fewest decimals is exact
// arithmetic on exactly representable d and 10^k, so the decimal d * 10^-k rounds to v; any other
// decimal that rounds to v is within ulp(v) < 2.3e-7 < 10^-k of it, so it has more digits.
bool ShortDecimal(double v, char* buf, size_t* len) {
  static constexpr double kPow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
  const double a = std::fabs(v);
  if (!(a >= 1e-3 && a < 1e9)) return false;  // also NaN
  int k = 0;
  uint64_t d = 0;
  for (;; ++k) {
    if (k > 6) return false;
    d = static_cast<uint64_t>(a * kPow10[k] + 0.5);
    if (static_cast<double>(d) / kPow10[k] == a) break;
  }
  char digits[24];
  int n = 0;
  for (uint64_t x = d; x > 0; x /= 10) digits[n++] = static_cast<char>('0' + x % 10);  // reversed
  // Fixed: [-]int[.frac]; scientific: [-]d[.ddd]e[+-]XX (the exponent has 2 digits here).
  int trailing = 0;
  while (k == 0 && trailing < n - 1 && digits[trailing] == '0') ++trailing;
  const int significant = n - trailing;
  const int fixed_len = k == 0 ? n : (n > k ? n - k : 1) + 1 + k;
  const int sci_len = significant + (significant > 1 ? 1 : 0) + 4;
  if (fixed_len > sci_len) return false;
  char* o = buf;
  if (v < 0) *o++ = '-';
  if (k == 0) {
    for (int i = n - 1; i >= 0; --i) *o++ = digits[i];
  } else {
    if (n <= k) {
      *o++ = '0';
    } else {
      for (int i = n - 1; i >= k; --i) *o++ = digits[i];
    }
    *o++ = '.';
    for (int i = k - 1; i >= 0; --i) *o++ = i < n ? digits[i] : '0';
  }
  *len = static_cast<size_t>(o - buf);
  return true;
}

}  // namespace

void AppendTypedDouble(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append(R"({"$double":"NaN"})");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? R"({"$double":"Infinity"})" : R"({"$double":"-Infinity"})");
    return;
  }
  char buf[40];
  size_t n = 0;
  if (ShortDecimal(v, buf, &n)) {
    out->append(buf, n);
    if (std::memchr(buf, '.', n) == nullptr) out->append(".0");
    return;
  }
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
  for (const char* q = buf; q < r.ptr; ++q) {
    if (*q == '.' || *q == 'e') return;
  }
  out->append(".0");
}

void AppendTypedBytes(std::string* out, std::string_view bytes) {
  out->append(R"({"$bytes":")");
  AppendBase64(out, bytes);
  out->append("\"}");
}

namespace {

// For trees built by callers: a string that is not UTF-8 (which OTLP forbids) is written with
// each ill-formed byte replaced by U+FFFD rather than dropped.
void AppendJsonStringLossy(std::string* out, std::string_view s) {
  const size_t mark = out->size();
  if (AppendJsonString(out, s)) return;
  out->resize(mark);
  std::string clean;
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  auto* end = p + s.size();
  while (p < end) {
    if (*p < 0x80) {
      clean.push_back(static_cast<char>(*p++));
      continue;
    }
    const int n = Utf8SequenceLength(p, end);
    if (n == 0) {
      clean.append("\xEF\xBF\xBD");
      ++p;
    } else {
      clean.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
  }
  AppendJsonString(out, clean);
}

}  // namespace

void EncodeTypedJson(const AnyValue& v, std::string* out) {
  using T = AnyValue::Type;
  switch (v.type) {
    case T::kEmpty: out->append("null"); return;
    case T::kString: AppendJsonStringLossy(out, v.string_value); return;
    case T::kBool: out->append(v.bool_value ? "true" : "false"); return;
    case T::kInt: AppendJsonInt(out, v.int_value); return;
    case T::kDouble: AppendTypedDouble(out, v.double_value); return;
    case T::kBytes: AppendTypedBytes(out, v.string_value); return;
    case T::kArray: {
      out->push_back('[');
      for (size_t i = 0; i < v.array.size(); ++i) {
        if (i) out->push_back(',');
        EncodeTypedJson(v.array[i], out);
      }
      out->push_back(']');
      return;
    }
    case T::kKvlist: {
      const bool wrap = KvlistNeedsEscape(v.kvlist.size(), v.kvlist.empty() ? "" : v.kvlist[0].key);
      if (wrap) out->append(R"({"$kvlist":)");
      EncodeTypedJsonAttributes(v.kvlist, out);
      if (wrap) out->push_back('}');
      return;
    }
  }
}

void EncodeTypedJsonAttributes(const std::vector<KeyValue>& attrs, std::string* out) {
  out->push_back('{');
  for (size_t i = 0; i < attrs.size(); ++i) {
    if (i) out->push_back(',');
    AppendJsonStringLossy(out, attrs[i].key);
    out->push_back(':');
    EncodeTypedJson(attrs[i].value, out);
  }
  out->push_back('}');
}

namespace {

using JValue = rapidjson::Value;

std::string_view Str(const JValue& v) { return {v.GetString(), v.GetStringLength()}; }

Status DecodeValue(const JValue& v, int depth, int max_depth, AnyValue* out);

Status DecodeObjectEntries(const JValue& v, int depth, int max_depth, std::vector<KeyValue>* out) {
  out->reserve(v.MemberCount());
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    KeyValue kv;
    kv.key.assign(Str(it->name));
    if (!IsValidUtf8(kv.key)) return Status::Invalid("typed JSON: invalid UTF-8 in key");
    OTLAKE_RETURN_NOT_OK(DecodeValue(it->value, depth, max_depth, &kv.value));
    out->push_back(std::move(kv));
  }
  return Status::OK();
}

Status DecodeValue(const JValue& v, int depth, int max_depth, AnyValue* out) {
  switch (v.GetType()) {
    case rapidjson::kNullType: *out = AnyValue(); return Status::OK();
    case rapidjson::kFalseType: *out = AnyValue::Bool(false); return Status::OK();
    case rapidjson::kTrueType: *out = AnyValue::Bool(true); return Status::OK();
    case rapidjson::kStringType:
      if (!IsValidUtf8(Str(v))) return Status::Invalid("typed JSON: invalid UTF-8 in string");
      *out = AnyValue::String(std::string(Str(v)));
      return Status::OK();
    case rapidjson::kNumberType:
      if (v.IsDouble()) {
        *out = AnyValue::Double(v.GetDouble());
      } else if (v.IsInt64()) {
        *out = AnyValue::Int(v.GetInt64());
      } else {
        return Status::Invalid("typed JSON: integer outside int64");
      }
      return Status::OK();
    case rapidjson::kArrayType: {
      if (depth + 1 > max_depth) {
        return Status::Invalid("typed JSON: nesting deeper than ", max_depth);
      }
      AnyValue a;
      a.type = AnyValue::Type::kArray;
      a.array.resize(v.Size());
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        OTLAKE_RETURN_NOT_OK(DecodeValue(v[i], depth + 1, max_depth, &a.array[i]));
      }
      *out = std::move(a);
      return Status::OK();
    }
    case rapidjson::kObjectType: {
      if (v.MemberCount() == 1 && v.MemberBegin()->name.GetStringLength() > 0 &&
          v.MemberBegin()->name.GetString()[0] == '$') {
        const std::string_view key = Str(v.MemberBegin()->name);
        const JValue& inner = v.MemberBegin()->value;
        if (key == "$double") {
          if (!inner.IsString()) return Status::Invalid("typed JSON: $double wants a string");
          const std::string_view s = Str(inner);
          if (s == "NaN") {
            *out = AnyValue::Double(std::nan(""));
          } else if (s == "Infinity") {
            *out = AnyValue::Double(HUGE_VAL);
          } else if (s == "-Infinity") {
            *out = AnyValue::Double(-HUGE_VAL);
          } else {
            return Status::Invalid("typed JSON: bad $double value");
          }
          return Status::OK();
        }
        if (key == "$bytes") {
          std::string bytes;
          if (!inner.IsString() || !DecodeBase64(Str(inner), &bytes)) {
            return Status::Invalid("typed JSON: $bytes wants a base64 string");
          }
          *out = AnyValue::Bytes(std::move(bytes));
          return Status::OK();
        }
        if (key == "$kvlist") {
          if (!inner.IsObject()) return Status::Invalid("typed JSON: $kvlist wants an object");
          if (depth + 1 > max_depth) {
            return Status::Invalid("typed JSON: nesting deeper than ", max_depth);
          }
          AnyValue a;
          a.type = AnyValue::Type::kKvlist;
          OTLAKE_RETURN_NOT_OK(DecodeObjectEntries(inner, depth + 1, max_depth, &a.kvlist));
          *out = std::move(a);
          return Status::OK();
        }
        return Status::Invalid("typed JSON: unknown escape ", key);
      }
      if (depth + 1 > max_depth) {
        return Status::Invalid("typed JSON: nesting deeper than ", max_depth);
      }
      AnyValue a;
      a.type = AnyValue::Type::kKvlist;
      OTLAKE_RETURN_NOT_OK(DecodeObjectEntries(v, depth + 1, max_depth, &a.kvlist));
      *out = std::move(a);
      return Status::OK();
    }
  }
  return Status::Invalid("typed JSON: unexpected value");
}

Status ParseDoc(std::string_view json, std::string* buffer, rapidjson::Document* doc) {
  Status st = internal::ParseJson(json, buffer, doc);
  if (!st.ok()) return Status::Invalid("typed JSON: ", st.message());
  return st;
}

}  // namespace

Result<AnyValue> DecodeTypedJson(std::string_view json, int max_depth) {
  rapidjson::Document doc;
  std::string buffer;
  OTLAKE_RETURN_NOT_OK(ParseDoc(json, &buffer, &doc));
  AnyValue v;
  OTLAKE_RETURN_NOT_OK(DecodeValue(doc, 0, max_depth, &v));
  return v;
}

Result<std::vector<KeyValue>> DecodeTypedJsonAttributes(std::string_view json, int max_depth) {
  rapidjson::Document doc;
  std::string buffer;
  OTLAKE_RETURN_NOT_OK(ParseDoc(json, &buffer, &doc));
  if (!doc.IsObject()) return Status::Invalid("typed JSON: attributes must be an object");
  std::vector<KeyValue> out;
  OTLAKE_RETURN_NOT_OK(DecodeObjectEntries(doc, 0, max_depth, &out));
  return out;
}

}  // namespace otlake::otlp
