#include "otlake/cli/http_client.h"

#include <netdb.h>
#include <rapidjson/document.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>

#include "otlake/cli/args.h"
#include "otlake/common/file_util.h"

namespace otlake::cli {

namespace {

// A connected socket (blocking, with send/receive timeouts), or IOError.
Status Connect(const std::string& host, int port, double timeout_s, int* out_fd) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    return Status::IOError("cannot resolve '", host, "': ", gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, freeaddrinfo);
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::IOError("socket: ", std::strerror(errno));
  auto fail = [&](Status st) {
    ::close(fd);
    return st;
  };
  if (::connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
    return fail(Status::IOError("cannot connect to ", host, ":", port, " (is otlake running?): ", std::strerror(errno)));
  }
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout_s * 1000)) <= 0) {
    return fail(Status::IOError("timeout connecting to ", host, ":", port));
  }
  int soerr = 0;
  socklen_t len = sizeof soerr;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
  if (soerr != 0) {
    return fail(Status::IOError("cannot connect to ", host, ":", port, " (is otlake running?): ", std::strerror(soerr)));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(timeout_s), static_cast<suseconds_t>((timeout_s - static_cast<time_t>(timeout_s)) * 1e6)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  *out_fd = fd;
  return Status::OK();
}

// Reads and writes one connection, plain or TLS.
class Conn {
 public:
  explicit Conn(int fd) : fd_(fd) {}
  ~Conn() {
    tls_.reset();  // its close_notify goes out before the socket closes
    ::close(fd_);
  }

  Status StartTls(const std::string& host, int port, const ClientTls& tls) {
    OTLAKE_ASSIGN_OR_RAISE(tls_, server::TlsClient::Connect(fd_, host, port, tls));
    return Status::OK();
  }

  bool WriteAll(const std::string& data) {
    if (tls_) return tls_->WriteAll(data);
    for (size_t sent = 0; sent < data.size();) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Appends what arrives until the peer closes. Empty on success, else why it stopped.
  std::string ReadToEnd(std::string* out, std::chrono::steady_clock::time_point deadline) {
    char buf[65536];
    for (;;) {
      if (std::chrono::steady_clock::now() > deadline) return "timed out";
      if (tls_) {
        const int n = tls_->Read(buf, sizeof buf);
        if (n == 0) return "";
        if (n < 0) return tls_->error();
        out->append(buf, static_cast<size_t>(n));
        continue;
      }
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : std::strerror(errno);
      if (n == 0) return "";
      out->append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::unique_ptr<server::TlsClient> tls_;
};

}  // namespace

Status HttpCall(const std::string& host, int port, const ClientTls& tls, const std::string& method,
                const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers,
                const std::string& body, double timeout_s, int* status, std::string* out) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  int fd = -1;
  OTLAKE_RETURN_NOT_OK(Connect(host, port, timeout_s, &fd));
  Conn conn(fd);
  if (tls.enabled) OTLAKE_RETURN_NOT_OK(conn.StartTls(host, port, tls));
  std::string req = method + " " + path + " HTTP/1.0\r\nHost: " + host + "\r\nAccept: application/json\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  if (!conn.WriteAll(req)) return Status::IOError("send to ", host, ":", port, " failed: ", std::strerror(errno));
  std::string resp;
  if (std::string why = conn.ReadToEnd(&resp, deadline); !why.empty()) {
    if (tls.enabled && tls.cert_file.empty() && why.find("certificate required") != std::string::npos) {
      why += " (a server started with --tls-client-ca needs --tls-client-cert and --tls-client-key)";
    }
    return Status::IOError("no complete answer from ", host, ":", port, ": ", why);
  }
  const size_t sp = resp.find(' ');
  const size_t end = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/", 0) != 0 || sp == std::string::npos || end == std::string::npos) {
    return Status::IOError("malformed HTTP answer from ", host, ":", port,
                           tls.enabled ? "" : " (does it serve TLS? then pass --tls-ca)");
  }
  *status = std::atoi(resp.c_str() + sp + 1);
  *out = resp.substr(end + 4);
  return Status::OK();
}

bool ReadRunningServer(const std::string& path, RunningServer* out) {
  auto js = ReadFile(path);
  rapidjson::Document d;
  if (!js.ok() || d.Parse(js->c_str()).HasParseError() || !d.IsObject() || !d.HasMember("port") ||
      !d["port"].IsInt()) {
    return false;
  }
  auto text = [&](const char* k) {
    return d.HasMember(k) && d[k].IsString() ? std::string(d[k].GetString()) : std::string();
  };
  out->port = d["port"].GetInt();
  out->host = text("host");
  out->tls = d.HasMember("tls") && d["tls"].IsBool() && d["tls"].GetBool();
  out->tls_cert = out->tls ? text("tls_cert") : std::string();
  return true;
}

std::vector<OptionSpec> TlsClientSpecs() {
  return {{"", "tls-ca", "PEM", "", "TLS: trust these CAs [default with a TLS server: its own certificate] (env OTLAKE_TLS_CA)"},
          {"", "tls-client-cert", "PEM", "", "TLS: client certificate, for a server with --tls-client-ca (env OTLAKE_TLS_CLIENT_CERT)"},
          {"", "tls-client-key", "PEM", "", "TLS: the client certificate's key (env OTLAKE_TLS_CLIENT_KEY)"}};
}

ClientTls ClientTlsFor(const Args& a, bool server_tls, const std::string& server_cert_file) {
  auto pick = [&](const char* flag, const char* env) {
    if (a.Has(flag)) return a.Get(flag);
    const char* v = std::getenv(env);
    return std::string(v ? v : "");
  };
  ClientTls t;
  t.ca_file = pick("tls-ca", "OTLAKE_TLS_CA");
  t.cert_file = pick("tls-client-cert", "OTLAKE_TLS_CLIENT_CERT");
  t.key_file = pick("tls-client-key", "OTLAKE_TLS_CLIENT_KEY");
  if (!t.ca_file.empty()) {
    t.enabled = true;
  } else if (server_tls) {
    t.enabled = true;
    t.trust_exact_file = server_cert_file;
  }
  return t;
}

}  // namespace otlake::cli
