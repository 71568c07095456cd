#include "otlake/otlp/any_value.h"

#include <cmath>
#include <cstring>
#include <utility>

namespace otlake::otlp {

namespace {
// An AnyValue of type `t` holding `v` in `member`.
template <typename T>
AnyValue Make(AnyValue::Type t, T AnyValue::*member, T v) {
  AnyValue a;
  a.type = t;
  a.*member = std::move(v);
  return a;
}
}  // namespace

AnyValue AnyValue::String(std::string v) {
  return Make(Type::kString, &AnyValue::string_value, std::move(v));
}
AnyValue AnyValue::Bool(bool v) {
  return Make(Type::kBool, &AnyValue::bool_value, v);
}
AnyValue AnyValue::Int(int64_t v) {
  return Make(Type::kInt, &AnyValue::int_value, v);
}
AnyValue AnyValue::Double(double v) {
  return Make(Type::kDouble, &AnyValue::double_value, v);
}
AnyValue AnyValue::Bytes(std::string v) {
  return Make(Type::kBytes, &AnyValue::string_value, std::move(v));
}
AnyValue AnyValue::Array(std::vector<AnyValue> v) {
  return Make(Type::kArray, &AnyValue::array, std::move(v));
}
AnyValue AnyValue::Kvlist(std::vector<KeyValue> v) {
  return Make(Type::kKvlist, &AnyValue::kvlist, std::move(v));
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
