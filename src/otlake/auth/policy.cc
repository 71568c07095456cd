#include "otlake/auth/policy.h"

namespace otlake::auth {

const char* ScopeName(Scope s) {
  switch (s) {
    case Scope::kAdmin: return "admin";
    case Scope::kIngest: return "ingest";
    case Scope::kRead: return "read";
  }
  return "?";
}

bool ParseScope(std::string_view name, Scope* out) {
  if (name == "admin") *out = Scope::kAdmin;
  else if (name == "ingest") *out = Scope::kIngest;
  else if (name == "read") *out = Scope::kRead;
  else return false;
  return true;
}

const char* ModeName(Mode m) { return m == Mode::kOpen ? "open" : "required"; }

bool ParseMode(std::string_view name, Mode* out) {
  if (name == "open") *out = Mode::kOpen;
  else if (name == "required") *out = Mode::kRequired;
  else return false;
  return true;
}

RouteClass ClassifyPath(std::string_view path) {
  if (path.rfind("/v1/", 0) == 0) return RouteClass::kIngest;
  if (path.rfind("/api/", 0) == 0) return RouteClass::kRead;
  if (path.rfind("/v3/", 0) == 0 || path == "/v3") return RouteClass::kAdmin;
  return RouteClass::kPublic;
}

bool NeedsKey(Mode mode, RouteClass route) {
  switch (route) {
    case RouteClass::kPublic: return false;
    case RouteClass::kAdmin: return true;
    case RouteClass::kIngest:
    case RouteClass::kRead: return mode == Mode::kRequired;
  }
  return true;
}

Decision Authorize(Mode mode, RouteClass route, const Principal* key, std::string_view project) {
  if (!NeedsKey(mode, route)) return {};
  if (key == nullptr) {
    return {Outcome::kNeedKey, "an API key is required: send 'Authorization: Bearer <key>'"};
  }
  const char* what = "";
  bool scope_ok = key->scope == Scope::kAdmin;
  switch (route) {
    case RouteClass::kIngest:
      scope_ok = scope_ok || key->scope == Scope::kIngest;
      what = "ingest (/v1/*) needs a key of scope ingest or admin";
      break;
    case RouteClass::kRead:
      scope_ok = scope_ok || key->scope == Scope::kRead;
      what = "reads (/api/*) need a key of scope read or admin";
      break;
    case RouteClass::kAdmin:
      what = "admin routes (/v3/*) need a key of scope admin";
      break;
    case RouteClass::kPublic:
      return {};
  }
  if (!scope_ok) {
    return {Outcome::kForbidden,
            std::string(what) + "; key " + key->id + " has scope " + ScopeName(key->scope)};
  }
  if (!key->project.empty() && project != key->project) {
    if (project == kAllProjects) {
      return {Outcome::kForbidden, "key " + key->id + " is limited to project '" + key->project +
                                       "' and this route spans every project"};
    }
    return {Outcome::kForbidden, "key " + key->id + " is limited to project '" + key->project +
                                     "', not '" + std::string(project.substr(0, 128)) + "'"};
  }
  return {};
}

}  // namespace otlake::auth
