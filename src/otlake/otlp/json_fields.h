// OTLP/JSON reading rules shared by the JSON decoder and the JSON->protobuf transcoder, so the two
// can never disagree on what a request says.
//
// - Field names: OTLP/JSON uses lowerCamelCase; protobuf's JSON mapping also accepts the original
//   snake_case. KeyIs() accepts either without allocating.
// - 64-bit integers: JSON numbers (integral) or decimal strings.
// - Doubles: numbers, decimal strings, or "NaN" / "Infinity" / "-Infinity".
// - Enums: numbers (int32) or their names, via a caller's name table.
// - Parsing (ParseJson): the whole text is checked to be UTF-8 first (one fast pass), then parsed
//   in place by RapidJSON's iterative parser (constant stack), with numbers converted by
//   std::from_chars (correctly rounded; no undefined behaviour on hostile exponents, unlike
//   RapidJSON 1.1.0's own full-precision strtod). Strings made of \u escapes are not re-checked
//   here: callers validate every string they use (lone surrogates).
// - Fast parsing (ParseJsonFast, the decoder's path): one pass over the text into a flat tape of
//   JsonNode (no copy of the text; strings point into it unless they hold escapes). It accepts a
//   subset of what ParseJson accepts -- every valid JSON text but those with \u escapes of lone
//   surrogates or numbers out of a double's range -- and gives the same values for it (the fuzz
//   target otlp_json_fuzz compares the two). On anything else it returns false without a message:
//   the caller then uses ParseJson, which says what is wrong.
//
// Not a public API.
#pragma once

#include <rapidjson/document.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/otlp/decode.h"

namespace otlake::otlp::internal {

/// Parses `text` into *doc. Integers that fit are int64/uint64 values, everything else a double
/// ("-0" is the double -0.0). `buffer` receives a copy of the text that the document's strings
/// point into: it must outlive *doc. Errors: Status::Invalid("invalid JSON at offset N: ...").
Status ParseJson(std::string_view text, std::string* buffer, rapidjson::Document* doc);

/// One value of a document parsed by ParseJsonFast, with the parts of rapidjson::Value's interface
/// the decoder uses. A document is a tape: a container is followed by its elements (an object by
/// key, value, key, value, ...), so every node knows how many tape nodes it spans. Strings are
/// valid UTF-8 (checked while parsing, escapes included).
class JsonNode {
 public:
  enum Kind : uint8_t { kNull, kFalse, kTrue, kString, kUint, kInt, kDouble, kObject, kArray };

  bool IsNull() const { return kind_ == kNull; }
  bool IsBool() const { return kind_ == kFalse || kind_ == kTrue; }
  bool GetBool() const { return kind_ == kTrue; }
  bool IsString() const { return kind_ == kString; }
  bool IsObject() const { return kind_ == kObject; }
  bool IsArray() const { return kind_ == kArray; }
  bool IsNumber() const { return kind_ == kUint || kind_ == kInt || kind_ == kDouble; }
  /// As rapidjson: an integer >= 0 is uint64 (and int64 below 2^63), one < 0 only int64.
  bool IsUint64() const { return kind_ == kUint; }
  bool IsInt64() const { return kind_ == kInt || (kind_ == kUint && u_ <= INT64_MAX); }
  bool IsDouble() const { return kind_ == kDouble; }
  uint64_t GetUint64() const { return u_; }
  int64_t GetInt64() const { return i_; }
  double GetDouble() const {
    if (kind_ == kDouble) return d_;
    return kind_ == kInt ? static_cast<double>(i_) : static_cast<double>(u_);
  }
  const char* GetString() const { return s_; }
  uint32_t GetStringLength() const { return n_; }
  /// Elements of an array / members of an object.
  uint32_t Size() const { return count_; }

  /// Tape nodes this value covers (itself and everything inside).
  uint32_t Span() const { return (kind_ == kObject || kind_ == kArray) ? n_ : 1; }

  class ElementIterator {
   public:
    ElementIterator() : p_(nullptr) {}
    explicit ElementIterator(const JsonNode* p) : p_(p) {}
    const JsonNode& operator*() const { return *p_; }
    const JsonNode* operator->() const { return p_; }
    ElementIterator& operator++() {
      p_ += p_->Span();
      return *this;
    }
    bool operator!=(const ElementIterator& o) const { return p_ != o.p_; }
    bool operator==(const ElementIterator& o) const { return p_ == o.p_; }

   private:
    const JsonNode* p_;
  };
  struct MemberRef {
    const JsonNode& name;
    const JsonNode& value;
    const MemberRef* operator->() const { return this; }
  };
  class MemberIterator {
   public:
    explicit MemberIterator(const JsonNode* p) : p_(p) {}
    MemberRef operator->() const { return MemberRef{p_[0], p_[1]}; }
    MemberIterator& operator++() {
      p_ += 1 + p_[1].Span();
      return *this;
    }
    bool operator!=(const MemberIterator& o) const { return p_ != o.p_; }
    bool operator==(const MemberIterator& o) const { return p_ == o.p_; }

   private:
    const JsonNode* p_;
  };
  ElementIterator Begin() const { return ElementIterator(this + 1); }
  ElementIterator End() const { return ElementIterator(this + n_); }
  MemberIterator MemberBegin() const { return MemberIterator(this + 1); }
  MemberIterator MemberEnd() const { return MemberIterator(this + n_); }

