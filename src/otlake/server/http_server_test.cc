// HttpServer over real sockets: the body a handler sees is exactly the bytes the client sent,
// however they arrive (Content-Length or chunked, one write or many, pipelined), and the limits
// (max_body_bytes, the memory budget) answer without losing the connection. A parked request
// (HttpResponse::wait) does not hold its thread.
#include "otlake/server/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace otlake::server {
namespace {

// What the handler saw, in arrival order.
struct Seen {
  std::string path, body;
  bool too_large = false, over_budget = false;
  int64_t reserved = 0;
};

class Server {
 public:
  explicit Server(HttpServerOptions opts = {}) {
    opts.host = "127.0.0.1";
    opts.port = 0;
    opts.threads = 2;
    auto started = HttpServer::Start(opts, [this](HttpRequest& req, HttpResponse* res) {
      Seen s{req.path, req.body, req.body_too_large, req.over_budget, req.memory.bytes()};
      {
        std::lock_guard lk(mu_);
        seen_.push_back(s);
      }
      res->content_type = "text/plain";
      if (req.body_too_large) {
        res->status = 413;
      } else if (req.over_budget) {
        res->status = 429;
      }
      res->body = "len=" + std::to_string(req.body.size());
    });
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(*started);
  }
  int port() const { return server_->port(); }
  std::vector<Seen> seen() {
    std::lock_guard lk(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::unique_ptr<HttpServer> server_;
};

class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~Client() { ::close(fd_); }

  void Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << "send failed";
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  struct Response {
    int status = 0;  // 0: the connection closed before a response
    std::string head, body;
  };
  // Reads one response (Content-Length bodies only, which is all the server sends).
  Response Read() {
    Response r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    r.head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    size_t len = 0;
    const size_t cl = r.head.find("Content-Length: ");
    if (cl != std::string::npos) len = std::stoul(r.head.substr(cl + 16));
    while (buf_.size() < len) {
      if (!Fill()) return Response{};
    }
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }
  // True if the server has sent something not yet read (does not wait).
  bool HasData() {
    char c;
    return !buf_.empty() || ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }
  // True once the server has closed the connection (after whatever it sent is read).
  bool Closed() {
    while (Fill()) {
    }
    return closed_;
  }

 private:
  bool Fill() {
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      closed_ = n == 0;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
  bool closed_ = false;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::string Post(std::string_view path, std::string_view body, std::string_view extra = "") {
  return "POST " + std::string(path) + " HTTP/1.1\r\nHost: x\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + std::string(extra) + "\r\n" + std::string(body);
}

std::string Chunked(std::string_view body, size_t piece) {
  std::string out;
  for (size_t i = 0; i < body.size(); i += piece) {
    const std::string_view p = body.substr(i, piece);
    char hex[32];
    snprintf(hex, sizeof(hex), "%zx\r\n", p.size());
    out += hex;
    out.append(p);
    out += "\r\n";
  }
  return out + "0\r\n\r\n";
}

TEST(HttpServer, ContentLengthBodyArrivesExactly) {
  Server server;
  Client c(server.port());
  // Small (all in the header read), medium, and large enough to raise SO_RCVLOWAT.
  const std::vector<size_t> sizes = {0, 1, 1000, 70000, 3 << 20};
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string body = RandomBytes(sizes[i], static_cast<uint32_t>(i));
    c.Send(Post("/v1/traces", body));
    auto r = c.Read();
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.body, "len=" + std::to_string(body.size()));
    auto seen = server.seen();
    ASSERT_EQ(seen.size(), i + 1);
    EXPECT_TRUE(seen.back().body == body) << "body of " << sizes[i] << " bytes differs";
    EXPECT_FALSE(seen.back().too_large);
  }
}

TEST(HttpServer, ChunkedBody) {
  Server server;
  Client c(server.port());
  const std::string body = RandomBytes(200000, 7);
  c.Send("POST /v1/logs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
         Chunked(body, 10007));
  auto r = c.Read();
  ASSERT_EQ(r.status, 200) << r.head;
  // The connection stays usable after a chunked body.
  c.Send(Post("/v1/logs", "after"));
  ASSERT_EQ(c.Read().status, 200);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0].body == body);
  EXPECT_EQ(seen[1].body, "after");
}

