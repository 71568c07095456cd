// ParseJson (json_fields.h): UTF-8 check, then RapidJSON in-situ reader + document, with numbers
// converted by std::from_chars. JsonTape::Parse: the decoder's one-pass parser (same values, see
// json_fields.h), falling back to ParseJson on anything unusual.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <charconv>
#include <cstring>
#include <string>

#include "otlake/otlp/json_fields.h"
#include "otlake/otlp/utf8.h"

namespace otlake::otlp::internal {
namespace {

// True if the decimal number `t` (valid JSON syntax) is too large in magnitude for a double,
// false if it is too small; called only when from_chars reports it out of range.
bool Overflows(std::string_view t) {
  size_t i = (t[0] == '-') ? 1 : 0;
  int64_t int_digits = 0, leading_frac_zeros = 0;
  bool seen_nonzero = false;
  for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
    if (t[i] != '0') seen_nonzero = true;
    if (seen_nonzero) ++int_digits;
  }
  if (i < t.size() && t[i] == '.') {
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
      if (!seen_nonzero && t[i] == '0') ++leading_frac_zeros;
      if (t[i] != '0') seen_nonzero = true;
    }
  }
  int64_t exp = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) neg = t[i++] == '-';
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
      if (exp < 1000000000) exp = exp * 10 + (t[i] - '0');
    }
    if (neg) exp = -exp;
  }
  const int64_t magnitude = int_digits > 0 ? int_digits - 1 + exp : -leading_frac_zeros - 1 + exp;
  return magnitude > 0;
}

// Forwards every SAX event to the document, converting raw number text itself.
struct Handler {
  rapidjson::Document* doc;
  bool out_of_range = false;

  bool Null() { return doc->Null(); }
  bool Bool(bool b) { return doc->Bool(b); }
  bool Int(int i) { return doc->Int(i); }
  bool Uint(unsigned u) { return doc->Uint(u); }
  bool Int64(int64_t i) { return doc->Int64(i); }
  bool Uint64(uint64_t u) { return doc->Uint64(u); }
  bool Double(double d) { return doc->Double(d); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc->String(s, n, copy); }
  bool StartObject() { return doc->StartObject(); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc->Key(s, n, copy); }
  bool EndObject(rapidjson::SizeType n) { return doc->EndObject(n); }
  bool StartArray() { return doc->StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return doc->EndArray(n); }

  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    const std::string_view t(s, n);
    const char* end = s + n;
    if (t.find_first_of(".eE") == std::string_view::npos) {
      if (t == "-0") return doc->Double(-0.0);
      if (t[0] == '-') {
        int64_t v;
        auto r = std::from_chars(s, end, v);
        if (r.ec == std::errc() && r.ptr == end) return doc->Int64(v);
      } else {
        uint64_t v;
        auto r = std::from_chars(s, end, v);
        if (r.ec == std::errc() && r.ptr == end) return doc->Uint64(v);
      }
      // Beyond 64 bits: a double, as JSON parsers commonly do.
    }
    double v = 0;
    auto r = std::from_chars(s, end, v);
    if (r.ptr != end) return false;
    if (r.ec == std::errc::result_out_of_range) {
      if (Overflows(t)) {
        out_of_range = true;
        return false;
      }
      return doc->Double(t[0] == '-' ? -0.0 : 0.0);
    }
    if (r.ec != std::errc()) return false;
    return doc->Double(v);
  }
};


inline const char* SkipWs(const char* p, const char* end) {
  if (p < end && static_cast<unsigned char>(*p) > ' ') return p;  // the usual case: no whitespace
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  return p;
}

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The first byte at or after p that ends a plain run inside a string: '"', '\\', a control
// character (< 0x20) or a non-ASCII byte; `end` if none. 16 bytes at a time with SSE2 (a signed
// compare < 0x20 flags control and non-ASCII bytes at once), then eight at a time: in each SWAR
// mask the lowest flagged byte is exact (a borrow only runs upwards from a flagged byte).
inline const char* FindSpecial(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote),
                                                  _mm_cmpeq_epi8(x, backslash)),
                                     _mm_cmplt_epi8(x, space));
    const int m = _mm_movemask_epi8(hit);
    if (m != 0) return p + __builtin_ctz(static_cast<unsigned>(m));
    p += 16;
  }