 private:
  friend class JsonTape;
  Kind kind_ = kNull;
  uint32_t n_ = 0;      // string length, or the tape nodes a container spans
  union {
    const char* s_;     // string bytes
    uint64_t u_;
    int64_t i_;
    double d_;
    uint32_t count_;    // container elements
  };
};
static_assert(sizeof(JsonNode) == 16);

/// A parsed document and the scratch it reuses (keep one per thread: parsing is allocation-free
/// once its vectors have grown to a request's size).
class JsonTape {
 public:
  const JsonNode& root() const { return nodes_[0]; }
  /// Frees what a very large document left behind (keeps up to `keep_bytes`).
  void Trim(size_t keep_bytes);
  /// Parses `text` (which must outlive the tape's use); false if it is not JSON ParseJsonFast
  /// takes (see the file comment), the tape's contents then unspecified.
  bool Parse(std::string_view text);

 private:
  struct Frame {
    uint32_t node;   // index of the container
    uint32_t count;  // elements so far
  };
  JsonNode* Push(JsonNode::Kind k) {
    nodes_.emplace_back();
    JsonNode* n = &nodes_.back();
    n->kind_ = k;
    return n;
  }
  const char* String(const char* p, const char* end);
  const char* StringSlow(const char* begin, const char* p, const char* end);
  const char* Escaped(const char* begin, const char* p, const char* end);
  const char* Number(const char* p, const char* end);

  std::vector<JsonNode> nodes_;
  std::vector<Frame> stack_;
  std::string unescaped_;                // strings with escapes, decoded
  std::vector<uint32_t> unescaped_at_;   // their nodes (pointers set once the arena stops growing)
};

/// DecodeJson as it was before ParseJsonFast: ParseJson (RapidJSON) and the same walker, for the
/// fuzz target's and decode_bench's comparisons. Not for production use (slower, same results).
Status DecodeJsonRapidJson(Signal signal, std::string_view body, const DecodeOptions& options,
                           DecodeResult* out);

/// Parses `text` into *tape (see JsonTape::Parse).
inline bool ParseJsonFast(std::string_view text, JsonTape* tape) { return tape->Parse(text); }

/// True if `key` is `camel` or its snake_case form (traceId / trace_id).
inline bool KeyIs(std::string_view key, std::string_view camel) {
  if (key.size() == camel.size()) return key == camel;
  if (key.size() < camel.size()) return false;
  size_t i = 0;
  for (char c : camel) {
    if (c >= 'A' && c <= 'Z') {
      if (i + 2 > key.size() || key[i] != '_' || key[i + 1] != static_cast<char>(c + 32)) {
        return false;
      }
      i += 2;
    } else {
      if (i >= key.size() || key[i] != c) return false;
      ++i;
    }
  }
  return i == key.size();
}

template <typename V>
inline std::string_view JsonStr(const V& v) {
  return {v.GetString(), v.GetStringLength()};
}

template <typename T>
bool ParseDecimal(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

/// An unsigned 64-bit integer (number or decimal string). False on any other value.
template <typename V>
inline bool JsonToU64(const V& v, uint64_t* out) {
  if (v.IsUint64()) {
    *out = v.GetUint64();
    return true;
  }
  if (v.IsDouble()) {
    const double d = v.GetDouble();
    if (d >= 0 && d < 18446744073709551616.0 && d == std::floor(d)) {
      *out = static_cast<uint64_t>(d);
      return true;
    }
    return false;
  }
  return v.IsString() && ParseDecimal(JsonStr(v), out);
}

/// A signed 64-bit integer (number or decimal string).
template <typename V>
inline bool JsonToI64(const V& v, int64_t* out) {
  if (v.IsInt64()) {
    *out = v.GetInt64();
    return true;
  }
  if (v.IsDouble()) {
    const double d = v.GetDouble();
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == std::floor(d)) {
      *out = static_cast<int64_t>(d);
      return true;
    }
    return false;
  }
  return v.IsString() && ParseDecimal(JsonStr(v), out);
}

template <typename V>
inline bool JsonToU32(const V& v, uint32_t* out) {
  uint64_t x;
  if (!JsonToU64(v, &x) || x > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(x);
  return true;
}

template <typename V>
inline bool JsonToI32(const V& v, int32_t* out) {
  int64_t x;
  if (!JsonToI64(v, &x) || x < INT32_MIN || x > INT32_MAX) return false;
  *out = static_cast<int32_t>(x);
  return true;
}

/// A double: number, decimal string, "NaN", "Infinity", "-Infinity".
template <typename V>
inline bool JsonToDouble(const V& v, double* out) {
  if (v.IsNumber()) {
    *out = v.GetDouble();
    return true;
  }
  if (!v.IsString()) return false;
  const std::string_view s = JsonStr(v);
  if (s == "NaN") {
    *out = std::nan("");
  } else if (s == "Infinity") {
    *out = HUGE_VAL;
  } else if (s == "-Infinity") {
    *out = -HUGE_VAL;
  } else {
    return ParseDecimal(s, out);
  }
  return true;
}

/// An enum: int32 number, decimal string, or a name known to `parse`.
template <typename V>
inline bool JsonToEnum(const V& v, bool (*parse)(std::string_view, int32_t*),
                       int32_t* out) {
  if (v.IsString() && parse(JsonStr(v), out)) return true;
  return JsonToI32(v, out);
}

}  // namespace otlake::otlp::internal
