// GrpcServer: OTLP/gRPC over HTTP/2 on its own port, 4317 by default: cleartext with prior
// knowledge (what gRPC clients speak when told "insecure"), or TLS with ALPN h2. The protocol is GrpcSession's; this is the
// sockets and threads around it (Boost.Asio).
//
// Each connection is served on its own strand; each call's handler (the OTLP/HTTP handler,
// GrpcSession explains the mapping) runs on any I/O thread, so one connection's calls are
// decoded in parallel and a call waiting for the WAL's group commit (HttpResponse::wait) holds
// no thread. Sockets use TCP keepalive; HTTP/2 PINGs are answered.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "otlake/common/status.h"
#include "otlake/server/http_server.h"

namespace otlake::server {
class TlsConfig;
}

namespace otlake::grpc {

struct GrpcServerOptions {
  std::string host = "0.0.0.0";
  int port = 4317;  ///< 0 picks a free port (see GrpcServer::port())
  int threads = 0;  ///< 0 = number of CPUs
  int64_t max_message_bytes = 64 << 20;
  /// Request messages are reserved against this budget when their length is known (before
  /// they are read). Not owned; must outlive the server. Null: no bound beyond the size limit.
  server::MemoryBudget* memory = nullptr;
  /// Checked per call before its message is read (API keys); see GrpcSessionOptions.
  server::HttpHeaderCheck header_check;
  /// Set: every connection is TLS (ALPN h2) with the config's current context at accept time.
  std::shared_ptr<server::TlsConfig> tls;
};

class GrpcServer {
 public:
  /// Binds, listens and starts the threads. Fails with IOError naming host:port if it cannot bind.
  static Result<std::unique_ptr<GrpcServer>> Start(const GrpcServerOptions& options,
                                                   server::HttpHandler handler);
  ~GrpcServer();

  int port() const;

  /// Stops accepting, sends GOAWAY on every connection, lets calls in flight finish and their
  /// answers be written (up to `grace_ms`), then closes everything and joins the threads.
  /// Idempotent.
  void Stop(int grace_ms = 5000);

  /// {"port":…,"connections":…,"calls":…,"calls_in_flight":…,"by_code":{"OK":…,…}} for /healthz.
  std::string StatusJson() const;

  class Impl;

 private:
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlake::grpc
