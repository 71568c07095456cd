// Attribute maps: the schema-2 storage form of an OTLP attribute list (spec: docs/attributes.md).
//
// A list is stored as MAP<STRING, STRING> (key -> value text) plus a type-letter string, one
// letter per entry in map order:
//   s string  the string itself             i int     decimal ("-12")
//   d double  shortest round-trip text; NaN, Infinity, -Infinity
//   b bool    true / false                  y bytes   standard base64, padded
//   a array   typed JSON (attributes-json.md) k kvlist  typed JSON (an object, or {"$kvlist":..})
//   e empty   the value is null
// Duplicate keys (forbidden by OTLP) keep the last value (table::AttrMap::DropDuplicateKeys).
//
// The decoders write attribute lists straight into this form (table::AttrMap::BeginEntry /
// EndEntry; AppendMapDouble for doubles, AppendBase64 for bytes, typed JSON for arrays and
// kvlists). TypedJsonToAttrMap turns a typed JSON attribute object into it (tests, tools);
// AppendAttrMapTypedJson is the way back (the read API answers typed JSON objects, exactly as
// schema 1 stored them).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/otlp/any_value.h"
#include "otlake/table/row_batch.h"

namespace otlake::otlp {

/// Appends the entries of typed JSON attribute object `json` (an object of key -> typed JSON
/// value, as AppendJsonKey/Value render it) to *out, in order. Status::Invalid if `json` is not
/// such an object (nothing useful is appended then).
Status TypedJsonToAttrMap(std::string_view json, table::AttrMap* out);

/// The map value text of a double: shortest round trip ("1", "0.5", "1e+300"), NaN, Infinity,
/// -Infinity.
void AppendMapDouble(std::string* out, double v);

/// One map entry as read back from a file.
struct MapEntry {
  std::string_view key, value;
  bool null = false;
};

/// Appends the typed JSON object of the entries with their type letters (what schema 1 stored in
/// *_attrs_json). Status::Invalid if the letters do not match the entries (count, letter, a null
/// value whose letter is not 'e', a value that does not parse as its type).
Status AppendAttrMapTypedJson(const std::vector<MapEntry>& entries, std::string_view types,
                              std::string* out);

/// The map form of an attribute list (tests, fuzz targets, load generators).
void AttributesToAttrMap(const std::vector<KeyValue>& attrs, table::AttrMap* out);

/// The attribute list of a map (tests, fuzz targets): via AppendAttrMapTypedJson.
Result<std::vector<KeyValue>> AttrMapToAttributes(const table::AttrMap& m);

}  // namespace otlake::otlp
