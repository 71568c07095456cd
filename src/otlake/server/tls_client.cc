#include "otlake/server/tls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstring>

namespace otlake::server {

namespace {

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

}  // namespace

struct TlsClient::Impl {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  ~Impl() {
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (ctx) SSL_CTX_free(ctx);
  }
};

TlsClient::TlsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsClient::~TlsClient() = default;

Result<std::unique_ptr<TlsClient>> TlsClient::Connect(int fd, const std::string& host, int port,
                                                      const TlsClientSettings& s) {
  const std::string where = host + ":" + std::to_string(port);
  ERR_clear_error();
  auto impl = std::make_unique<Impl>();
  impl->ctx = SSL_CTX_new(TLS_client_method());
  if (!impl->ctx) return Status::IOError("TLS: ", OpenSslErrors());
  SSL_CTX_set_min_proto_version(impl->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(impl->ctx, SSL_VERIFY_PEER, nullptr);
  const std::string& trust = s.ca_file.empty() ? s.trust_exact_file : s.ca_file;
  if (trust.empty()) {
    if (SSL_CTX_set_default_verify_paths(impl->ctx) != 1) {
      return Status::IOError("TLS: cannot load the system's CA store: ", OpenSslErrors());
    }
  } else if (SSL_CTX_load_verify_locations(impl->ctx, trust.c_str(), nullptr) != 1) {
    return Status::IOError("TLS: cannot load the CA file ", trust, ": ", OpenSslErrors());
  }
  const bool exact = s.ca_file.empty() && !s.trust_exact_file.empty();
  if (exact) X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(impl->ctx), X509_V_FLAG_PARTIAL_CHAIN);
  if (!s.cert_file.empty() || !s.key_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(impl->ctx, s.cert_file.c_str()) != 1) {
      return Status::IOError("TLS: cannot load the client certificate ", s.cert_file, ": ", OpenSslErrors());
    }
    if (SSL_CTX_use_PrivateKey_file(impl->ctx, s.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(impl->ctx) != 1) {
      return Status::IOError("TLS: cannot use the client key ", s.key_file, ": ", OpenSslErrors());
    }
  }
  impl->ssl = SSL_new(impl->ctx);
  if (!impl->ssl) return Status::IOError("TLS: ", OpenSslErrors());
  SSL_set_fd(impl->ssl, fd);
  in_addr a4;
  in6_addr a6;
  const bool is_ip = inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
  if (!is_ip) SSL_set_tlsext_host_name(impl->ssl, host.c_str());
  if (!exact) {
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(impl->ssl), host.c_str());
    } else {
      SSL_set1_host(impl->ssl, host.c_str());
    }
  }
  if (SSL_connect(impl->ssl) != 1) {
    const long verify = SSL_get_verify_result(impl->ssl);
    if (verify != X509_V_OK) {
      return Status::IOError("TLS to ", where, ": the server's certificate is not trusted (",
                             X509_verify_cert_error_string(verify), "; trusting ",
                             trust.empty() ? std::string("the system's CAs") : trust, ")");
    }
    std::string why = OpenSslErrors();
    if (s.cert_file.empty()) why += " (a server that requires client certificates needs one: --tls-client-cert, --tls-client-key)";
    return Status::IOError("TLS handshake with ", where, " failed: ", why);
  }
  return std::unique_ptr<TlsClient>(new TlsClient(std::move(impl)));
}

bool TlsClient::WriteAll(std::string_view data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const int n = SSL_write(impl_->ssl, data.data() + sent, static_cast<int>(data.size() - sent));
    if (n <= 0) {
      error_ = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : OpenSslErrors();
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

int TlsClient::Read(char* buf, int size) {
  errno = 0;
  const int n = SSL_read(impl_->ssl, buf, size);
  if (n > 0) return n;
  const int err = SSL_get_error(impl_->ssl, n);
  if (err == SSL_ERROR_ZERO_RETURN) return 0;
  // A peer that closes without close_notify: its answer is judged complete or not by the caller
  // (HTTP framing).
  if (err == SSL_ERROR_SYSCALL && errno == 0) return 0;
  if (err == SSL_ERROR_SYSCALL) {
    error_ = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : std::strerror(errno);
  } else {
    // Under TLS 1.3 a server that refuses the client's certificate says so here, after the
    // client's side of the handshake has completed.
    error_ = OpenSslErrors();
  }
  return -1;
}

}  // namespace otlake::server
