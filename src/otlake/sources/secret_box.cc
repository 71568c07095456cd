#include "otlake/sources/secret_box.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "otlake/auth/sha256.h"

namespace otlake::sources {
namespace {

constexpr std::string_view kVersion = "v1";
constexpr size_t kNonceBytes = 16, kTagBytes = 32, kKeyBytes = 32;

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  size_t got = 0;
  if (fd >= 0) {
    while (got < n) {
      ssize_t r = ::read(fd, out.data() + got, n - got);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    ::close(fd);
  }
  if (got < n) {  // no /dev/urandom: std::random_device (also the OS source on Linux)
    std::random_device rd;
    for (size_t i = got; i < n; ++i) out[i] = static_cast<char>(rd());
  }
  return out;
}

std::string DigestString(const auth::Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

std::string Hmac(std::string_view key, std::string_view msg) {
  std::string k(key);
  if (k.size() > 64) k = DigestString(auth::Sha256Of(k));
  k.resize(64, '\0');
  std::string ipad(64, '\0'), opad(64, '\0');
  for (int i = 0; i < 64; ++i) {
    ipad[i] = static_cast<char>(k[i] ^ 0x36);
    opad[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  auth::Sha256 inner;
  inner.Update(ipad);
  inner.Update(msg);
  auth::Sha256 outer;
  outer.Update(opad);
  outer.Update(DigestString(inner.Finish()));
  return DigestString(outer.Finish());
}

void XorKeystream(std::string_view key, std::string_view nonce, std::string* data) {
  for (size_t block = 0; block * 32 < data->size(); ++block) {
    auth::Sha256 h;
    h.Update(key);
    h.Update(nonce);
    char ctr[8];
    for (int i = 0; i < 8; ++i) ctr[i] = static_cast<char>((block >> (56 - 8 * i)) & 0xff);
    h.Update(std::string_view(ctr, 8));
    const auth::Digest ks = h.Finish();
    for (size_t i = 0; i < 32 && block * 32 + i < data->size(); ++i) (*data)[block * 32 + i] ^= ks[i];
  }
}

std::string MacKey(std::string_view key) {
  return DigestString(auth::Sha256Of("mac" + std::string(key)));
}

}  // namespace

Result<SecretBox> SecretBox::OpenKeyFile(const std::string& key_path) {
  int fd = ::open(key_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    const std::string key = RandomBytes(kKeyBytes);
    const std::string tmp = key_path + ".tmp";
    int w = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w < 0) return Status::IOError("cannot create ", tmp, ": ", std::strerror(errno));
    const bool ok = ::write(w, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
                    ::fsync(w) == 0;
    ::close(w);
    if (!ok || ::rename(tmp.c_str(), key_path.c_str()) != 0) {
      return Status::IOError("cannot write ", key_path, ": ", std::strerror(errno));
    }
    fd = ::open(key_path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) return Status::IOError("cannot open ", key_path, ": ", std::strerror(errno));
  std::string key(kKeyBytes + 1, '\0');
  ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(kKeyBytes)) {
    return Status::Invalid(key_path, " is not a 32-byte source key (it holds ", n, " bytes)");
  }
  key.resize(kKeyBytes);
  ::chmod(key_path.c_str(), 0600);
  return SecretBox(std::move(key));
}

std::string SecretBox::Seal(std::string_view plain) const {
  const std::string nonce = RandomBytes(kNonceBytes);
  std::string out(kVersion);
  out += nonce;
  std::string ct(plain);
  XorKeystream(key_, nonce, &ct);
  out += ct;
  out += Hmac(MacKey(key_), out);
  return out;
}

Result<std::string> SecretBox::Open(std::string_view sealed) const {
  if (sealed.size() < kVersion.size() + kNonceBytes + kTagBytes ||
      sealed.substr(0, kVersion.size()) != kVersion) {
    return Status::Invalid("sealed secret is malformed");
  }
  const std::string_view body = sealed.substr(0, sealed.size() - kTagBytes);
  const std::string_view tag = sealed.substr(sealed.size() - kTagBytes);
  if (!auth::ConstantTimeEqual(Hmac(MacKey(key_), body), tag)) {
    return Status::Invalid("sealed secret does not match the key in configs/sources.key");
  }
  const std::string_view nonce = body.substr(kVersion.size(), kNonceBytes);
  std::string plain(body.substr(kVersion.size() + kNonceBytes));
  XorKeystream(key_, nonce, &plain);
  return plain;
}

}  // namespace otlake::sources
