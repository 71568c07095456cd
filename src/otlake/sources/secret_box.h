// SecretBox: keeps a source's credentials (access key id, secret access key, external id) out of
// sources.sqlite in the clear. docs/sources.md ("How secrets are kept") is the contract.
//
// The per-instance key is 32 random bytes in configs/sources.key (0600, created on first use).
// Seal(plain) = "v1" || nonce(16 random bytes) || ciphertext || tag(32), where
//   keystream block i = SHA-256(key || nonce || be64(i))     (SHA-256 in counter mode)
//   ciphertext        = plain XOR keystream
//   tag               = HMAC-SHA-256(key', "v1" || nonce || ciphertext), key' = SHA-256("mac"||key)
// Open() checks the tag in constant time before decrypting; a wrong key or a changed byte is
// Invalid. This is a stream cipher built from a hash, not a vetted AEAD: it keeps the state file
// alone from revealing secrets (backups, copies), not someone who also holds the key file.
#pragma once

#include <string>
#include <string_view>

#include "otlake/common/status.h"

namespace otlake::sources {

class SecretBox {
 public:
  /// Reads the key at `key_path`, creating it (0600, random) if it does not exist.
  static Result<SecretBox> OpenKeyFile(const std::string& key_path);
  /// A box over an explicit 32-byte key (tests).
  explicit SecretBox(std::string key) : key_(std::move(key)) {}

  /// Encrypts and authenticates `plain`.
  std::string Seal(std::string_view plain) const;
  /// Checks and decrypts a Seal() result; Invalid if it was not sealed with this key or changed.
  Result<std::string> Open(std::string_view sealed) const;

 private:
  std::string key_;
};

}  // namespace otlake::sources
