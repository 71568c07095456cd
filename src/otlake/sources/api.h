// The ingestion-sources REST API (the seed's paths, fields and {"data": ...} envelopes):
//
//   POST   /v3/ingestion-sources                      create   -> 201 {"data": source}
//   GET    /v3/ingestion-sources                      list     -> {"data": {"items": [...], ...}}
//   GET    /v3/ingestion-sources/{id}                 one      (+ "scan": last scan state)
//   PATCH  /v3/ingestion-sources/{id}                 change fields given
//   DELETE /v3/ingestion-sources/{id}                 stop scanning (ingested rows stay)
//   GET    /v3/ingestion-sources/{id}/stats
//   GET    /v3/ingestion-sources/{id}/files?status=&limit=&offset=
//   POST   /v3/ingestion-sources/{id}/files/{file_id}/retry
//   POST   /v3/ingestion-sources/{id}/retry-failed
//   POST   /v3/ingestion-sources/{id}/test          {"status":"success","files_found":N} | error
//
// Errors are {"error": message, "status": code}; a 400 names the field. Secrets are never in an
// answer or a log line. Authorization (admin key) happened before (receiver, auth::Authorize).
// docs/sources.md is the contract. Thread-safe.
#pragma once

#include "otlake/server/http_server.h"

namespace otlake::metrics {
class PromWriter;
}

namespace otlake::sources {

class Service;

/// Answers a request whose path starts with "/v3/". `service` null: 503 (sources not running).
void HandleSourcesApi(Service* service, server::HttpRequest& req, server::HttpResponse* res);

/// The process's running service, for the receiver's /v3/ hook (set by `otlake start` after the
/// service starts, cleared before it stops). Not owned.
void SetService(Service* service);
/// HandleSourcesApi with the registered service.
void HandleV3(server::HttpRequest& req, server::HttpResponse* res);
/// The registered service's /healthz "sources" object ("{}" when none runs).
std::string HealthJson();
/// The registered service's otlake_source_* metric families (nothing when none runs).
void WriteMetrics(metrics::PromWriter* w);

}  // namespace otlake::sources
