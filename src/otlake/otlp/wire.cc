#include "otlake/otlp/wire.h"

namespace otlake::otlp {

bool WireReader::SkipGroup(uint32_t number) {
  constexpr int kMaxGroupDepth = 32;
  uint32_t stack[kMaxGroupDepth];
  int depth = 0;
  stack[depth++] = number;
  while (depth > 0) {
    if (p_ >= end_) return Fail("unterminated group");
    uint64_t tag;
    if (int r = ReadVarint(&p_, end_, &tag); r != 0) {
      return Fail(r == 1 ? "truncated tag" : "malformed tag varint");
    }
    if (tag > 0xFFFFFFFFu) return Fail("tag above 32 bits");
    const uint32_t num = static_cast<uint32_t>(tag >> 3);
    if (num == 0) return Fail("field number 0");
    uint64_t v;
    switch (tag & 7) {
      case 0:
        if (int r = ReadVarint(&p_, end_, &v); r != 0) {
          return Fail(r == 1 ? "truncated varint" : "varint longer than 10 bytes");
        }
        break;
      case 1:
        if (end_ - p_ < 8) return Fail("truncated fixed64");
        p_ += 8;
        break;
      case 2:
        if (int r = ReadVarint(&p_, end_, &v); r != 0) {
          return Fail(r == 1 ? "truncated length" : "malformed length varint");
        }
        if (v > static_cast<uint64_t>(end_ - p_)) return Fail("length past end of message");
        p_ += v;
        break;
      case 5:
        if (end_ - p_ < 4) return Fail("truncated fixed32");
        p_ += 4;
        break;
      case 3:
        if (depth == kMaxGroupDepth) return Fail("groups nested too deeply");
        stack[depth++] = num;
        break;
      case 4:
        if (stack[depth - 1] != num) return Fail("end-group does not match start-group");
        --depth;
        break;
      default: return Fail("invalid wire type");
    }
  }
  return true;
}

}  // namespace otlake::otlp
