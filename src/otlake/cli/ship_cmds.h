// `otlake seal`, `otlake ship`, `otlake days`, and the S3 flags shared by start/view/trace.
// docs/cli.md and docs/s3.md document them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "otlake/cli/args.h"
#include "otlake/lake/delta_table.h"
#include "otlake/ship/s3_config.h"
#include "otlake/ship/s3_fs.h"

namespace otlake::query {
struct EngineOptions;
}

namespace otlake::cli {

/// --s3-bucket, --s3-prefix, --s3-endpoint, --s3-region, --s3-access-key-id (secrets only from
/// the environment or configs/otlake.env: a flag would show in `ps`).
std::vector<OptionSpec> S3Specs();

/// Timeouts from --s3-timeout-s.
ship::S3FsOptions S3FsOptionsFromArgs(const Args& a);

/// The S3 settings for an instance: config file, environment, then the S3 flags given in `a`.
ship::S3Settings S3SettingsFromArgs(const Args& a, const std::string& instance_root);

/// Sets the engine's S3 filesystem (if configured) for reading shipped days; false (with a
/// message on stderr) only if the filesystem cannot be made.
bool ConfigureEngineS3(const Args& a, const std::string& instance_id, const std::string& instance_root,
                       query::EngineOptions* eo);

std::vector<OptionSpec> SealSpecs();
std::vector<OptionSpec> ShipSpecs();
std::vector<OptionSpec> DaysSpecs();

/// Exit codes: 0 done, 1 the phase failed (recorded in the index) or no instance, 2 usage.
int RunSeal(const Args& a, const std::string& instance_id, const std::string& instance_root);
int RunShip(const Args& a, const std::string& instance_id, const std::string& instance_root);
int RunDays(const Args& a, const std::string& instance_id, const std::string& instance_root);

/// The seal flags' specs (--seal-zstd-level, --seal-file-rows), shared by start, seal, ship.
std::vector<OptionSpec> SealTuningSpecs();

/// The seal options from those flags; false with *error if a value is out of range.
bool SealOptionsFromArgs(const Args& a, lake::SealOptions* out, std::string* error);

}  // namespace otlake::cli
