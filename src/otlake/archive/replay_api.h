// The replay jobs API (docs/http-api.md "Replay", docs/archive.md "Replay into the lake"):
//
//   POST   /api/replay        start a job: a JSON object of replay settings -> 202 {job}
//   GET    /api/replay        every job, newest first -> {"items": [job, ...]}
//   GET    /api/replay/{id}   progress and report -> {job} (with failures, rejections, skipped)
//   DELETE /api/replay/{id}   cancel -> 202 {job}
//
// Errors are {"error": message, "status": code}: 400 naming the setting (secrets never echoed),
// 403 for source_dir without an admin key (--auth required), 404 unknown job, 405, 429 when too
// many jobs run, 502 when S3 cannot be reached, 503 when the service is not running.
// Authorization happened before (receiver): POST and DELETE need an ingest or admin key for the
// job's project, GET a read key (ReplayRequestProject says which project). Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "otlake/server/http_server.h"

namespace otlake::archive {

class ReplayService;

/// True for /api/replay and /api/replay/...
bool IsReplayPath(std::string_view path);

/// True when the request writes (POST, DELETE): it needs an ingest key, not a read key.
bool IsReplayWrite(const server::HttpRequest& req);

/// The project a replay request acts on, for authorization: a POST's "project" field (else
/// `key_project`, else "default"); the job's project for /api/replay/{id}; for the list,
/// `key_project` or, when empty, `all_projects`.
std::string ReplayRequestProject(const server::HttpRequest& req, std::string_view key_project,
                                 std::string_view all_projects);

/// The process's running service (set by `otlake start`, cleared before it stops). Not owned.
void SetReplayService(ReplayService* service);

/// Answers a replay request. `key_project`: the key's project ("" = any); `admin`: the caller
/// may name a directory on the server (source_dir): an admin key, or --auth open.
void HandleReplayApi(server::HttpRequest& req, server::HttpResponse* res, std::string_view key_project,
                     bool admin);

}  // namespace otlake::archive
