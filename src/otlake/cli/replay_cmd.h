// `otlake replay`: read a time window of a Collector-layout OTLP archive (awss3exporter's layout,
// on S3 or in a local directory) and replay it into this instance's lake (by default: a job on
// the running server, POST /api/replay, which owns the WAL and replays exactly once), send it to
// an OTLP/HTTP endpoint or write it to a local directory. docs/archive.md documents the flags,
// the report and the exit codes.
#pragma once

#include <vector>

#include "otlake/cli/args.h"

namespace otlake::cli {

std::vector<OptionSpec> ReplaySpecs();

/// Exit codes: 0 every object replayed, 1 some objects failed, the destination rejected some
/// records (OTLP partial success), the source could not be listed, or no server runs for a
/// replay into the lake (or it stopped); 2 usage
/// (bad times, end not after start, unknown directive or time zone, no source, no destination,
/// incomplete S3 credentials); the message names the flag.
int RunReplayCommand(const Args& a);

}  // namespace otlake::cli