#endif
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    const uint64_t q = w ^ (kOnes * '"');
    const uint64_t b = w ^ (kOnes * '\\');
    const uint64_t m =
        (((q - kOnes) & ~q) | ((b - kOnes) & ~b) | ((w - kOnes * 0x20) & ~w) | w) & kHigh;
    if (m != 0) return p + (__builtin_ctzll(m) >> 3);
    p += 8;
  }
  for (; p < end; ++p) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
  }
  return end;
}

inline int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Four hex digits at p (end - p >= 4 checked by the caller); -1 if not.
inline int32_t Hex4(const char* p) {
  int32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    const int d = HexDigit(p[i]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

Status ParseJson(std::string_view text, std::string* buffer, rapidjson::Document* doc) {
  const size_t valid = Utf8ValidPrefix(text);
  if (valid != text.size()) {
    return Status::Invalid("invalid JSON at offset ", valid, ": invalid UTF-8");
  }
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseInsituFlag |
                              rapidjson::kParseNumbersAsStringsFlag;
  buffer->assign(text.data(), text.size());  // in-situ parsing rewrites strings in place
  rapidjson::InsituStringStream is(buffer->data());
  rapidjson::Reader reader;
  Handler handler{doc};
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document& d) {
    handler.doc = &d;
    result = reader.Parse<kFlags>(is, handler);
    return static_cast<bool>(result);
  };
  doc->Populate(generate);
  if (result) {
    // A NUL byte in the text ends in-situ parsing early; anything after it is not JSON.
    if (is.Tell() < text.size() && text.find_first_not_of(" \t\n\r", is.Tell()) != text.npos) {
      return Status::Invalid("invalid JSON at offset ", is.Tell(),
                             ": The document root must not be followed by other values.");
    }
    return Status::OK();
  }
  if (handler.out_of_range) {
    return Status::Invalid("invalid JSON at offset ", result.Offset(), ": number out of range");
  }
  return Status::Invalid("invalid JSON at offset ", result.Offset(), ": ",
                         rapidjson::GetParseError_En(result.Code()));
}

}  // namespace otlake::otlp::internal

namespace otlake::otlp::internal {

void JsonTape::Trim(size_t keep_bytes) {
  if (nodes_.capacity() * sizeof(JsonNode) > keep_bytes) std::vector<JsonNode>().swap(nodes_);
  if (unescaped_.capacity() > keep_bytes) std::string().swap(unescaped_);
}

// p is just after the opening quote; returns the position after the closing quote, or nullptr.
// The usual string (no escape, ASCII) is one FindSpecial; the rest goes to StringSlow.
inline const char* JsonTape::String(const char* p, const char* end) {
  const char* q = FindSpecial(p, end);
  if (q != end && *q == '"') {
    JsonNode* n = Push(JsonNode::kString);
    n->s_ = p;
    n->n_ = static_cast<uint32_t>(q - p);
    return q + 1;
  }
  return StringSlow(p, q, end);
}

// A string from `begin` on, where FindSpecial stopped at `p` on something but the closing quote.
__attribute__((noinline)) const char* JsonTape::StringSlow(const char* begin, const char* p,
                                                           const char* end) {
  for (;;) {
    if (p == end) return nullptr;
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"') {
      JsonNode* n = Push(JsonNode::kString);
      n->s_ = begin;
      n->n_ = static_cast<uint32_t>(p - begin);
      return p + 1;
    }
    if (c == '\\') return Escaped(begin, p, end);
    if (c < 0x80) return nullptr;  // a control character
    const int len = Utf8SequenceLength(reinterpret_cast<const unsigned char*>(p),
                                       reinterpret_cast<const unsigned char*>(end));
    if (len == 0) return nullptr;
    p = FindSpecial(p + len, end);
  }
}

