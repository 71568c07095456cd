// The client side of TLS for otlake's own HTTP clients (the CLI's calls to a running server,
// `otlake replay --to-otlp https://…`): one TLS connection over a connected socket, with the
// system's OpenSSL, TLS 1.2 and newer, the peer's certificate verified.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "otlake/common/status.h"

namespace otlake::server {

struct TlsClientSettings {
  bool enabled = false;
  /// Trust these CAs (PEM bundle) and check that the certificate names the host. Empty (and no
  /// trust_exact_file): the system's CA store, with the host name checked.
  std::string ca_file;
  /// Or trust exactly the certificates in this file (a local otlake's own --tls-cert): the file
  /// itself identifies the server, so no host name check.
  std::string trust_exact_file;
  /// A client certificate and its key (PEM), for a server that asks for one (mutual TLS).
  std::string cert_file, key_file;
};

class TlsClient {
 public:
  /// Runs the handshake on `fd` (connected, blocking; its SO_RCVTIMEO/SO_SNDTIMEO bound each
  /// step). IOError naming host:port and why: an untrusted certificate (with the file trusted), a
  /// refused handshake, an unreadable file. `fd` stays the caller's.
  static Result<std::unique_ptr<TlsClient>> Connect(int fd, const std::string& host, int port,
                                                    const TlsClientSettings& settings);
  ~TlsClient();

  bool WriteAll(std::string_view data);
  /// Bytes read (> 0); 0 when the peer closed (close_notify, or EOF after it); -1 on an error
  /// or timeout, described by error().
  int Read(char* buf, int size);
  const std::string& error() const { return error_; }

 private:
  struct Impl;
  explicit TlsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string error_;
};

}  // namespace otlake::server