TEST(HttpServer, PipelinedKeepAliveRequests) {
  Server server;
  Client c(server.port());
  std::string all;
  std::vector<std::string> bodies;
  for (int i = 0; i < 6; ++i) {
    bodies.push_back(RandomBytes(static_cast<size_t>(i) * 50001 + 3, static_cast<uint32_t>(100 + i)));
    all += i == 3 ? "POST /p3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                        Chunked(bodies.back(), 4096)
                  : Post("/p" + std::to_string(i), bodies.back());
  }
  c.Send(all);  // every request in one write: the server must not read past each body
  for (int i = 0; i < 6; ++i) {
    auto r = c.Read();
    ASSERT_EQ(r.status, 200) << "response " << i;
    EXPECT_EQ(r.body, "len=" + std::to_string(bodies[i].size()));
  }
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(seen[i].path, "/p" + std::to_string(i));
    EXPECT_TRUE(seen[i].body == bodies[i]) << "request " << i;
  }
}

TEST(HttpServer, OversizeBodyIsDrainedAndConnectionReused) {
  HttpServerOptions opts;
  opts.max_body_bytes = 1000;
  opts.max_drain_bytes = 1 << 20;
  Server server(opts);
  Client c(server.port());
  c.Send(Post("/big", RandomBytes(300000, 1)));
  auto r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, "len=0");
  // Chunked bodies learn they are too large as they arrive.
  c.Send("POST /bigchunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
         Chunked(RandomBytes(5000, 2), 700));
  EXPECT_EQ(c.Read().status, 413);
  c.Send(Post("/small", "ok"));
  r = c.Read();
  EXPECT_EQ(r.status, 200);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[0].too_large);
  EXPECT_TRUE(seen[1].too_large);
  EXPECT_EQ(seen[2].body, "ok");
  EXPECT_FALSE(seen[2].too_large);
}

TEST(HttpServer, BodyPastDrainLimitClosesTheConnection) {
  HttpServerOptions opts;
  opts.max_body_bytes = 1000;
  opts.max_drain_bytes = 10000;
  Server server(opts);
  Client c(server.port());
  c.Send("POST /huge HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(c.Closed());
}

TEST(HttpServer, OverBudgetBodyIsRefusedAndDrained) {
  // Others hold 900 of 1000 bytes: a 500-byte body does not fit.
  std::atomic<int64_t> others{900};
  MemoryBudget budget(1000, 0, [&] { return others.load(); });
  HttpServerOptions opts;
  opts.memory = &budget;
  Server server(opts);
  {
    Client c(server.port());
    c.Send(Post("/a", std::string(500, 'a')));
    EXPECT_EQ(c.Read().status, 429);
    // Drained: the next request on the connection is read correctly (once the others are below
    // the low watermark again).
    others = 0;
    c.Send(Post("/b", std::string(50, 'b')));
    auto r = c.Read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "len=50");
  }
  {
    // After Expect: 100-continue the body is never asked for: answer, then close.
    others = 900;
    Client c(server.port());
    c.Send("POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n");
    auto r = c.Read();
    EXPECT_EQ(r.status, 429);
    EXPECT_TRUE(c.Closed());
  }
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[0].over_budget);
  EXPECT_EQ(seen[0].body, "");
  EXPECT_FALSE(seen[1].over_budget);
  EXPECT_EQ(seen[1].body, std::string(50, 'b'));
  EXPECT_EQ(seen[1].reserved, 50);  // a known length is reserved before it is read
  EXPECT_TRUE(seen[2].over_budget);
  EXPECT_EQ(budget.reserved(), 0);  // every reservation was released
}

TEST(HttpServer, ExpectContinueThenBody) {
  Server server;
  Client c(server.port());
  const std::string body = RandomBytes(100000, 9);
  c.Send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n");
  auto cont = c.Read();
  ASSERT_EQ(cont.status, 100);
  c.Send(body);
  auto r = c.Read();
  ASSERT_EQ(r.status, 200);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].body == body);
}

TEST(HttpServer, BodySplitOverManySmallWrites) {
  Server server;
  Client c(server.port());
  const std::string body = RandomBytes(300000, 11);
  const std::string req = Post("/split", body);
  // Uneven pieces, some pauses: the header and body arrive in many reads.
  std::mt19937 rng(3);
  size_t pos = 0;
  int writes = 0;
  while (pos < req.size()) {
    size_t n = 1 + rng() % (writes < 50 ? 17 : 9000);
    n = std::min(n, req.size() - pos);
    c.Send(std::string_view(req).substr(pos, n));
    pos += n;
    if (++writes % 20 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto r = c.Read();
  ASSERT_EQ(r.status, 200) << r.head;
  // A second request right behind it on the same connection.
  c.Send(Post("/next", "n"));
  ASSERT_EQ(c.Read().status, 200);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0].body == body);
  EXPECT_EQ(seen[1].body, "n");
}

