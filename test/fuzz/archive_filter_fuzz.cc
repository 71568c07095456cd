// libFuzzer target: arbitrary bytes as an OTLP protobuf request of each signal, through the
// archive writer's transforms of request bodies (archive/filter.h, otlp::OtlpProtobufToJson).
// Checks: never a crash; for a body the decoder accepts, AcceptedRecordsOnly keeps exactly the
// accepted records (its result decodes with the same accepted count and no rejection), and the
// OTLP/JSON form of the body converts back to protobuf that decodes to the same counts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "otlake/archive/filter.h"
#include "otlake/otlp/decode.h"
#include "otlake/otlp/json_to_proto.h"

namespace {

void Require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace otlake;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  otlp::DecodeOptions options;
  options.now_unix_nano = 1700000000000000000;
  for (otlp::Signal s : {otlp::Signal::kTraces, otlp::Signal::kLogs, otlp::Signal::kMetrics}) {
    otlp::DecodeResult r;
    const bool decodes = otlp::DecodeProtobuf(s, body, options, &r).ok();
    auto kept = archive::AcceptedRecordsOnly(s, body, /*json=*/false);
    if (decodes && kept.ok()) {
      otlp::DecodeResult k;
      Require(otlp::DecodeProtobuf(s, *kept, options, &k).ok());
      Require(k.rejected == 0 && k.accepted == r.accepted);
    }
    auto json = otlp::OtlpProtobufToJson(s, body);
    if (decodes && json.ok()) {
      auto back = otlp::OtlpJsonToProtobuf(s, *json);
      Require(back.ok());
      otlp::DecodeResult b;
      Require(otlp::DecodeProtobuf(s, *back, options, &b).ok());
      Require(b.accepted == r.accepted && b.rejected == r.rejected);
    }
  }
  return 0;
}
