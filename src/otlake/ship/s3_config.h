// S3 configuration, exactly as Depths documents it (seed 000) — the same variable names in the
// environment, in the instance's config file (configs/otlake.env) and as `otlake start` flags:
//
//   S3_BUCKET                                                 required
//   AWS_ACCESS_KEY_ID     | S3_ACCESS_KEY_ID                  required
//   AWS_SECRET_ACCESS_KEY | S3_SECRET_KEY | S3_SECRET_ACCESS_KEY   required
//   AWS_ENDPOINT_URL      | S3_URL                            required (http:// allowed)
//   AWS_REGION            | S3_REGION                         may be empty
//   S3_PREFIX, AWS_SESSION_TOKEN                              optional
//
// Precedence: flags over environment over file; within one source the first name of a row wins.
// A variable that is present but empty counts as unset (except the region, which may be empty).
// With none of the required variables set the instance is local-only (not an error; a region
// alone does not count); with some
// but not all, shipping is disabled and `problem` names exactly the missing variables.
//
// Secrets (the secret key, the session token) never leave this struct in text form:
// Describe() shows only where each value came from, and the access key id's last 4 characters.
// Arrow-free.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "otlake/common/status.h"

namespace otlake::ship {

struct S3Config {
  std::string bucket;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string region;
  std::string endpoint_url;  ///< as given: "http://127.0.0.1:9000", "https://s3.amazonaws.com"
  std::string prefix;        ///< without leading/trailing '/'; may be empty

  /// Scheme and host[:port] of endpoint_url ("http", "127.0.0.1:9000").
  std::string scheme() const;
  std::string endpoint_host() const;

  /// "<bucket>/<prefix>/<instance_id>/days" (no prefix: "<bucket>/<instance_id>/days"): the
  /// arrow::fs path of the instance's days on S3.
  std::string DaysRoot(const std::string& instance_id) const;
  /// The same as an s3:// URI, for messages and users.
  std::string DaysUri(const std::string& instance_id) const;
};

/// The outcome of reading the configuration from its three sources.
struct S3Settings {
  std::optional<S3Config> config;  ///< set when complete (shipping enabled)
  bool any_set = false;            ///< some S3 variable was given
  /// Empty when complete or local-only; otherwise e.g. "S3 configuration is incomplete:
  /// AWS_SECRET_ACCESS_KEY (or S3_SECRET_KEY, S3_SECRET_ACCESS_KEY) is not set; shipping is
  /// disabled".
  std::string problem;
  /// Per variable that was set: which source provided it ("env AWS_ACCESS_KEY_ID", "file
  /// S3_BUCKET", "flag --s3-bucket"). No values.
  std::vector<std::string> sources;
  /// Non-fatal remarks (e.g. a config file holding a secret that others can read).
  std::vector<std::string> warnings;

  bool enabled() const { return config.has_value(); }
  /// One line for logs and `otlake status`: bucket, endpoint, prefix, access key id (last 4
  /// characters), never a secret.
  std::string Describe(const std::string& instance_id) const;
};

/// Parses a KEY=VALUE config file (blank lines and '#' comments ignored; `export ` prefixes and
/// matching single or double quotes around a value allowed). Status::Invalid names the line.
/// A missing file is an empty map.
Result<std::map<std::string, std::string>> ReadConfigFile(const std::string& path,
                                                          std::vector<std::string>* warnings);

/// Resolves the settings. `env` looks a variable up (nullopt: unset); `file` holds the config
/// file's keys; `flags` holds flag values by variable name (only flags the user gave).
S3Settings ResolveS3Settings(const std::function<std::optional<std::string>(const char*)>& env,
                             const std::map<std::string, std::string>& file,
                             const std::map<std::string, std::string>& flags);

/// Reads <instance_root>/configs/otlake.env and the process environment, then applies `flags`.
/// A config file that cannot be parsed is reported in `problem` (shipping disabled).
S3Settings LoadS3Settings(const std::string& instance_root,
                          const std::map<std::string, std::string>& flags);

/// The config file's path for an instance.
std::string ConfigFilePath(const std::string& instance_root);

}  // namespace otlake::ship
