// Typed attribute JSON: the lossless text form of OTLP attribute values stored in the *_attrs_json
// columns (spec: docs/attributes-json.md).
//
// Encoding of one AnyValue:
//   string -> JSON string (RFC 8259 escapes; non-ASCII UTF-8 kept raw)
//   bool   -> true / false            int -> integer literal (-12)
//   double -> number with '.' or an exponent (1.0, 2.5e-07; shortest round trip), and
//             NaN / +-Inf -> {"$double":"NaN"} / {"$double":"Infinity"} / {"$double":"-Infinity"}
//   bytes  -> {"$bytes":"<standard base64, padded>"}
//   array  -> JSON array              empty AnyValue -> null
//   kvlist -> JSON object, entries in order, duplicate keys kept; except that a kvlist of exactly
//             one entry whose key starts with '$' is wrapped: {"$kvlist":{"$key":...}}, so no
//             kvlist is ever mistaken for an escape.
// An attribute list (the top level of a column) is a JSON object of the attributes in order,
// never wrapped or escaped.
//
// The primitives below append to a caller's std::string so hot paths allocate nothing per value;
// the tree functions (EncodeTypedJson*, DecodeTypedJson*) are for export, query and tests.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/otlp/any_value.h"

namespace otlake::otlp {

/// Appends `s` as a JSON string literal with quotes. Returns false if `s` is not valid UTF-8 (the
/// output is then partial and must be discarded).
bool AppendJsonString(std::string* out, std::string_view s);

/// Appends an object member's name: `sep` (unless it is '\0', e.g. ',' between members), `key`
/// as a JSON string literal, then ':'. Returns false if `key` is not valid UTF-8.
bool AppendJsonKey(std::string* out, char sep, std::string_view key);

/// Appends a JSON integer literal.
inline void AppendJsonInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}
inline void AppendJsonUint(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

/// Appends a double in typed form: the shortest round-trip literal, with ".0" added when it would
/// otherwise read as an integer; NaN and infinities as {"$double":...}.
void AppendTypedDouble(std::string* out, double v);

/// Appends {"$bytes":"<base64>"}.
void AppendTypedBytes(std::string* out, std::string_view bytes);

/// True if a kvlist with `entries` entries whose first key is `first_key` must be written as
/// {"$kvlist":{...}}.
inline bool KvlistNeedsEscape(size_t entries, std::string_view first_key) {
  return entries == 1 && !first_key.empty() && first_key[0] == '$';
}

/// Appends the typed JSON of `v`.
void EncodeTypedJson(const AnyValue& v, std::string* out);

/// Appends an attribute list as a typed JSON object ({} when empty).
void EncodeTypedJsonAttributes(const std::vector<KeyValue>& attrs, std::string* out);

/// Parses the typed JSON of one AnyValue. Invalid JSON, an unknown '$' escape, an integer outside
/// int64, invalid base64 or nesting deeper than `max_depth` give Status::Invalid.
Result<AnyValue> DecodeTypedJson(std::string_view json, int max_depth = 64);

/// Parses a typed JSON attribute object (the *_attrs_json column form) into its list.
Result<std::vector<KeyValue>> DecodeTypedJsonAttributes(std::string_view json, int max_depth = 64);

}  // namespace otlake::otlp
