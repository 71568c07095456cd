// SHA-256 (FIPS 180-4) and a constant-time comparison, for hashing API key secrets.
//
// Written here rather than linked: the pyarrow wheel's libparquet exports OpenSSL's symbols
// (toolchain.md §5), so a second OpenSSL in the process could interpose them. Tested against the
// FIPS 180-4 / NIST example vectors in auth_test.cc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace otlake::auth {

using Digest = std::array<uint8_t, 32>;

/// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  /// Appends `data` to the message.
  void Update(std::string_view data);
  /// Returns the digest of everything appended; the object must not be used afterwards.
  Digest Finish();

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

/// SHA-256 of `data`.
Digest Sha256Of(std::string_view data);

/// Lowercase hex of `bytes`.
std::string ToHex(const uint8_t* bytes, size_t n);
inline std::string ToHex(const Digest& d) { return ToHex(d.data(), d.size()); }

/// True if a and b are equal; the time taken depends only on the sizes, not on the contents.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

}  // namespace otlake::auth
