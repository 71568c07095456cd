#include "otlake/grpc/grpc_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "otlake/common/log.h"
#include "otlake/common/thread_util.h"
#include "otlake/grpc/grpc_session.h"
#include "otlake/server/tls.h"

namespace otlake::grpc {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

const char* CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "OK";
    case Code::kCancelled: return "CANCELLED";
    case Code::kUnknown: return "UNKNOWN";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kPermissionDenied: return "PERMISSION_DENIED";
    case Code::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case Code::kFailedPrecondition: return "FAILED_PRECONDITION";
    case Code::kUnimplemented: return "UNIMPLEMENTED";
    case Code::kInternal: return "INTERNAL";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kUnauthenticated: return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

constexpr int kNumCodes = 17;

// Lets handler wake-ups from other threads reach the io_context only while it runs: closed
// after the I/O threads have stopped. A wake-up after that is dropped with its call.
struct Gate {
  std::mutex mu;
  bool open = true;  // guarded by mu
  template <typename F>
  void Post(net::io_context& ioc, F&& f) {
    std::lock_guard lk(mu);
    if (open) net::post(ioc, std::forward<F>(f));
  }
};

}  // namespace

class Connection;

class GrpcServer::Impl {
 public:
  Impl(GrpcServerOptions options, server::HttpHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)), acceptor_(ioc_), gate_(std::make_shared<Gate>()) {}
  ~Impl() { Stop(0); }

  Status Listen();
  int port() const { return port_; }
  void Stop(int grace_ms);
  std::string StatusJson() const;

  // Runs a call's handler on an I/O thread and answers it on `conn`'s strand.
  void Handle(std::shared_ptr<Connection> conn, std::unique_ptr<GrpcSession::Call> call);
  void Forget(Connection* c) {
    std::lock_guard lk(conns_mu_);
    conns_.erase(c);
  }
  void Counted(Code code) { ++by_code_[std::min(static_cast<int>(code), kNumCodes - 1)]; }

  const GrpcServerOptions& options() const { return options_; }

 private:
  void Accept();

  const GrpcServerOptions options_;
  const server::HttpHandler handler_;
  // Before ioc_: connections still queued in the io_context when it is destroyed remove
  // themselves from conns_.
  mutable std::mutex conns_mu_;
  std::set<Connection*> conns_;  // guarded by conns_mu_; each removes itself when destroyed
  std::atomic<int64_t> connections_total_{0};
  std::array<std::atomic<int64_t>, kNumCodes> by_code_{};
  std::atomic<int64_t> calls_in_flight_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::shared_ptr<Gate> gate_;
  std::vector<std::thread> threads_;
  int port_ = 0;
};

