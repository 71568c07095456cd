// AnyValue / KeyValue: an owning tree of OTLP attribute values.
//
// The decoders never build these (they write typed JSON straight from the wire); the tree is for
// the other direction and for tests: the typed-JSON decoder produces it from a *_attrs_json column,
// the protobuf writer encodes it (OTLP export, load generators), and tests compare with it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace otlake::otlp {

struct KeyValue;

/// One OTLP AnyValue. `type` says which member holds the value; kEmpty is an AnyValue with no
/// value set (typed JSON null).
struct AnyValue {
  enum class Type : uint8_t { kEmpty, kString, kBool, kInt, kDouble, kBytes, kArray, kKvlist };

  Type type = Type::kEmpty;
  bool bool_value = false;
  int64_t int_value = 0;
  double double_value = 0;
  std::string string_value;  ///< kString (UTF-8) and kBytes (raw bytes)
  std::vector<AnyValue> array;
  std::vector<KeyValue> kvlist;  ///< in order; duplicate keys kept

  static AnyValue String(std::string v);
  static AnyValue Bool(bool v);
  static AnyValue Int(int64_t v);
  static AnyValue Double(double v);
  static AnyValue Bytes(std::string v);
  static AnyValue Array(std::vector<AnyValue> v);
  static AnyValue Kvlist(std::vector<KeyValue> v);

  /// Structural equality; doubles compare bitwise-equal-or-both-NaN so NaN round trips compare.
  bool operator==(const AnyValue& o) const;
};

struct KeyValue {
  std::string key;
  AnyValue value;
  bool operator==(const KeyValue& o) const { return key == o.key && value == o.value; }
};

}  // namespace otlake::otlp
