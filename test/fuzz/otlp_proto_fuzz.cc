// libFuzzer target: arbitrary bytes as an OTLP protobuf request of each signal.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_checks.h"
#include "otlake/otlp/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace otlake;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  otlp::DecodeOptions options;
  options.now_unix_nano = 1700000000000000000;
  for (otlp::Signal s : {otlp::Signal::kTraces, otlp::Signal::kLogs, otlp::Signal::kMetrics}) {
    otlp::DecodeResult r;
    Status st = otlp::DecodeProtobuf(s, body, options, &r);
    fuzz::CheckResult(st, r);
  }
  return 0;
}