// One client connection: reads into the session, writes what it produces; all on one strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(GrpcServer::Impl* server, tcp::socket socket)
      : server_(server), socket_(std::move(socket)) {}
  ~Connection() { server_->Forget(this); }

  void Start() {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    socket_.set_option(net::socket_base::keep_alive(true), ec);
    if (server_->options().tls) {
      tls_context_ = server_->options().tls->Current();
      tls_.emplace(socket_, *tls_context_);
      tls_->async_handshake(net::ssl::stream_base::server, [self = shared_from_this()](boost::system::error_code ec) {
        if (ec) {
          OTLAKE_LOG(DEBUG) << "grpc: TLS handshake failed: " << ec.message();
          return self->CloseNow();
        }
        self->Begin();
      });
      return;
    }
    Begin();
  }

  // The connection is up (TLS handshake done, if any): start HTTP/2.
  void Begin() {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    GrpcSessionOptions so;
    so.max_message_bytes = server_->options().max_message_bytes;
    so.memory = server_->options().memory;
    so.header_check = server_->options().header_check;
    so.on_refused = [server = server_](Code c) { server->Counted(c); };
    if (!ec) so.peer = ep.address().to_string() + ":" + std::to_string(ep.port());
    session_ = std::make_unique<GrpcSession>(std::move(so), [this](std::unique_ptr<GrpcSession::Call> call) {
      server_->Handle(shared_from_this(), std::move(call));
    });
    Flush();  // the server's SETTINGS
    Read();
  }

  // On any thread: answer call `id` on the strand.
  void Answer(int32_t id, grpc::Answer answer) {
    net::post(socket_.get_executor(), [self = shared_from_this(), id, answer = std::move(answer)] {
      self->session_->Respond(id, answer);
      self->Flush();
    });
  }

  // On any thread: GOAWAY; the connection closes once its calls are answered.
  void Shutdown() {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      if (!self->session_) return self->CloseNow();  // still in its TLS handshake
      self->session_->Shutdown();
      self->Flush();
    });
  }

  // On any thread: closes the socket now.
  void Close() {
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
  }

 private:
  void Read() {
    auto on_read = [self = shared_from_this()](boost::system::error_code ec, size_t n) {
      if (ec) return self->CloseNow();
      Status st = self->session_->Receive(std::string_view(self->rbuf_.data(), n));
      if (!st.ok()) {
        OTLAKE_LOG(DEBUG) << "grpc: closing a connection: " << st.message();
        self->broken_ = true;
      }
      self->Flush();
      if (!self->broken_ && !self->closed_) self->Read();
    };
    if (tls_) {
      tls_->async_read_some(net::buffer(rbuf_), std::move(on_read));
    } else {
      socket_.async_read_some(net::buffer(rbuf_), std::move(on_read));
    }
  }

  void Flush() {
    if (writing_ || closed_ || !session_) return;
    wbuf_.clear();
    if (!session_->TakeOutput(&wbuf_)) {
      if (broken_ || session_->Done()) CloseNow();
      return;
    }
    writing_ = true;
    auto on_write = [self = shared_from_this()](boost::system::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->CloseNow();
      self->Flush();
    };
    if (tls_) {
      net::async_write(*tls_, net::buffer(wbuf_), std::move(on_write));
    } else {
      net::async_write(socket_, net::buffer(wbuf_), std::move(on_write));
    }
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  GrpcServer::Impl* server_;
  tcp::socket socket_;
  std::shared_ptr<net::ssl::context> tls_context_;    // the context of this connection's TLS
  std::optional<net::ssl::stream<tcp::socket&>> tls_;  // set for a TLS connection
  std::unique_ptr<GrpcSession> session_;
  std::array<char, 64 << 10> rbuf_;
  std::string wbuf_;
  bool writing_ = false;
  bool broken_ = false;
  bool closed_ = false;
};

Status GrpcServer::Impl::Listen() {
  boost::system::error_code ec;
  auto addr = net::ip::make_address(options_.host, ec);
  if (ec) return Status::Invalid("invalid gRPC listen address '", options_.host, "'");
  tcp::endpoint ep(addr, static_cast<unsigned short>(options_.port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("cannot listen for gRPC on ", options_.host, ":", options_.port, ": ", ec.message());
  port_ = acceptor_.local_endpoint().port();
  Accept();
  const int n = options_.threads > 0 ? options_.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] {
      SetCurrentThreadName("otlake-grpc");
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          OTLAKE_LOG(ERROR) << "grpc: unexpected exception in I/O thread: " << e.what();
        }
      }
    });
  }
  return Status::OK();
}

void GrpcServer::Impl::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) {
      if (stopping_ || ec == net::error::operation_aborted) return;
      OTLAKE_LOG(WARN) << "grpc: accept failed: " << ec.message();
      return Accept();
    }
    if (!stopping_) {
      auto conn = std::make_shared<Connection>(this, std::move(socket));
      {
        std::lock_guard lk(conns_mu_);
        conns_.insert(conn.get());
      }
      ++connections_total_;
      conn->Start();
    }
    Accept();
  });
}

