#include "otlake/server/tls.h"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>
#include <cstring>

namespace otlake::server {

namespace ssl = boost::asio::ssl;

namespace {

std::string OpenSslReason() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Status Readable(const std::string& flag, const std::string& path) {
  if (path.empty()) return Status::Invalid(flag, " is required for TLS");
  if (::access(path.c_str(), R_OK) != 0) {
    return Status::Invalid("cannot read ", flag, " ", path, ": ", std::strerror(errno));
  }
  return Status::OK();
}

// ALPN: the server's one protocol if the client offers it; otherwise no ALPN (the client decides).
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
               void* arg) {
  const auto* want = static_cast<const std::string*>(arg);
  for (unsigned int i = 0; i < inlen;) {
    const unsigned int n = in[i];
    if (i + 1 + n > inlen) break;
    if (n == want->size() && std::memcmp(in + i + 1, want->data(), n) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(n);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

Result<std::shared_ptr<ssl::context>> MakeContext(const TlsSettings& s) {
  OTLAKE_RETURN_NOT_OK(Readable("--tls-cert", s.cert_path));
  OTLAKE_RETURN_NOT_OK(Readable("--tls-key", s.key_path));
  if (!s.client_ca_path.empty()) OTLAKE_RETURN_NOT_OK(Readable("--tls-client-ca", s.client_ca_path));
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, s.cert_path.c_str()) != 1) {
    return Status::Invalid("cannot use --tls-cert ", s.cert_path, ": ", OpenSslReason());
  }
  if (SSL_CTX_use_PrivateKey_file(native, s.key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::Invalid("cannot use --tls-key ", s.key_path, ": ", OpenSslReason());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return Status::Invalid("--tls-key ", s.key_path, " does not match the certificate in --tls-cert ", s.cert_path,
                           ": ", OpenSslReason());
  }
  if (!s.client_ca_path.empty()) {
    if (SSL_CTX_load_verify_locations(native, s.client_ca_path.c_str(), nullptr) != 1) {
      return Status::Invalid("cannot use --tls-client-ca ", s.client_ca_path, ": ", OpenSslReason());
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.client_ca_path.c_str());
    if (names == nullptr) {
      return Status::Invalid("--tls-client-ca ", s.client_ca_path, " holds no certificate: ", OpenSslReason());
    }
    SSL_CTX_set_client_CA_list(native, names);
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  if (!s.alpn.empty()) {
    // The settings outlive every context made from them (TlsConfig owns both).
    SSL_CTX_set_alpn_select_cb(native, &SelectAlpn, const_cast<std::string*>(&s.alpn));
  }
  return ctx;
}

}  // namespace

Status CheckOpenSslBinding() {
  void* crypto = ::dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);
  if (crypto == nullptr) return Status::Invalid("libcrypto.so.3 is not loaded");
  Status st = Status::OK();
  for (const char* name : {"OPENSSL_init_crypto", "EVP_MD_fetch", "EVP_CIPHER_CTX_new", "EVP_DigestInit_ex",
                           "ERR_get_error", "BIO_new", "X509_new", "RAND_bytes", "CRYPTO_malloc"}) {
    void* global = ::dlsym(RTLD_DEFAULT, name);
    void* own = ::dlsym(crypto, name);
    if (global != own) {
      Dl_info info{};
      ::dladdr(global, &info);
      st = Status::Invalid("OpenSSL function ", name, " resolves to ",
                                      info.dli_fname ? info.dli_fname : "?",
                                      ", not the system libcrypto: libssl would mix two copies of libcrypto");
      break;
    }
  }
  ::dlclose(crypto);
  return st;
}

Result<std::shared_ptr<TlsConfig>> TlsConfig::Load(const TlsSettings& settings) {
  OTLAKE_RETURN_NOT_OK(CheckOpenSslBinding());
  std::shared_ptr<TlsConfig> config(new TlsConfig(settings));
  OTLAKE_RETURN_NOT_OK(config->Reload());
  return config;
}

std::shared_ptr<ssl::context> TlsConfig::Current() const {
  std::lock_guard lk(mu_);
  return current_;
}

Status TlsConfig::Reload() {
  auto ctx = MakeContext(settings_);
  if (!ctx.ok()) return ctx.status();
  std::lock_guard lk(mu_);
  current_ = std::move(*ctx);
  return Status::OK();
}

}  // namespace otlake::server
