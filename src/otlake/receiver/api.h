// The read API: GET /api/<table>, /api/traces/<trace_id>, /api/days, /api/services over a
// query::QueryEngine. docs/http-api.md is the contract. Thread-safe.
#pragma once

#include "otlake/server/http_server.h"

namespace otlake::query {
class QueryEngine;
}

namespace otlake::receiver {

/// Answers a request whose path starts with "/api/". `engine` must outlive the call.
/// `project` non-empty limits the answer to that project's rows (an API key limited to it; the
/// caller has refused requests that name another project or span every project).
void HandleApi(query::QueryEngine* engine, server::HttpRequest& req, server::HttpResponse* res,
               std::string_view project = {});

/// The project a read request targets, for authorization: its `project_id` parameter, else
/// `key_project`; auth::kAllProjects for /api/days and /api/services.
std::string ApiRequestProject(const server::HttpRequest& req, std::string_view key_project);

}  // namespace otlake::receiver
