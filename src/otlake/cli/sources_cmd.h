// `otlake sources list|add|show|files|retry|test` (docs/sources.md): a client of the running
// server's /v3/ingestion-sources API, with tables in the terminal. Also what `otlake start`
// needs to run the connector (sources::Service, registered for the receiver's /v3/ hook).
#pragma once

#include <string>
#include <vector>

#include "otlake/cli/args.h"
#include "otlake/sources/api.h"
#include "otlake/sources/connector.h"

namespace otlake::cli {

/// -I/-D, --host, --port, --key, --json and the `add` fields.
std::vector<OptionSpec> SourcesSpecs();

/// Runs `otlake sources <sub> ...` against the server of the instance at `instance_root` (its
/// configs/server.json port, or --port). The admin key comes from --key or OTLAKE_API_KEY.
/// Exit codes: 0 done, 1 the server refused or is unreachable (or a test failed), 2 usage.
int RunSources(const Args& a, const std::string& instance_root);

}  // namespace otlake::cli
