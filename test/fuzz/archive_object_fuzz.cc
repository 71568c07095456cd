// libFuzzer target: arbitrary bytes as an archive object (archive::DecodeObjectBytes). The first
// byte picks the name (signal x marshaler x suffix compression) and the Content-Encoding header;
// the rest is the object. Invariants: errors are only Invalid or CapacityError; a success has at
// least one document, none larger than the limit, JSON documents are objects and protobuf ones
// start with field 1 wire type 2; the signal is the name's.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_checks.h"
#include "otlake/archive/object.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace otlake;
  using namespace otlake::archive;
  if (size == 0) return 0;
  const uint8_t sel = data[0];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  ObjectName name;
  name.signal = static_cast<Signal>(sel % 3);
  name.marshaler = static_cast<Marshaler>(sel / 3 % 3);
  name.compression = static_cast<Compression>(sel / 9 % 3);
  name.unique = "1";
  ObjectDecodeOptions options;
  static constexpr const char* kEncodings[] = {"", "gzip", "zstd"};
  options.content_encoding = kEncodings[sel / 27 % 3];
  options.max_decompressed_bytes = 1 << 20;  // small, so bombs are found quickly
  auto r = DecodeObjectBytes("fuzz", name, bytes, options);
  if (!r.ok()) {
    if (!r.status().IsInvalid() && !r.status().IsCapacityError()) {
      fuzz::Die("unexpected error class: " + r.status().ToString());
    }
    return 0;
  }
  if (r->documents.empty()) fuzz::Die("success without documents");
  if (r->name.signal != name.signal) fuzz::Die("signal changed");
  for (const Document& d : r->documents) {
    if (static_cast<int64_t>(d.body.size()) > options.max_decompressed_bytes) {
      fuzz::Die("document larger than the limit");
    }
    if (d.content_type == kProtobufContentType) {
      // The first tag, a varint (possibly over-long, which protobuf allows), must be 1 << 3 | 2.
      uint64_t tag = 0;
      size_t i = 0;
      for (; i < d.body.size() && i < 10; ++i) {
        tag |= static_cast<uint64_t>(static_cast<uint8_t>(d.body[i]) & 0x7f) << (7 * i);
        if ((static_cast<uint8_t>(d.body[i]) & 0x80) == 0) break;
      }
      if (i == d.body.size() || tag != 0x0a) fuzz::Die("protobuf without field 1 first");
    } else {
      const size_t first = d.body.find_first_not_of(" \t\r\n");
      if (first == std::string::npos || d.body[first] != '{') {
        fuzz::Die("JSON document that is not an object");
      }
    }
  }
  return 0;
}