void GrpcServer::Impl::Handle(std::shared_ptr<Connection> conn, std::unique_ptr<GrpcSession::Call> call) {
  ++calls_in_flight_;
  net::post(ioc_, [this, conn = std::move(conn), call = std::shared_ptr<GrpcSession::Call>(std::move(call))]() mutable {
    auto res = std::make_shared<server::HttpResponse>();
    auto done = [this, conn, call, res] {
      grpc::Answer a = AnswerFromHttp(*res);
      Counted(a.code);
      const int32_t id = call->id;
      call->request.memory.ReleaseAll();  // the message is in the WAL (or refused) now
      conn->Answer(id, std::move(a));
      --calls_in_flight_;
    };
    try {
      handler_(call->request, res.get());
    } catch (const std::exception& e) {
      res->status = 500;
      res->content_type = "text/plain";
      res->body = std::string("internal error: ") + e.what();
      res->wait = nullptr;
    }
    if (!res->wait) return done();
    auto wait = std::move(res->wait);
    res->wait = nullptr;
    std::shared_ptr<Gate> gate = gate_;
    wait([this, gate, res, done] {
      gate->Post(ioc_, [res, done] {
        auto finish = std::move(res->finish);
        res->finish = nullptr;
        try {
          if (finish) finish(res.get());
        } catch (const std::exception& e) {
          res->status = 500;
          res->content_type = "text/plain";
          res->body = std::string("internal error: ") + e.what();
        }
        done();
      });
    });
  });
}

void GrpcServer::Impl::Stop(int grace_ms) {
  if (stopped_.exchange(true)) return;
  stopping_ = true;
  net::post(ioc_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lk(conns_mu_);
    for (Connection* c : conns_) {
      if (auto sp = c->weak_from_this().lock()) conns.push_back(std::move(sp));
    }
  }
  for (auto& c : conns) c->Shutdown();
  conns.clear();
  // A connection closes itself once GOAWAY is out and its calls are answered and written.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  auto open_connections = [this] {
    std::lock_guard lk(conns_mu_);
    return conns_.size();
  };
  while ((calls_in_flight_ > 0 || open_connections() > 0) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::lock_guard lk(conns_mu_);
    for (Connection* c : conns_) {
      if (auto sp = c->weak_from_this().lock()) conns.push_back(std::move(sp));
    }
  }
  for (auto& c : conns) c->Close();
  conns.clear();
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  std::lock_guard lk(gate_->mu);
  gate_->open = false;
}

std::string GrpcServer::Impl::StatusJson() const {
  size_t open;
  {
    std::lock_guard lk(conns_mu_);
    open = conns_.size();
  }
  std::string out = "{\"port\":" + std::to_string(port_) + ",\"connections\":" + std::to_string(open) +
                    ",\"connections_total\":" + std::to_string(connections_total_.load()) +
                    ",\"calls_in_flight\":" + std::to_string(calls_in_flight_.load()) + ",\"by_code\":{";
  bool first = true;
  int64_t total = 0;
  for (int c = 0; c < kNumCodes; ++c) {
    const int64_t n = by_code_[c].load();
    if (n == 0) continue;
    total += n;
    if (!first) out += ',';
    first = false;
    out += "\"" + std::string(CodeName(static_cast<Code>(c))) + "\":" + std::to_string(n);
  }
  out += "},\"calls\":" + std::to_string(total) + "}";
  return out;
}

Result<std::unique_ptr<GrpcServer>> GrpcServer::Start(const GrpcServerOptions& options, server::HttpHandler handler) {
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  Status st = impl->Listen();
  if (!st.ok()) return st;
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcServer::~GrpcServer() = default;
int GrpcServer::port() const { return impl_->port(); }
void GrpcServer::Stop(int grace_ms) { impl_->Stop(grace_ms); }
std::string GrpcServer::StatusJson() const { return impl_->StatusJson(); }

}  // namespace otlake::grpc
