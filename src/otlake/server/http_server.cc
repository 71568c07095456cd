#include "otlake/server/http_server.h"

#include <sys/socket.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>
#include <type_traits>

#include "otlake/common/log.h"
#include "otlake/common/thread_util.h"
#include "otlake/server/tls.h"

namespace otlake::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

bool UrlDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
        return false;
      }
      auto hex = [](char h) { return h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10; };
      out->push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool HttpRequest::QueryParam(std::string_view name, std::string* value) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    size_t eq = part.find('=');
    std::string key;
    if (!UrlDecode(part.substr(0, eq), &key) || key != name) continue;
    if (eq == std::string_view::npos) {
      value->clear();
      return true;
    }
    return UrlDecode(part.substr(eq + 1), value);
  }
  return false;
}

// A chunked body is reserved against the memory budget this much at a time.
constexpr int64_t kChunkedReserveStep = 1 << 20;
// A known-length body with more than this left to read raises SO_RCVLOWAT, up to kMaxLowat.
constexpr size_t kLowatMinBody = 64 << 10;
constexpr size_t kMaxLowat = 1 << 20;

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A request parked until its handler's `wake` (HttpResponse::wait). It lives in the session's
// coroutine frame, which stays suspended on `timer` until the wake-up cancels it.
struct Parked {
  net::any_io_executor executor;  // the connection's strand
  net::steady_timer timer;
  bool woken = false;  // on the strand only
  explicit Parked(const net::any_io_executor& ex)
      : executor(ex), timer(ex, net::steady_timer::time_point::max()) {}
};

// Lets wake-ups from other threads reach the io_context only while it can run them: closed
// (under its mutex) after the I/O threads have stopped, before the io_context is destroyed. A
// wake-up after that is dropped; its request's coroutine is destroyed with the io_context.
struct WakeGate {
  std::mutex mu;
  bool open = true;  // guarded by mu

