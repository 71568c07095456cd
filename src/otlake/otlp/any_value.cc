#include "otlake/otlp/any_value.h"

#include <cmath>
#include <cstring>
#include <utility>

namespace otlake::otlp {

AnyValue AnyValue::String(std::string v) {
  AnyValue a;
  a.type = Type::kString;
  a.string_value = std::move(v);
  return a;
}
AnyValue AnyValue::Bool(bool v) {
  AnyValue a;
  a.type = Type::kBool;
  a.bool_value = v;
  return a;
}
AnyValue AnyValue::Int(int64_t v) {
  AnyValue a;
  a.type = Type::kInt;
  a.int_value = v;
  return a;
}
AnyValue AnyValue::Double(double v) {
  AnyValue a;
  a.type = Type::kDouble;
  a.double_value = v;
  return a;
}
AnyValue AnyValue::Bytes(std::string v) {
  AnyValue a;
  a.type = Type::kBytes;
  a.string_value = std::move(v);
  return a;
}
AnyValue AnyValue::Array(std::vector<AnyValue> v) {
  AnyValue a;
  a.type = Type::kArray;
  a.array = std::move(v);
  return a;
}
AnyValue AnyValue::Kvlist(std::vector<KeyValue> v) {
  AnyValue a;
  a.type = Type::kKvlist;
  a.kvlist = std::move(v);
  return a;
}

bool AnyValue::operator==(const AnyValue& o) const {
  if (type != o.type) return false;
  switch (type) {
    case Type::kEmpty: return true;
    case Type::kString:
    case Type::kBytes: return string_value == o.string_value;
    case Type::kBool: return bool_value == o.bool_value;
    case Type::kInt: return int_value == o.int_value;
    case Type::kDouble:
      if (std::isnan(double_value) && std::isnan(o.double_value)) return true;
      return std::memcmp(&double_value, &o.double_value, sizeof(double)) == 0;
    case Type::kArray: return array == o.array;
    case Type::kKvlist: return kvlist == o.kvlist;
  }
  return false;
}

}  // namespace otlake::otlp
