#include "otlake/cli/http_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
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

namespace otlake::cli {

namespace {

std::string OpenSslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

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
    if (ssl_) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (ctx_) SSL_CTX_free(ctx_);
    ::close(fd_);
  }

  Status StartTls(const std::string& host, int port, const ClientTls& tls) {
    const std::string where = host + ":" + std::to_string(port);
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return Status::IOError("TLS: ", OpenSslError());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    const std::string& trust = tls.ca_file.empty() ? tls.server_cert_file : tls.ca_file;
    if (trust.empty()) return Status::Invalid("TLS to ", where, ": no CA to trust (--tls-ca)");
    if (SSL_CTX_load_verify_locations(ctx_, trust.c_str(), nullptr) != 1) {
      return Status::IOError("TLS: cannot load the CA file ", trust, ": ", OpenSslError());
    }
    if (tls.ca_file.empty()) {
      // The server's own chain is the trust anchor: its leaf is trusted as it is.
      X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx_), X509_V_FLAG_PARTIAL_CHAIN);
    }
    if (!tls.cert_file.empty() || !tls.key_file.empty()) {
      if (SSL_CTX_use_certificate_chain_file(ctx_, tls.cert_file.c_str()) != 1) {
        return Status::IOError("TLS: cannot load the client certificate ", tls.cert_file, ": ", OpenSslError());
      }
      if (SSL_CTX_use_PrivateKey_file(ctx_, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
          SSL_CTX_check_private_key(ctx_) != 1) {
        return Status::IOError("TLS: cannot use the client key ", tls.key_file, ": ", OpenSslError());
      }
    }
    ssl_ = SSL_new(ctx_);
    if (!ssl_) return Status::IOError("TLS: ", OpenSslError());
    SSL_set_fd(ssl_, fd_);
    if (!tls.ca_file.empty()) {
      in6_addr a6;
      in_addr a4;
      const bool is_ip = inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
      if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl_, host.c_str());
        SSL_set1_host(ssl_, host.c_str());
      }
    }
    if (SSL_connect(ssl_) != 1) {
      const long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) {
        return Status::IOError("TLS to ", where, ": the server's certificate is not trusted (",
                               X509_verify_cert_error_string(verify), "; trusting ", trust, ")");
      }
      std::string why = OpenSslError();
      if (tls.cert_file.empty()) why += " (a server started with --tls-client-ca needs --tls-client-cert and --tls-client-key)";
      return Status::IOError("TLS handshake with ", where, " failed: ", why);
    }
    return Status::OK();
  }

  bool WriteAll(const std::string& data) {
    for (size_t sent = 0; sent < data.size();) {
      const ssize_t n = ssl_ ? SSL_write(ssl_, data.data() + sent, static_cast<int>(data.size() - sent))
                             : ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        if (!ssl_ && errno == EINTR) continue;
        return false;
      }
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Appends what arrives until the peer closes. Empty on success, else why it stopped.
  std::string ReadToEnd(std::string* out, std::chrono::steady_clock::time_point deadline) {
    char buf[65536];
    for (;;) {
      if (std::chrono::steady_clock::now() > deadline) return "timed out";
      if (ssl_) {
        errno = 0;
        const int n = SSL_read(ssl_, buf, sizeof buf);
        if (n > 0) {
          out->append(buf, static_cast<size_t>(n));
          continue;
        }
        const int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_ZERO_RETURN) return "";
        // A peer that closes without close_notify after a complete HTTP/1.0 answer: the answer
        // is checked by its caller (headers present).
        if (err == SSL_ERROR_SYSCALL && errno == 0) return "";
        if (err == SSL_ERROR_SYSCALL) return errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : std::strerror(errno);
        // Under TLS 1.3 a server that refuses the client's certificate says so here, after the
        // client's side of the handshake has completed.
        return OpenSslError();
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
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
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
    t.server_cert_file = server_cert_file;
  }
  return t;
}

}  // namespace otlake::cli
