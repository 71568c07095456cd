// Receiver: the HTTP routes -- OTLP/HTTP (/v1/traces, /v1/logs, /v1/metrics), /healthz, and the
// read API /api/* (api.h) -- and the one place that maps a Status to an HTTP status code.
//
// Per request: content type -> response format; body limit; Content-Encoding (capped
// decompression); project id; decode (otlp::Decode*); Ingestor (WAL + open batches; returns once
// the record is fdatasync'd); the answer the OTLP/HTTP
// spec prescribes (200 + partialSuccess, 400 + google.rpc.Status, 413, 415, 429/503 +
// Retry-After), in the request's own content type. Thread-safe; called on HTTP threads.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "otlake/server/http_server.h"

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
};

class Receiver {
 public:
  /// `ingestor` (and `engine`, which serves /api/*; null disables the read API) must outlive
  /// the receiver.
  Receiver(ReceiverOptions options, ingest::Ingestor* ingestor, query::QueryEngine* engine = nullptr);
  ~Receiver();

  /// The HttpHandler for the server.
  void Handle(server::HttpRequest& request, server::HttpResponse* response);

  /// The /healthz document (JSON).
  std::string HealthJson() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// True if `id` is a valid project id: 1-128 of [A-Za-z0-9._-], not "." or "..".
bool IsValidProjectId(std::string_view id);

}  // namespace otlake::receiver
