// Names for otlake's threads, so `top -H`, `ps -L`, perf and /proc/<pid>/task/*/comm tell the
// HTTP threads from the flusher or the shipper (bench/ingest_bench.py splits server CPU by them).
#pragma once

#include <string_view>

namespace otlake {

/// Names the calling thread (Linux keeps the first 15 bytes). Best effort: a failure is ignored.
void SetCurrentThreadName(std::string_view name);

}  // namespace otlake