TEST(HttpServer, MalformedRequestGets400) {
  Server server;
  Client c(server.port());
  c.Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(c.Closed());
  Client c2(server.port());
  c2.Send("POST /y HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  EXPECT_EQ(c2.Read().status, 400);
  EXPECT_TRUE(server.seen().empty());
}

TEST(HttpServer, ClientHangingUpMidBodyIsNotHandled) {
  Server server;
  {
    Client c(server.port());
    c.Send("POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
           std::string(5000, 'g'));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Client c(server.port());
  c.Send(Post("/still", "up"));
  EXPECT_EQ(c.Read().status, 200);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].path, "/still");
}

// A handler that parks every request on /park/<n> until the test wakes it (HttpResponse::wait),
// and answers everything else at once.
class ParkingServer {
 public:
  explicit ParkingServer(int threads) {
    HttpServerOptions opts;
    opts.host = "127.0.0.1";
    opts.port = 0;
    opts.threads = threads;
    auto started = HttpServer::Start(opts, [this](HttpRequest& req, HttpResponse* res) {
      res->content_type = "text/plain";
      if (req.path.rfind("/park/", 0) != 0) {
        res->body = "now " + req.path;
        return;
      }
      const std::string name = req.path.substr(6);
      res->wait = [this, name](std::function<void()> wake) {
        std::lock_guard lk(mu_);
        parked_.emplace_back(name, std::move(wake));
        cv_.notify_all();
      };
      res->finish = [name](HttpResponse* r) { r->body = "woken " + name; };
    });
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(*started);
  }
  int port() const { return server_->port(); }
  HttpServer* server() { return server_.get(); }
  // Waits until `n` requests are parked, then takes their wake-ups.
  std::vector<std::pair<std::string, std::function<void()>>> TakeParked(size_t n) {
    std::unique_lock lk(mu_);
    EXPECT_TRUE(cv_.wait_for(lk, std::chrono::seconds(10), [&] { return parked_.size() >= n; }));
    return std::move(parked_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::function<void()>>> parked_;  // guarded by mu_
  std::unique_ptr<HttpServer> server_;
};

TEST(HttpServer, ParkedRequestsDoNotHoldTheirThread) {
  ParkingServer server(/*threads=*/1);
  constexpr int kParked = 8;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kParked; ++i) {
    clients.push_back(std::make_unique<Client>(server.port()));
    clients.back()->Send(Post("/park/" + std::to_string(i), "body"));
  }
  auto parked = server.TakeParked(kParked);
  ASSERT_EQ(parked.size(), static_cast<size_t>(kParked));
  // Nothing is answered before its wake-up.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (auto& c : clients) EXPECT_FALSE(c->HasData()) << "answered before its wake-up";
  // Eight requests wait and the only thread still answers a ninth connection.
  Client other(server.port());
  other.Send(Post("/ping", ""));
  auto r = other.Read();
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body, "now /ping");
  // Woken from another thread, in reverse order: each connection gets its own answer.
  std::thread waker([&] {
    for (auto it = parked.rbegin(); it != parked.rend(); ++it) it->second();
  });
  waker.join();
  for (int i = 0; i < kParked; ++i) {
    auto got = clients[i]->Read();
    ASSERT_EQ(got.status, 200) << got.head;
    EXPECT_EQ(got.body, "woken " + std::to_string(i));
    // The connection is kept alive and serves the next request.
    clients[i]->Send(Post("/again", ""));
    EXPECT_EQ(clients[i]->Read().body, "now /again");
  }
}

TEST(HttpServer, StoppingWithARequestParkedClosesItAndALateWakeUpIsHarmless) {
  std::function<void()> wake;
  std::unique_ptr<Client> c;
  {
    ParkingServer server(/*threads=*/2);
    c = std::make_unique<Client>(server.port());
    c->Send(Post("/park/late", "x"));
    auto parked = server.TakeParked(1);
    ASSERT_EQ(parked.size(), 1u);
    wake = std::move(parked[0].second);
    server.server()->Stop(/*grace_ms=*/50);
  }
  EXPECT_TRUE(c->Closed());  // never answered: the client retries elsewhere
  wake();  // the server and its io_context are gone: dropped (ASan would see a use after free)
}

}  // namespace
}  // namespace otlake::server
