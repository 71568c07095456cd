// Read API routes the web UI needs beyond the row API (docs/http-api.md "Counts, metric series,
// live tail"): aggregates computed server-side over the rows a filter selects, so the browser
// never downloads raw rows to draw a histogram or a chart.
//   GET /api/counts              rows per time bucket (optionally per group) of any table
//   GET /api/metrics/series      metric points aggregated per time bucket and series (group-by)
//   GET /api/metrics/instruments the instruments in a time range, their types, units, services
//   GET /api/logs/tail           live tail (server-sent events; log_tail.h)
// Filters are the row API's (query::ParseQuery). Built only on QueryEngine::Run.
#pragma once

#include <string_view>

#include "otlake/server/http_server.h"

namespace otlake::query {
class QueryEngine;
}

namespace otlake::receiver {

class LogTail;

/// True for the routes above.
bool IsUiApiPath(std::string_view path);

/// Answers one of them. `project` non-empty: the caller's key is limited to that project (a
/// project_id filter is added). `tail` (may be null: 404) serves /api/logs/tail.
void HandleUiApi(query::QueryEngine* engine, LogTail* tail, server::HttpRequest& request,
                 server::HttpResponse* response, std::string_view project);

}  // namespace otlake::receiver
