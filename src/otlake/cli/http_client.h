// The CLI's HTTP client for talking to a running otlake server (`otlake status`, `otlake
// sources`): one HTTP/1.0 request per connection, with a deadline, over plain TCP or TLS.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "otlake/cli/args.h"
#include "otlake/common/status.h"

namespace otlake::cli {

struct ClientTls {
  bool enabled = false;
  /// Trust these CAs (PEM bundle) and check that the certificate names the host connected to.
  std::string ca_file;
  /// Or trust exactly the certificates in this file (the running server's own --tls-cert, read
  /// from its server.json): the file itself identifies the server, so no host name check.
  std::string server_cert_file;
  /// A client certificate and its key (PEM), for a server started with --tls-client-ca.
  std::string cert_file, key_file;
};

/// Sends `method path` with `headers` and `body` to host:port; the answer's status and body.
/// IOError naming host:port and the reason (connect, TLS handshake or certificate check, a
/// malformed answer, the deadline passed).
Status HttpCall(const std::string& host, int port, const ClientTls& tls, const std::string& method,
                const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers,
                const std::string& body, double timeout_s, int* status, std::string* out);

/// The TLS settings of a command that has the flags of TlsClientSpecs(): --tls-ca (or
/// OTLAKE_TLS_CA) turns TLS on and trusts that CA; otherwise TLS is on if the running server's
/// server.json says so (server_tls) and its certificate file is trusted. --tls-client-cert and
/// --tls-client-key (or OTLAKE_TLS_CLIENT_CERT / OTLAKE_TLS_CLIENT_KEY) add a client certificate.
ClientTls ClientTlsFor(const Args& a, bool server_tls, const std::string& server_cert_file);

/// --tls-ca, --tls-client-cert, --tls-client-key.
std::vector<OptionSpec> TlsClientSpecs();

}  // namespace otlake::cli
