// `otlake keys create|list|revoke` (docs/auth.md), and the server's key cache for --auth.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "otlake/auth/key_store.h"
#include "otlake/cli/args.h"

namespace otlake::cli {

/// --scope, --project, --name, --json plus -I/-D.
std::vector<OptionSpec> KeysSpecs();

/// Runs `otlake keys <create|list|revoke> ...` for the instance at `instance_root`. Works with
/// the server stopped or running (the store is SQLite in WAL mode; the server sees changes
/// within a second). Exit codes: 0 done, 1 no instance / store error / unknown key id, 2 usage.
int RunKeys(const Args& a, const std::string& instance_root);

/// The --auth flag's spec for `otlake start`.
OptionSpec AuthModeSpec();

/// For `otlake start`: parses --auth into *mode and loads the instance's keys into a cache whose
/// refresher thread is running. With --auth required the store is created if missing (a server
/// with no keys answers 401 to every ingest and read). Null with a message in *error on failure.
std::unique_ptr<auth::KeyCache> StartKeyCache(const Args& a, const std::string& instance_root,
                                              auth::Mode* mode, std::string* error);

}  // namespace otlake::cli