// The rest of a string from its first escape at p: decoded into unescaped_.
__attribute__((noinline)) const char* JsonTape::Escaped(const char* begin, const char* p,
                                                        const char* end) {
  const size_t start = unescaped_.size();
  unescaped_.append(begin, p);
  for (;;) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"') break;
    if (c == '\\') {
      if (end - p < 2) return nullptr;
      switch (p[1]) {
        case '"': unescaped_.push_back('"'); break;
        case '\\': unescaped_.push_back('\\'); break;
        case '/': unescaped_.push_back('/'); break;
        case 'b': unescaped_.push_back('\b'); break;
        case 'f': unescaped_.push_back('\f'); break;
        case 'n': unescaped_.push_back('\n'); break;
        case 'r': unescaped_.push_back('\r'); break;
        case 't': unescaped_.push_back('\t'); break;
        case 'u': {
          if (end - p < 6) return nullptr;
          int32_t cp = Hex4(p + 2);
          if (cp < 0) return nullptr;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return nullptr;  // lone low surrogate: ParseJson's
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p < 12 || p[6] != '\\' || p[7] != 'u') return nullptr;
            const int32_t lo = Hex4(p + 8);
            if (lo < 0xDC00 || lo > 0xDFFF) return nullptr;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
          }
          AppendUtf8(&unescaped_, static_cast<uint32_t>(cp));
          p += 4;
          break;
        }
        default: return nullptr;
      }
      p += 2;
    } else if (c >= 0x80) {
      const int len = Utf8SequenceLength(reinterpret_cast<const unsigned char*>(p),
                                         reinterpret_cast<const unsigned char*>(end));
      if (len == 0) return nullptr;
      unescaped_.append(p, p + len);
      p += len;
    } else {
      return nullptr;  // a control character
    }
    const char* run = p;
    p = FindSpecial(p, end);
    if (p == end) return nullptr;
    unescaped_.append(run, p);
  }
  JsonNode* n = Push(JsonNode::kString);
  n->u_ = start;  // a pointer once unescaped_ no longer grows (end of Parse)
  n->n_ = static_cast<uint32_t>(unescaped_.size() - start);
  unescaped_at_.push_back(static_cast<uint32_t>(nodes_.size() - 1));
  return p + 1;
}

// The same values as ParseJson's number handler (Handler::RawNumber): integers that fit are
// uint64 (>= 0) or int64, "-0" and everything else a double; a double beyond the range fails.
// Numbers RapidJSON's own scan may refuse ("Number too big", from about 308 integer digits or an
// exponent near 308 on) fail here too, well before: more than kMaxDigits digits before or after
// the point, or an exponent of kMaxExp or more -- ParseJson then decides.
const char* JsonTape::Number(const char* p, const char* end) {
  constexpr int kMaxDigits = 250, kMaxExp = 290;
  const char* start = p;
  const bool neg = *p == '-';
  if (neg) ++p;
  if (p == end) return nullptr;
  uint64_t v = 0;
  int digits = 0;
  if (*p == '0') {
    ++p;
    digits = 1;
  } else if (*p >= '1' && *p <= '9') {
    for (; p < end && IsDigit(*p); ++p, ++digits) v = v * 10 + static_cast<uint64_t>(*p - '0');
    if (digits > kMaxDigits) return nullptr;
  } else {
    return nullptr;
  }
  bool integral = true;
  if (p < end && *p == '.') {
    ++p;
    const char* frac = p;
    while (p < end && IsDigit(*p)) ++p;
    if (p == frac || p - frac > kMaxDigits) return nullptr;
    integral = false;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (p == end || !IsDigit(*p)) return nullptr;
    int exp = 0;
    for (; p < end && IsDigit(*p); ++p) {
      exp = exp * 10 + (*p - '0');
      if (exp >= kMaxExp) return nullptr;
    }
    integral = false;
  }
  if (integral) {
    if (!neg && digits <= 19) {  // < 10^19 < 2^64
      Push(JsonNode::kUint)->u_ = v;
      return p;
    }
    if (neg && digits <= 18 && v != 0) {  // < 10^18 < 2^63
      Push(JsonNode::kInt)->i_ = -static_cast<int64_t>(v);
      return p;
    }
    if (neg && v == 0 && digits == 1) {  // "-0"
      Push(JsonNode::kDouble)->d_ = -0.0;
      return p;
    }
    if (neg) {
      int64_t x;
      auto r = std::from_chars(start, p, x);
      if (r.ec == std::errc() && r.ptr == p) {
        Push(JsonNode::kInt)->i_ = x;
        return p;
      }
    } else {
      uint64_t x;
      auto r = std::from_chars(start, p, x);
      if (r.ec == std::errc() && r.ptr == p) {
        Push(JsonNode::kUint)->u_ = x;
        return p;
      }
    }
    // Beyond 64 bits: a double, as ParseJson does.
  }
  double d = 0;
  auto r = std::from_chars(start, p, d);
  if (r.ptr != p) return nullptr;
  if (r.ec == std::errc::result_out_of_range) {
    if (Overflows(std::string_view(start, static_cast<size_t>(p - start)))) return nullptr;
    d = neg ? -0.0 : 0.0;
  } else if (r.ec != std::errc()) {
    return nullptr;
  }
  Push(JsonNode::kDouble)->d_ = d;
  return p;
}

