// Receiver: the HTTP routes -- OTLP/HTTP (/v1/traces, /v1/logs, /v1/metrics), /healthz, and the
// read API /api/* (api.h) -- and the one place that maps a Status to an HTTP status code.
//
// Per request: content type -> response format; body limit; Content-Encoding (capped
// decompression); project id; decode (otlp::Decode*); Ingestor (WAL + open batches; returns once
// the record is fdatasync'd); the answer the OTLP/HTTP
// spec prescribes (200 + partialSuccess, 400 + google.rpc.Status, 413, 415, 429/503 +
// Retry-After), in the request's own content type. Thread-safe; called on HTTP threads.
//
// Memory: the receiver owns the MemoryBudget that bounds ingest memory (--max-buffered-bytes):
// the open batches (pipeline) + every request body being read (reserved by the HTTP server),
// decompressed and copied into the WAL record (reserved here). A request the budget refuses gets
// 429 + Retry-After before its body is kept. Every ingest answer other than 200 is counted by
// reason in /healthz "rejections".
//
// Authorization (docs/auth.md): before anything else, a route that needs a key (auth::Authorize)
// gets its `Authorization: Bearer` key checked against the in-memory auth::KeyCache; 401 with
// `WWW-Authenticate` for a missing or bad key, 403 for a key of the wrong scope or project,
// counted in /healthz "auth". A project-limited key ingests into its project and reads only it.
//
// Metrics: GET /metrics answers everything /healthz counts in the Prometheus text format
// (docs/http-api.md lists the names), plus histograms of ack latency per phase, request body
// size and WAL fdatasync time; recording is relaxed atomic adds (common/metrics.h), never a lock
// on the ingest path. Public in --auth open; with --auth required it needs a read or admin key
// not limited to a project, unless `metrics_public`.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "otlake/auth/policy.h"
#include "otlake/server/http_server.h"

namespace otlake::auth {
class KeyCache;
}
namespace otlake::ingest {
class Ingestor;
}
namespace otlake::query {
class QueryEngine;
}

namespace otlake::receiver {

struct ReceiverOptions {
  std::string instance_id = "default";
  int64_t max_decompressed_bytes = 256ll << 20;
  int max_nesting_depth = 64;
  /// The /healthz "shipping" object (ship::Scheduler::StatusJson); unset: omitted.
  std::function<std::string()> shipping_json;
  /// The /healthz "grpc" object (grpc::GrpcServer::StatusJson); unset: omitted.
  std::function<std::string()> grpc_json;
  /// The /healthz "archive" object and the otlake_archive_* /metrics lines (archive/writer.h);
  /// unset: "archive": {"enabled": false}, no lines.
  std::function<std::string()> archive_json;
  std::function<std::string()> archive_metrics;
  /// --auth: kRequired makes /v1/* and /api/* need an API key (docs/auth.md); /v3/* always does.
  auth::Mode auth_mode = auth::Mode::kOpen;
  /// The keys requests are checked against (not owned; outlives the receiver). Null: no keys,
  /// every route that needs one answers 401.
  const auth::KeyCache* keys = nullptr;
  /// --metrics-public: /metrics needs no key even with --auth required.
  bool metrics_public = false;
};

class Receiver {
 public:
  /// `ingestor` (and `engine`, which serves /api/*; null disables the read API) must outlive
  /// the receiver.
  Receiver(ReceiverOptions options, ingest::Ingestor* ingestor, query::QueryEngine* engine = nullptr);
  ~Receiver();

  /// The HttpHandler for the server.
  void Handle(server::HttpRequest& request, server::HttpResponse* response);
  /// The HttpHeaderCheck for the server: refuses a request lacking the API key its route needs
  /// (401/403, as Handle would) before its body is read.
  bool CheckHeader(const server::HttpRequest& request, server::HttpResponse* response);

  /// The /healthz document (JSON).
  std::string HealthJson() const;
  /// The /metrics document (Prometheus text format 0.0.4).
  std::string MetricsText() const;

  /// The memory budget request bodies are reserved against (--max-buffered-bytes, shared with
  /// the pipeline's open batches): give it to the HttpServer (HttpServerOptions::memory). Lives as
  /// long as the receiver.
  server::MemoryBudget* memory_budget();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// True if `id` is a valid project id: 1-128 of [A-Za-z0-9._-], not "." or "..".
bool IsValidProjectId(std::string_view id);

}  // namespace otlake::receiver
