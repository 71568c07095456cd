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
//
// Not a public API.
#pragma once

#include <rapidjson/document.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "otlake/common/status.h"

namespace otlake::otlp::internal {

/// Parses `text` into *doc. Integers that fit are int64/uint64 values, everything else a double
/// ("-0" is the double -0.0). `buffer` receives a copy of the text that the document's strings
/// point into: it must outlive *doc. Errors: Status::Invalid("invalid JSON at offset N: ...").
Status ParseJson(std::string_view text, std::string* buffer, rapidjson::Document* doc);

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

inline std::string_view JsonStr(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

template <typename T>
bool ParseDecimal(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

/// An unsigned 64-bit integer (number or decimal string). False on any other value.
inline bool JsonToU64(const rapidjson::Value& v, uint64_t* out) {
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
inline bool JsonToI64(const rapidjson::Value& v, int64_t* out) {
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

inline bool JsonToU32(const rapidjson::Value& v, uint32_t* out) {
  uint64_t x;
  if (!JsonToU64(v, &x) || x > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(x);
  return true;
}

inline bool JsonToI32(const rapidjson::Value& v, int32_t* out) {
  int64_t x;
  if (!JsonToI64(v, &x) || x < INT32_MIN || x > INT32_MAX) return false;
  *out = static_cast<int32_t>(x);
  return true;
}

/// A double: number, decimal string, "NaN", "Infinity", "-Infinity".
inline bool JsonToDouble(const rapidjson::Value& v, double* out) {
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
inline bool JsonToEnum(const rapidjson::Value& v, bool (*parse)(std::string_view, int32_t*),
                       int32_t* out) {
  if (v.IsString() && parse(JsonStr(v), out)) return true;
  return JsonToI32(v, out);
}

}  // namespace otlake::otlp::internal
