// ProtoWriter: a small protobuf wire-format encoder (the inverse of wire.h's WireReader).
//
// Contract: each call appends one field in canonical encoding (minimal varints). Nested messages
// are written between BeginMessage(field) and EndMessage(); their length prefix is filled in on
// EndMessage. Nothing is validated: the writer will happily produce what the caller asks for,
// which is what tests of malformed input need (Raw, Tag). Used by tests, the benchmark load
// generator and OTLP encoders (responses, export).
#pragma once

#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/otlp/any_value.h"
#include "otlake/otlp/wire.h"

namespace otlake::otlp {

class ProtoWriter {
 public:
  /// Appends a tag (field number and wire type).
  void Tag(uint32_t field, WireType type) {
    AppendVarint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(type));
  }
  /// varint: int32/int64/uint32/uint64/enum (negative int32/int64 take 10 bytes, as protobuf).
  void Varint(uint32_t field, uint64_t v) {
    Tag(field, WireType::kVarint);
    AppendVarint(v);
  }
  void Int64(uint32_t field, int64_t v) { Varint(field, static_cast<uint64_t>(v)); }
  void Bool(uint32_t field, bool v) { Varint(field, v ? 1 : 0); }
  /// sint32 / sint64 (zigzag).
  void Sint32(uint32_t field, int32_t v) {
    Varint(field, (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
  }
  void Sint64(uint32_t field, int64_t v) {
    Varint(field, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void Fixed64(uint32_t field, uint64_t v) {
    Tag(field, WireType::kFixed64);
    AppendFixed64(v);
  }
  void Sfixed64(uint32_t field, int64_t v) { Fixed64(field, static_cast<uint64_t>(v)); }
  void Double(uint32_t field, double v) { Fixed64(field, std::bit_cast<uint64_t>(v)); }
  void Fixed32(uint32_t field, uint32_t v) {
    Tag(field, WireType::kFixed32);
    AppendFixed32(v);
  }
  /// Length-delimited: string, bytes, or an already-encoded message.
  void Bytes(uint32_t field, std::string_view v) {
    Tag(field, WireType::kLen);
    AppendVarint(v.size());
    buf_.append(v.data(), v.size());
  }
  void String(uint32_t field, std::string_view v) { Bytes(field, v); }

  /// Packed repeated fields.
  void PackedFixed64(uint32_t field, std::span<const uint64_t> v);
  void PackedDouble(uint32_t field, std::span<const double> v);
  void PackedVarint(uint32_t field, std::span<const uint64_t> v);

  /// Starts a nested message in `field`; every Begin needs its EndMessage.
  void BeginMessage(uint32_t field);
  void EndMessage();

  /// Appends raw bytes / a bare varint (for building malformed input in tests).
  void Raw(std::string_view bytes) { buf_.append(bytes.data(), bytes.size()); }
  void AppendVarint(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<char>(v));
  }

  const std::string& data() const { return buf_; }
  /// Moves the encoded bytes out and resets the writer.
  std::string Release();
  void Clear() {
    buf_.clear();
    open_.clear();
  }

 private:
  void AppendFixed64(uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
    buf_.append(b, 8);
  }
  void AppendFixed32(uint32_t v) {
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
    buf_.append(b, 4);
  }

  std::string buf_;
  std::vector<size_t> open_;  // offset of each open message's 1-byte length placeholder
};

/// Writes `v` as an AnyValue message in `field` (an empty AnyValue as an empty message).
void WriteAnyValue(ProtoWriter* w, uint32_t field, const AnyValue& v);
/// Writes a KeyValue message (key = 1, value = 2) in `field`.
void WriteKeyValue(ProtoWriter* w, uint32_t field, const KeyValue& kv);
/// Convenience: one KeyValue per attribute, each in `field`.
void WriteAttributes(ProtoWriter* w, uint32_t field, const std::vector<KeyValue>& attrs);

}  // namespace otlake::otlp
