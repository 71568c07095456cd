// The read API: GET /api/<table>, /api/traces/<trace_id>, /api/days, /api/services over a
// query::QueryEngine. docs/http-api.md is the contract. Thread-safe.
#pragma once

#include "otlake/server/http_server.h"

namespace otlake::query {
class QueryEngine;
}

namespace otlake::receiver {

/// Answers a request whose path starts with "/api/". `engine` must outlive the call.
void HandleApi(query::QueryEngine* engine, server::HttpRequest& req, server::HttpResponse* res);

}  // namespace otlake::receiver
