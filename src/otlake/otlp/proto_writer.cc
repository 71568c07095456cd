#include "otlake/otlp/proto_writer.h"

#include <utility>

namespace otlake::otlp {

void ProtoWriter::PackedFixed64(uint32_t field, std::span<const uint64_t> v) {
  Tag(field, WireType::kLen);
  AppendVarint(v.size() * 8);
  for (uint64_t x : v) AppendFixed64(x);
}

void ProtoWriter::PackedDouble(uint32_t field, std::span<const double> v) {
  Tag(field, WireType::kLen);
  AppendVarint(v.size() * 8);
  for (double x : v) AppendFixed64(std::bit_cast<uint64_t>(x));
}

void ProtoWriter::PackedVarint(uint32_t field, std::span<const uint64_t> v) {
  BeginMessage(field);
  for (uint64_t x : v) AppendVarint(x);
  EndMessage();
}

void ProtoWriter::BeginMessage(uint32_t field) {
  Tag(field, WireType::kLen);
  open_.push_back(buf_.size());
  buf_.push_back('\0');  // length placeholder; most messages fit one byte
}

void ProtoWriter::EndMessage() {
  const size_t at = open_.back();
  open_.pop_back();
  const uint64_t len = buf_.size() - at - 1;
  if (len < 0x80) {
    buf_[at] = static_cast<char>(len);
    return;
  }
  char tmp[10];
  int n = 0;
  uint64_t v = len;
  while (v >= 0x80) {
    tmp[n++] = static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  tmp[n++] = static_cast<char>(v);
  buf_.replace(at, 1, tmp, n);
}

std::string ProtoWriter::Release() {
  std::string out = std::move(buf_);
  Clear();
  return out;
}

void WriteAnyValue(ProtoWriter* w, uint32_t field, const AnyValue& v) {
  using T = AnyValue::Type;
  w->BeginMessage(field);
  switch (v.type) {
    case T::kEmpty: break;
    case T::kString: w->String(1, v.string_value); break;
    case T::kBool: w->Bool(2, v.bool_value); break;
    case T::kInt: w->Int64(3, v.int_value); break;
    case T::kDouble: w->Double(4, v.double_value); break;
    case T::kArray:
      w->BeginMessage(5);
      for (const AnyValue& e : v.array) WriteAnyValue(w, 1, e);
      w->EndMessage();
      break;
    case T::kKvlist:
      w->BeginMessage(6);
      for (const KeyValue& kv : v.kvlist) WriteKeyValue(w, 1, kv);
      w->EndMessage();
      break;
    case T::kBytes: w->Bytes(7, v.string_value); break;
  }
  w->EndMessage();
}

void WriteKeyValue(ProtoWriter* w, uint32_t field, const KeyValue& kv) {
  w->BeginMessage(field);
  w->String(1, kv.key);
  WriteAnyValue(w, 2, kv.value);
  w->EndMessage();
}

void WriteAttributes(ProtoWriter* w, uint32_t field, const std::vector<KeyValue>& attrs) {
  for (const KeyValue& kv : attrs) WriteKeyValue(w, field, kv);
}

}  // namespace otlake::otlp
