// TLS for otlake's listeners with the system's OpenSSL (libssl3): certificate and key from PEM
// files, optional client-certificate verification (mutual TLS), TLS 1.2 and newer only, ALPN.
//
// Reload: TlsConfig::Reload() reads the files again and, if they load, makes the new context the
// one new connections get; connections already open keep theirs (nothing is dropped). A reload
// that fails keeps the old context and returns the error.
//
// The Arrow wheel's libparquet carries its own libcrypto and exports its symbols unversioned;
// otlake links libssl and libcrypto ahead of it so every libcrypto call in the process -- libssl's
// included -- binds to the system's copy. CheckOpenSslBinding() verifies that at run time and
// TlsConfig::Load() refuses to serve TLS if it does not hold.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "otlake/common/status.h"

namespace boost::asio::ssl {
class context;
}

namespace otlake::server {

struct TlsSettings {
  std::string cert_path;       ///< PEM certificate chain (leaf first)
  std::string key_path;        ///< PEM private key of the leaf certificate
  std::string client_ca_path;  ///< PEM CA bundle: if set, clients must present a certificate it signed
  std::string alpn;            ///< protocol offered in ALPN ("h2" for gRPC, "http/1.1"); "" for none

  bool enabled() const { return !cert_path.empty() || !key_path.empty(); }
};

class TlsConfig {
 public:
  /// Loads the files; Invalid naming the file and OpenSSL's reason when one cannot be used
  /// (missing, unreadable, not PEM, key not matching the certificate).
  static Result<std::shared_ptr<TlsConfig>> Load(const TlsSettings& settings);

  /// The context for a new connection.
  std::shared_ptr<boost::asio::ssl::context> Current() const;

  /// Reads the files again; on success new connections use them.
  Status Reload();

  const TlsSettings& settings() const { return settings_; }

 private:
  explicit TlsConfig(TlsSettings settings) : settings_(std::move(settings)) {}
  const TlsSettings settings_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;  // guarded by mu_
};

/// OK if the libcrypto functions libssl calls resolve to the libcrypto libssl was built against
/// (not to a copy another library exports); Invalid naming the library otherwise.
Status CheckOpenSslBinding();

}  // namespace otlake::server
