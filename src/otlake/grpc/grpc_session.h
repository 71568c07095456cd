// GrpcSession: the protocol side of one OTLP/gRPC connection -- HTTP/2 (nghttp2) in, HTTP/2
// out, no sockets. The server (grpc_server.h) feeds it the bytes a client sent and writes the
// bytes it produces; the fuzz target and the unit tests drive it the same way.
//
// What it serves (docs/grpc.md): unary calls of the three OTLP collector services
//   /opentelemetry.proto.collector.trace.v1.TraceService/Export     -> POST /v1/traces
//   /opentelemetry.proto.collector.logs.v1.LogsService/Export       -> POST /v1/logs
//   /opentelemetry.proto.collector.metrics.v1.MetricsService/Export -> POST /v1/metrics
// Each call becomes the server::HttpRequest the OTLP/HTTP route gets for a protobuf body --
// same handler, so the same decode -> WAL -> ack path, project ids (`x-otlake-project-id`
// metadata), API keys (`authorization` metadata), memory budget and answers -- and the
// handler's HttpResponse becomes the gRPC answer (GrpcAnswerFromHttp).
//
// Per call: `content-type` must be application/grpc[+proto] (else HTTP 415, as the gRPC spec
// says); exactly one length-prefixed message; a compressed message (flag 1) needs
// `grpc-encoding` gzip, deflate or zstd and is decompressed by the handler under its caps (as a
// Content-Encoding); a message longer than `max_message_bytes` is answered RESOURCE_EXHAUSTED
// as soon as its 5-byte prefix is read and the rest of the stream is discarded (RST_STREAM
// NO_ERROR). The message's bytes are reserved against the memory budget when its prefix is read;
// a refusal is answered as the HTTP route answers one (RESOURCE_EXHAUSTED + RetryInfo).
// Unknown paths are UNIMPLEMENTED. PING, SETTINGS and flow control are nghttp2's: windows are
// opened as data is consumed, so one stream's large message does not stall the others.
//
// Threads: not thread-safe; one owner (the connection's strand) calls everything. Calls are
// handed out through `dispatch` and answered later, in any order, by Answer() on the owner.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "otlake/common/status.h"
#include "otlake/server/http_server.h"

struct nghttp2_session;

namespace otlake::grpc {

/// gRPC status codes (grpc/doc/statuscodes.md).
enum class Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

/// A call's answer: the response message (code kOk) or the status trailers.
struct Answer {
  Code code = Code::kOk;
  std::string message;          ///< grpc-message (not yet percent-encoded)
  std::string response;         ///< the response message's bytes (code kOk)
  int retry_after_seconds = 0;  ///< > 0: a google.rpc.RetryInfo in grpc-status-details-bin
};

/// The gRPC answer to an OTLP/HTTP handler's response for a protobuf request: 200 -> OK with
/// the body as the message (an Export*ServiceResponse, partial success included); otherwise the
/// google.rpc.Status body's code and message (the HTTP status mapped, if the body holds none),
/// and Retry-After as RetryInfo.
Answer AnswerFromHttp(const server::HttpResponse& response);

/// The grpc-status-details-bin value (before base64) for `answer`: a google.rpc.Status with the
/// code, message and, if retry_after_seconds > 0, a RetryInfo detail. Empty for kOk.
std::string StatusDetails(const Answer& answer);

/// grpc-message encoding: percent-encodes '%' and bytes outside 0x20..0x7E.
std::string PercentEncode(std::string_view message);

/// The OTLP/HTTP path served for a gRPC method path, or "" if it is not one of the three.
std::string_view HttpPathForMethod(std::string_view grpc_path);

struct GrpcSessionOptions {
  int64_t max_message_bytes = 64 << 20;   ///< largest request message (compressed as sent)
  server::MemoryBudget* memory = nullptr;  ///< reserve each message's bytes here (may be null)
  int32_t max_concurrent_streams = 256;
  int32_t stream_window_bytes = 1 << 20;      ///< initial per-stream receive window
  int32_t connection_window_bytes = 16 << 20;  ///< connection receive window
  std::string peer;                            ///< "ip:port", copied into each request
  /// Checked once a call's headers are in, before its message is read (the HTTP route's
  /// header check: API keys). A refusal is answered at once with the mapped response.
  server::HttpHeaderCheck header_check;
  /// Told the status of each call the session answers itself, without handing it out (unknown
  /// method, bad framing, refused by header_check). May be empty.
  std::function<void(Code)> on_refused;
};

class GrpcSession {
 public:
  /// One decoded call, ready for the handler. `id` is what Answer() wants back.
  struct Call {
    int32_t id = 0;
    server::HttpRequest request;
  };
  /// Takes each complete call; the owner answers it later with Answer(id, ...).
  using Dispatch = std::function<void(std::unique_ptr<Call> call)>;

  GrpcSession(GrpcSessionOptions options, Dispatch dispatch);
  ~GrpcSession();
  GrpcSession(const GrpcSession&) = delete;
  GrpcSession& operator=(const GrpcSession&) = delete;

  /// Feeds bytes the client sent. An error (the peer broke HTTP/2) means: write what
  /// TakeOutput() still has (a GOAWAY) and close.
  Status Receive(std::string_view bytes);

  /// Appends the bytes to send to `out`; false if there are none.
  bool TakeOutput(std::string* out);

  /// Answers call `id` (from Dispatch). A call whose stream is gone (the client cancelled) is
  /// dropped.
  void Respond(int32_t id, const Answer& answer);

  /// Sends GOAWAY: no new calls; calls in flight still get their answers.
  void Shutdown();

  /// True when the connection can be closed: nothing more to read or write.
  bool Done() const;

  /// Calls handed out and not yet answered.
  int pending_calls() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlake::grpc
