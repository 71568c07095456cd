// A source definition (the seed's POST /v3/ingestion-sources body) and its validation.
// docs/sources.md is the contract: every field is checked and a bad one is Status::Invalid whose
// message names it; defaults are the seed's. Pure; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/common/status.h"

namespace otlake::sources {

struct Source {
  std::string id;  ///< uuid, assigned on create
  std::string name;
  std::string description;
  std::string provider = "s3";
  std::string region;
  std::string bucket;
  std::string prefix;
  std::vector<std::string> file_extensions = {".json"};
  std::string credential_type = "iam_role";
  std::string role_arn;
  std::string endpoint_url;
  int64_t scan_interval_seconds = 60;
  std::vector<std::string> application_ids;  ///< exactly one: the otlake project
  // Write-only: stored sealed (SecretBox), never answered or logged.
  std::string access_key_id;
  std::string secret_access_key;
  std::string external_id;
  int64_t created_at_ms = 0, updated_at_ms = 0;

  /// The otlake project the rows go to.
  const std::string& project() const { return application_ids.front(); }
};

/// Applies the JSON object `body` to `*s`: for create (`partial` false) name, bucket and
/// application_ids are required and the rest take their defaults; for PATCH (`partial` true)
/// only the fields present change. Unknown fields are refused (a typo must not pass silently).
/// Invalid naming the field on any problem; *s is then unspecified.
Status ApplySourceJson(std::string_view body, bool partial, Source* s);

/// Checks the whole definition (after ApplySourceJson): cross-field rules such as access_key
/// needing both keys. Invalid naming the field.
Status ValidateSource(const Source& s);

/// The public JSON of a source (no secret; `has_credentials` says whether keys are stored).
std::string SourceJson(const Source& s);

/// "2026-04-10T09:38:22Z"; "null" is the caller's business for 0.
std::string IsoSeconds(int64_t unix_ms);

/// JSON string literal of `s`.
std::string JsonQuote(std::string_view s);

/// True if `id` is a valid otlake project id (1-128 of [A-Za-z0-9._-], not "." or "..").
bool IsValidProject(std::string_view id);

/// True if `key` ends with one of `extensions` (".json" also matches nothing else: ".json.gz"
/// must be listed itself).
bool MatchesExtension(std::string_view key, const std::vector<std::string>& extensions);

}  // namespace otlake::sources
