// HttpServer: a small HTTP/1.1 server (Boost.Beast over Asio, C++20 coroutines) for the OTLP and
// API routes.
//
// Threads: `threads` Asio threads accept connections and run the handler inline, one request at a
// time per connection (keep-alive, pipelining in order). The handler may block briefly (decode,
// append); it must be thread-safe. A handler whose answer waits for something slow (the WAL's
// fsync) does not block its thread: it sets HttpResponse::wait, and the request is parked until
// woken -- the thread serves other connections meanwhile.
// Bodies: the server reads at most `max_body_bytes` of a body. A larger body is drained and
// discarded (up to `max_drain_bytes`, after which the connection is closed) and the handler sees
// `body_too_large`, so it can answer 413 in the request's own content type and the connection
// survives. Malformed HTTP gets a 400 and a close. No Beast types leak through this header.
// Memory: with a `memory` budget, a body is reserved against it before it is read (its
// Content-Length; a chunked body as it grows, 1 MiB at a time) and released when the request is
// finished (its response written). A body that does not fit is not stored: it is drained like an
// oversized one (or, after `Expect: 100-continue`, never asked for: the connection closes after
// the answer) and the handler sees `over_budget`, so it can answer 429.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/server/memory_budget.h"

namespace otlake::server {

class TlsConfig;

struct HttpRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< as sent: "/v1/traces?project_id=a"
  std::string path;    ///< target before '?'
  std::string query;   ///< target after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lowercased
  std::string body;
  bool body_too_large = false;  ///< body exceeded max_body_bytes and was discarded
  bool over_budget = false;     ///< the memory budget refused the body: it was discarded
  /// The bytes this request holds against the memory budget (its body; the handler may grow it
  /// for what it derives from the body, e.g. the decompressed copy). Released when the request is
  /// finished.
  MemoryReservation memory;
  std::string peer;             ///< "ip:port" of the client
  int64_t header_read_ns = 0;   ///< steady clock (ns) when the header had been read
  int64_t body_read_ns = 0;     ///< time spent reading the body (ns)
  /// True once the client has closed its side (for long handlers to stop early); may be unset.
  std::function<bool()> client_gone;

  /// First header with that (lowercase) name, or "".
  std::string_view Header(std::string_view lower_name) const;
  /// Percent-decoded value of query parameter `name`; false if absent.
  bool QueryParam(std::string_view name, std::string* value) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers
  bool close = false;  ///< close the connection after this response
  /// Set by a handler whose answer waits for another thread (the WAL's group commit) instead of
  /// blocking its own: once the handler has returned, the server parks the request and calls
  /// wait(wake). `wake` must be called exactly once, from any thread (it only schedules the
  /// request's resumption); the server then calls finish(this) on an HTTP thread to complete
  /// the response and writes it. A server stopped before `wake` closes the connection unanswered.
  std::function<void(std::function<void()> wake)> wait;
  std::function<void(HttpResponse*)> finish;
  /// Set by a handler whose answer is a stream (server-sent events): the server writes the
  /// status and headers (no Content-Length, `Connection: close`), then calls stream(&out) on the
  /// connection's strand and writes what it appended, again and again, until it returns false,
  /// a write fails (the client left) or the server stops; after an empty pull it waits 50 ms.
  /// A write that does not finish within the idle timeout closes the connection. The function
  /// is destroyed when the stream ends (handlers release their state there). It must not block.
  std::function<bool(std::string* out)> stream;
};

using HttpHandler = std::function<void(HttpRequest& request, HttpResponse* response)>;

/// Runs once a request's header has been read, before any of its body: `request` has everything
/// but the body (body empty, body_too_large/over_budget unset). Returning false refuses the
/// request with `*response` (e.g. 401 for a missing API key): the body is never read -- nor, after
/// `Expect: 100-continue`, asked for -- and the connection is closed after the answer if a body
/// was announced. Returning true goes on to read the body and call the HttpHandler.
using HttpHeaderCheck = std::function<bool(const HttpRequest& request, HttpResponse* response)>;

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  int port = 4318;  ///< 0 picks a free port (see HttpServer::port())
  int threads = 0;  ///< 0 = number of CPUs
  int64_t max_body_bytes = 64 << 20;
  int64_t max_drain_bytes = 256 << 20;
  int64_t max_header_bytes = 64 << 10;
  int idle_timeout_seconds = 120;
  /// Request bodies are reserved against this budget before they are read (see above). Not
  /// owned; must outlive the server. Null: no bound beyond max_body_bytes per request.
  MemoryBudget* memory = nullptr;
  /// Checked before a body is read (see HttpHeaderCheck). Unset: every request is read whole.
  HttpHeaderCheck header_check;
  /// Set: every connection is TLS with the config's current context (server/tls.h). Null: plain.
  std::shared_ptr<TlsConfig> tls;
};

class HttpServer {
 public:
  /// Binds, listens and starts the threads. Fails with IOError naming host:port if it cannot bind.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);
  ~HttpServer();

  /// The bound port (useful with port 0).
  int port() const;

  /// Stops accepting, lets requests being handled finish (and their responses be written, up to
  /// `grace_ms`), closes idle connections and joins the threads. Idempotent.
  void Stop(int grace_ms = 5000);

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Percent-decodes a URL component ('+' becomes ' '); false on a malformed escape.
bool UrlDecode(std::string_view in, std::string* out);

}  // namespace otlake::server
