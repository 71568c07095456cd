// The CLI's HTTP client for talking to a running otlake server (`otlake status`, `otlake
// sources`): one HTTP/1.0 request per connection, with a deadline, over plain TCP or TLS.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "otlake/cli/args.h"
#include "otlake/common/status.h"
#include "otlake/server/tls_client.h"

namespace otlake::cli {

/// enabled, ca_file / trust_exact_file (the running server's own certificate), client certificate.
using ClientTls = server::TlsClientSettings;

/// Sends `method path` with `headers` and `body` to host:port; the answer's status and body.
/// IOError naming host:port and the reason (connect, TLS handshake or certificate check, a
/// malformed answer, the deadline passed).
Status HttpCall(const std::string& host, int port, const ClientTls& tls, const std::string& method,
                const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers,
                const std::string& body, double timeout_s, int* status, std::string* out);

/// How to reach a running server, as its configs/server.json says.
struct RunningServer {
  std::string host;      ///< the address it listens on, as configured ("" when not recorded)
  int port = 0;
  bool tls = false;      ///< it serves TLS (--tls-cert)
  std::string tls_cert;  ///< its certificate file (trusted exactly by ClientTlsFor)
};

/// Reads a server.json at `path`; false when it is missing, unreadable or names no port.
bool ReadRunningServer(const std::string& path, RunningServer* out);

/// The TLS settings of a command that has the flags of TlsClientSpecs(): --tls-ca (or
/// OTLAKE_TLS_CA) turns TLS on and trusts that CA; otherwise TLS is on if the running server's
/// server.json says so (server_tls) and its certificate file is trusted. --tls-client-cert and
/// --tls-client-key (or OTLAKE_TLS_CLIENT_CERT / OTLAKE_TLS_CLIENT_KEY) add a client certificate.
ClientTls ClientTlsFor(const Args& a, bool server_tls, const std::string& server_cert_file);

/// --tls-ca, --tls-client-cert, --tls-client-key.
std::vector<OptionSpec> TlsClientSpecs();

}  // namespace otlake::cli
