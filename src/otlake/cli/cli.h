// The `otlake` command line: init, start, stop, status (Depths-compatible verbs and flags).
// Exit codes: 0 ok, 1 failure (instance missing, already running, ...), 2 usage error,
// 3 status: server unreachable or bad answer, 4 status: server reports not ok.
#pragma once

namespace otlake::cli {

int Main(int argc, char** argv);

}  // namespace otlake::cli