  void Wake(Parked* p) {
    std::lock_guard lk(mu);
    if (!open) return;
    // The frame holding *p is alive: it is suspended on p->timer (or about to be, on this
    // strand, which runs the posted function only after it suspends) until this runs.
    net::post(p->executor, [p] {
      p->woken = true;
      p->timer.cancel();
    });
  }
  void Close() {
    std::lock_guard lk(mu);
    open = false;
  }
};

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        acceptor_strand_(net::make_strand(ioc_)),
        acceptor_(acceptor_strand_) {}

  Status Listen() {
    boost::system::error_code ec;
    auto addr = net::ip::make_address(options_.host, ec);
    if (ec) return Status::Invalid("invalid listen address '", options_.host, "'");
    tcp::endpoint ep(addr, static_cast<unsigned short>(options_.port));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::IOError("cannot listen on ", options_.host, ":", options_.port, ": ",
                             ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(acceptor_strand_, AcceptLoop(), net::detached);
    int n = options_.threads > 0 ? options_.threads
                                 : std::max(1u, std::thread::hardware_concurrency());
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this] {
        SetCurrentThreadName("otlake-http");
        for (;;) {
          try {
            ioc_.run();
            return;
          } catch (const std::exception& e) {
            OTLAKE_LOG(ERROR) << "http: unexpected exception in I/O thread: " << e.what();
          }
        }
      });
    }
    return Status::OK();
  }

  int port() const { return port_; }

  void Stop(int grace_ms) {
    if (stopped_.exchange(true)) return;
    stopping_ = true;
    net::post(acceptor_strand_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    while (active_ > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    gate_->Close();
  }

  ~Impl() { Stop(0); }

 private:
  net::awaitable<void> AcceptLoop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(
          net::make_strand(ioc_), net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (stopping_ || ec == net::error::operation_aborted) co_return;
        OTLAKE_LOG(WARN) << "http: accept failed: " << ec.message();
        continue;
      }
      auto executor = socket.get_executor();
      if (options_.tls) {
        net::co_spawn(executor, TlsSession(std::move(socket), options_.tls->Current()), net::detached);
      } else {
        net::co_spawn(executor, Session(beast::tcp_stream(std::move(socket))), net::detached);
      }
    }
  }

  // Tracks a request being read or handled, so Stop() can wait for it.
  struct ActiveGuard {
    std::atomic<int>* n;
    explicit ActiveGuard(std::atomic<int>* c) : n(c) { ++*n; }
    ~ActiveGuard() { --*n; }
  };

  // A TLS connection: the handshake (within the idle timeout), then the same HTTP session; the
  // context (a certificate reloaded meanwhile does not change it) lives as long as the connection.
  net::awaitable<void> TlsSession(tcp::socket socket, std::shared_ptr<net::ssl::context> context) {
    TlsStream stream(beast::tcp_stream(std::move(socket)), *context);
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
    co_await stream.async_handshake(net::ssl::stream_base::server, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      OTLAKE_LOG(DEBUG) << "http: TLS handshake failed: " << ec.message();
      co_return;
    }
    co_await Session(std::move(stream));
  }

  // Ends a connection after its last answer: TCP's send side for plain HTTP; for TLS a
  // close_notify first (a client reading to the end of a streamed answer needs it).
  static net::awaitable<void> CloseSend(beast::tcp_stream& stream) {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    co_return;
  }
  net::awaitable<void> CloseSend(TlsStream& stream) {
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    co_await stream.async_shutdown(net::redirect_error(net::use_awaitable, ec));
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  template <typename Stream>
  net::awaitable<void> Session(Stream stream) {
    auto& transport = beast::get_lowest_layer(stream);
    beast::flat_buffer buffer;
    std::vector<char> chunk(64 * 1024);
    std::string peer;
    {
      boost::system::error_code ec;
      auto ep = transport.socket().remote_endpoint(ec);
      if (!ec) peer = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    boost::system::error_code ec;
    transport.socket().set_option(tcp::no_delay(true), ec);
    for (;;) {
      if (stopping_) co_return;  // no new requests on kept-alive connections once stopping
      http::request_parser<http::buffer_body> parser;
      // Our own limit applies below. (Not boost::none: Boost 1.74 compares len > none as true.)
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
      transport.expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
      co_await http::async_read_header(stream, buffer, parser,
                                       net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (ec != http::error::end_of_stream && ec != net::error::eof &&
            ec != beast::error::timeout && ec != net::error::operation_aborted &&
            ec != net::error::connection_reset) {
          co_await WriteError(stream, 400, "malformed HTTP request: " + ec.message());
        }
        co_return;
      }
      ActiveGuard guard(&active_);
      HttpRequest req;
      req.peer = peer;
      req.header_read_ns = SteadyNanos();
      // A handler that runs long (a query) asks this between steps: has the client hung up?
      // Peeks without consuming, so a pipelined next request is not lost.
      const int fd = transport.socket().native_handle();
      req.client_gone = [fd] {
        char c;
        const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
      };
      const auto& h = parser.get();
      req.method = std::string(h.method_string());
      req.target = std::string(h.target());
      size_t qpos = req.target.find('?');
      req.path = req.target.substr(0, qpos);
      if (qpos != std::string::npos) req.query = req.target.substr(qpos + 1);
      for (const auto& f : h) {
        std::string name(f.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers.emplace_back(std::move(name), std::string(f.value()));
      }
      bool close_after = false;
      HttpResponse res;
      bool refused = false;
      if (options_.header_check) {
        Guarded(&res, [&] { refused = !options_.header_check(req, &res); });
      }
      if (refused) {
        // Refused on its header: none of the body is read. A client that announced one (and
        // may be sending it) gets the answer, then the connection closes.
        close_after = !parser.is_done();
      } else {
        req.memory = MemoryReservation(options_.memory);
        const auto content_length = parser.content_length();
        if (content_length && static_cast<int64_t>(*content_length) > options_.max_drain_bytes) {
          req.body_too_large = true;
          close_after = true;  // not worth draining
        } else if (!parser.is_done()) {
          const bool expect_continue = beast::iequals(req.Header("expect"), "100-continue");
          if (content_length && static_cast<int64_t>(*content_length) > options_.max_body_bytes) {
            req.body_too_large = true;  // known up front: drain it without keeping any of it
          }
          // Reserve a body of known size before reading any of it; 429 rather than read it.
          if (content_length && static_cast<int64_t>(*content_length) <= options_.max_body_bytes &&
              !req.memory.Grow(static_cast<int64_t>(*content_length))) {
            req.over_budget = true;
          }
          if (req.over_budget && expect_continue) {
            close_after = true;  // the client waits for a 100 we never send: answer and close
          } else {
            if (expect_continue) {
              http::response<http::empty_body> cont{http::status::continue_, h.version()};
              co_await http::async_write(stream, cont, net::redirect_error(net::use_awaitable, ec));
              if (ec) co_return;
            }
            if (!req.over_budget && !req.body_too_large && content_length) {
              // Known length, reserved above: read it straight into its final place.
              if (!co_await ReadKnownBody(stream, buffer, *content_length, &req.body)) co_return;
            } else {
              // Chunked, or discarded (too large / over budget): 64 KiB at a time via the parser.
              if (!co_await ReadBodyChunks(stream, buffer, parser, chunk, &req, &close_after)) {
                co_return;
              }
            }
          }
        }

        req.body_read_ns = SteadyNanos() - req.header_read_ns;
        Guarded(&res, [&] { handler_(req, &res); });
      }
      if (res.wait) {
        // Parked: this thread serves other connections until the handler's wake-up.
        Parked parked(stream.get_executor());
        auto wait = std::move(res.wait);
        wait([gate = gate_, p = &parked] { gate->Wake(p); });
        while (!parked.woken) {  // only the wake-up ends the wait (it sets woken, then cancels)
          co_await parked.timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
        auto finish = std::move(res.finish);
        if (finish) Guarded(&res, [&] { finish(&res); });
      }
      if (res.stream && res.status == 200) {
        co_await WriteStream(stream, h.version(), &res);
        co_await CloseSend(stream);
        co_return;
      }
      http::response<http::string_body> out{static_cast<http::status>(res.status), h.version()};
      out.set(http::field::server, "otlake/" OTLAKE_VERSION);
      out.set(http::field::content_type, res.content_type);
      for (auto& [k, v] : res.headers) out.set(k, v);
      out.body() = std::move(res.body);
      const bool keep = h.keep_alive() && !res.close && !close_after && !stopping_;
      out.keep_alive(keep);
      out.prepare_payload();
      co_await http::async_write(stream, out, net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
      if (!keep) {
        co_await CloseSend(stream);
        co_return;
      }
    }
  }

  // A streamed answer (HttpResponse::stream): the header, then whatever each pull yields, until
  // the stream ends, the client is gone or the server stops.
  template <typename Stream>
  net::awaitable<void> WriteStream(Stream& stream, unsigned version, HttpResponse* res) {
    boost::system::error_code ec;
    http::response<http::empty_body> head{static_cast<http::status>(res->status), version};
    head.set(http::field::server, "otlake/" OTLAKE_VERSION);
    head.set(http::field::content_type, res->content_type);
    for (auto& [k, v] : res->headers) head.set(k, v);
    head.keep_alive(false);
    http::response_serializer<http::empty_body> sr{head};
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
    co_await http::async_write_header(stream, sr, net::redirect_error(net::use_awaitable, ec));
    auto pull = std::move(res->stream);
    net::steady_timer timer(stream.get_executor());
    std::string chunk;
    while (!ec && !stopping_) {
      chunk.clear();
      bool more = false;
      try {
        more = pull(&chunk);
      } catch (const std::exception& e) {
        OTLAKE_LOG(ERROR) << "http: stream of " << res->content_type << " failed: " << e.what();
      }
      if (!chunk.empty()) {
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
        co_await net::async_write(stream, net::buffer(chunk), net::redirect_error(net::use_awaitable, ec));
      }
      if (!more || ec) break;
      if (chunk.empty()) {
        timer.expires_after(std::chrono::milliseconds(50));
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        ec.clear();
      }
    }
    pull = nullptr;  // releases the handler's state now, not when the frame goes
  }

  // Runs a step of the handler (the handler, or its finish after a park); an exception it throws
  // becomes a 500 (our code does not throw; this catches what a library might).
  template <typename Step>
  static void Guarded(HttpResponse* res, Step&& step) {
    try {
      step();
    } catch (const std::exception& e) {
      *res = HttpResponse();
      res->status = 500;
      res->body = std::string("{\"code\":13,\"message\":\"internal error\"}");
      OTLAKE_LOG(ERROR) << "http: handler threw: " << e.what();
    }
  }

  // Reads a body of known length into *body (resized to `length`): first the bytes the parser
  // already buffered past the header, then from the socket directly into the rest -- no
  // intermediate buffer, no copy, one coroutine resumption per read. While much is left, the
  // socket's SO_RCVLOWAT is raised (up to 1 MiB, never above what is left, so the read cannot
  // wait for bytes that will not come) so a read wakes up for a large piece rather than for every
  // segment; it is reset to 1 afterwards. The Beast parser is left behind (only its header is
  // used afterwards). False if the connection failed or timed out: close it without an answer.
  template <typename Stream>
  net::awaitable<bool> ReadKnownBody(Stream& stream, beast::flat_buffer& buffer,
                                     uint64_t length, std::string* body) {
    body->resize(length);
    size_t have = net::buffer_copy(net::buffer(body->data(), body->size()), buffer.data());
    buffer.consume(have);
    const int fd = beast::get_lowest_layer(stream).socket().native_handle();
    int lowat = 1;
    auto set_lowat = [&](int want) {
      // Under TLS the socket's bytes are records, not the body: no low-water mark.
      if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) return;
      if (want == lowat) return;
      if (::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof(want)) == 0) lowat = want;
    };
    boost::system::error_code ec;
    while (have < body->size()) {
      const size_t left = body->size() - have;
      set_lowat(left > kLowatMinBody ? static_cast<int>(std::min<size_t>(left, kMaxLowat)) : 1);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
      const size_t n = co_await stream.async_read_some(net::buffer(body->data() + have, left),
                                                       net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      have += n;
    }
    set_lowat(1);
    co_return !ec;
  }

  // Reads a body through the Beast parser, `chunk` at a time: a chunked body (kept in req->body
  // and reserved against the budget as it grows), or one that is discarded (too large, over the
  // budget). Sets *close_after past max_drain_bytes. False if the connection must close without
  // an answer (a 400 has been written for a malformed body).
  template <typename Stream>
  net::awaitable<bool> ReadBodyChunks(Stream& stream, beast::flat_buffer& buffer,
                                      http::request_parser<http::buffer_body>& parser,
                                      std::vector<char>& chunk, HttpRequest* req,
                                      bool* close_after) {
    boost::system::error_code ec;
    int64_t received = 0;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
      co_await http::async_read(stream, buffer, parser,
                                net::redirect_error(net::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        if (ec != net::error::eof && ec != beast::error::timeout &&
            ec != http::error::partial_message && ec != net::error::connection_reset) {
          co_await WriteError(stream, 400, "malformed HTTP body: " + ec.message());
        }
        co_return false;
      }
      const size_t got = chunk.size() - parser.get().body().size;
      received += static_cast<int64_t>(got);
      if (!req->body_too_large && !req->over_budget) {
        if (received > options_.max_body_bytes) {
          req->body_too_large = true;
          std::string().swap(req->body);
          req->memory.ReleaseAll();
        } else if (received > req->memory.bytes() && options_.memory != nullptr &&
                   !req->memory.Grow(std::max<int64_t>(received - req->memory.bytes(),
                                                       kChunkedReserveStep))) {
          // A body without Content-Length is reserved as it grows.
          req->over_budget = true;
          std::string().swap(req->body);
          req->memory.ReleaseAll();
        } else {
          req->body.append(chunk.data(), got);
        }
      }
      if (received > options_.max_drain_bytes) {
        *close_after = true;
        break;
      }
    }
    co_return true;
  }

  template <typename Stream>
  net::awaitable<void> WriteError(Stream& stream, int status, std::string message) {
    http::response<http::string_body> out{static_cast<http::status>(status), 11};
    out.set(http::field::server, "otlake/" OTLAKE_VERSION);
    out.set(http::field::content_type, "text/plain");
    out.body() = std::move(message) + "\n";
    out.keep_alive(false);
    out.prepare_payload();
    boost::system::error_code ec;
    co_await http::async_write(stream, out, net::redirect_error(net::use_awaitable, ec));
  }

  HttpServerOptions options_;
  HttpHandler handler_;
  net::io_context ioc_;
  net::strand<net::io_context::executor_type> acceptor_strand_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<int> active_{0};
  std::shared_ptr<WakeGate> gate_ = std::make_shared<WakeGate>();
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  OTLAKE_RETURN_NOT_OK(impl->Listen());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(0); }
int HttpServer::port() const { return impl_->port(); }
void HttpServer::Stop(int grace_ms) { impl_->Stop(grace_ms); }

}  // namespace otlake::server
