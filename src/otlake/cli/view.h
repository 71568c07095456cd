// `otlake view` and `otlake trace`: read the lake directly (the server may be stopped) through
// query::QueryEngine. docs/cli.md documents flags and exit codes.
#pragma once

#include <string>
#include <vector>

#include "otlake/cli/args.h"

namespace otlake::cli {

std::vector<OptionSpec> ViewSpecs();
std::vector<OptionSpec> TraceSpecs();

/// Exit codes: 0 ok (also "no rows"), 1 instance missing, 2 usage (bad table, bad filter),
/// 4 read error.
int RunView(const Args& a, const std::string& instance_root);
int RunTrace(const Args& a, const std::string& instance_root);

}  // namespace otlake::cli
