// Policy: who may call which route. Pure functions over a route class, the server's auth mode and
// the key presented (already authenticated by KeyCache); no I/O. docs/auth.md is the contract.
//
//   route            open mode            required mode
//   /healthz, OPTIONS public              public
//   /v1/* (ingest)   anyone               key of scope ingest or admin
//   /api/* (reads)   anyone               key of scope read or admin
//   /v3/* (admin)    key of scope admin   key of scope admin (holds cloud credentials)
//   /metrics         public               as /api/* with a key not limited to a project, unless
//                                         --metrics-public (the receiver classifies it as a read)
//
// A key limited to a project may only ingest into / read that project; an admin key is never
// limited. No key (or a bad one) where one is needed is 401; a valid key that may not do this is
// 403.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace otlake::auth {

enum class Scope : uint8_t { kAdmin, kIngest, kRead };

/// "admin", "ingest", "read".
const char* ScopeName(Scope s);
/// Parses a scope name; false if it is not one.
bool ParseScope(std::string_view name, Scope* out);

enum class Mode : uint8_t { kOpen, kRequired };
const char* ModeName(Mode m);
bool ParseMode(std::string_view name, Mode* out);

enum class RouteClass : uint8_t { kPublic, kIngest, kRead, kAdmin };

/// The class of a request path: /v1/* ingest, /api/* read, /v3/* admin, anything else public
/// (/healthz; unknown paths answer 404 without revealing anything).
RouteClass ClassifyPath(std::string_view path);

/// What the policy needs to know of an authenticated key.
struct Principal {
  std::string id;
  Scope scope = Scope::kRead;
  std::string project;  ///< empty: every project
};

enum class Outcome : uint8_t {
  kAllow,
  kNeedKey,    ///< 401: a key is required and none (valid) was presented
  kForbidden,  ///< 403: the key may not do this
};

struct Decision {
  Outcome outcome = Outcome::kAllow;
  std::string message;  ///< why not (never contains a secret)
  bool ok() const { return outcome == Outcome::kAllow; }
};

/// True if route class `route` needs a key in `mode`.
bool NeedsKey(Mode mode, RouteClass route);

/// Decides a request. `key` is the authenticated key, or null when none was presented (or it was
/// not valid: the caller answers its own 401 then). `project` is the project the request targets,
/// empty when it names none (or spans all projects: pass kAllProjects).
Decision Authorize(Mode mode, RouteClass route, const Principal* key, std::string_view project);

/// The `project` for a request that reads across every project (/api/days, /api/services).
inline constexpr std::string_view kAllProjects = "\x01*";

}  // namespace otlake::auth