bool JsonTape::Parse(std::string_view text) {
  nodes_.clear();
  stack_.clear();
  unescaped_.clear();
  unescaped_at_.clear();
  if (text.size() >= UINT32_MAX) return false;
  const char* p = text.data();
  const char* const end = p + text.size();
  p = SkipWs(p, end);
value:  // a value starts at p (whitespace skipped)
  if (p == end) return false;
  switch (*p) {
    case '{':
      stack_.push_back({static_cast<uint32_t>(nodes_.size()), 0});
      Push(JsonNode::kObject);
      p = SkipWs(p + 1, end);
      if (p < end && *p == '}') {
        ++p;
        goto close;
      }
      goto key;
    case '[':
      stack_.push_back({static_cast<uint32_t>(nodes_.size()), 0});
      Push(JsonNode::kArray);
      p = SkipWs(p + 1, end);
      if (p < end && *p == ']') {
        ++p;
        goto close;
      }
      goto value;
    case '"':
      p = String(p + 1, end);
      if (p == nullptr) return false;
      break;
    case 't':
      if (end - p < 4 || std::memcmp(p, "true", 4) != 0) return false;
      Push(JsonNode::kTrue);
      p += 4;
      break;
    case 'f':
      if (end - p < 5 || std::memcmp(p, "false", 5) != 0) return false;
      Push(JsonNode::kFalse);
      p += 5;
      break;
    case 'n':
      if (end - p < 4 || std::memcmp(p, "null", 4) != 0) return false;
      Push(JsonNode::kNull);
      p += 4;
      break;
    default:
      if (*p != '-' && !IsDigit(*p)) return false;
      p = Number(p, end);
      if (p == nullptr) return false;
      break;
  }
after:  // a value ended at p
  if (stack_.empty()) {
    if (SkipWs(p, end) != end) return false;
    for (uint32_t i : unescaped_at_) nodes_[i].s_ = unescaped_.data() + nodes_[i].u_;
    return true;
  }
  ++stack_.back().count;
  p = SkipWs(p, end);
  if (p == end) return false;
  if (nodes_[stack_.back().node].kind_ == JsonNode::kObject) {
    if (*p == ',') {
      p = SkipWs(p + 1, end);
      goto key;
    }
    if (*p != '}') return false;
  } else {
    if (*p == ',') {
      p = SkipWs(p + 1, end);
      goto value;
    }
    if (*p != ']') return false;
  }
  ++p;
close:  // the container on top of the stack ended just before p
  {
    const Frame f = stack_.back();
    stack_.pop_back();
    JsonNode& n = nodes_[f.node];
    n.n_ = static_cast<uint32_t>(nodes_.size() - f.node);
    n.count_ = f.count;
  }
  goto after;
key:  // a member's key starts at p
  if (p == end || *p != '"') return false;
  p = String(p + 1, end);
  if (p == nullptr) return false;
  p = SkipWs(p, end);
  if (p == end || *p != ':') return false;
  p = SkipWs(p + 1, end);
  goto value;
}

}  // namespace otlake::otlp::internal
