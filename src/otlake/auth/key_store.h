// API keys: the SQLite key store shared by `otlake keys` and the server, and the server's
// in-memory cache that authenticates a request's key in microseconds.
//
// A key is `otlk_<id>_<secret>`: <id> 12 hex characters (48 random bits, shown by `keys list`),
// <secret> 40 hex characters (160 bits from getrandom). It is shown once, by Create. The store
// keeps only a per-key 16-byte random salt and SHA-256(salt || secret); a check recomputes that and
// compares in constant time. The secret has 160 bits of entropy, so a fast hash suffices (no
// password stretching: nothing can be guessed). docs/auth.md is the user-facing contract.
//
// Store: <instance>/configs/keys.sqlite, WAL mode, created 0600 (SQLite gives its -wal and -shm
// files the same mode). Several processes may open it at once (the CLI while the server runs).
//
// Cache: loads every key into memory; Refresh() reloads when `PRAGMA data_version` says another
// connection committed (a key created or revoked by the CLI), and writes back the approximate
// "last used" times at most every `last_used_flush_ms`. StartRefresher runs Refresh on its own
// thread every `interval_ms`, so requests never touch SQLite and a revoked key stops working
// within about one interval. Authenticate is thread-safe and lock-free apart from one short
// mutex to copy the snapshot pointer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "otlake/auth/policy.h"
#include "otlake/common/status.h"

struct sqlite3;

namespace otlake::auth {

/// The store's file inside an instance: <instance_root>/configs/keys.sqlite.
std::string KeyStorePath(const std::string& instance_root);

/// What `keys list` shows of a key: never its secret or hash.
struct KeyInfo {
  std::string id;
  std::string name;
  Scope scope = Scope::kRead;
  std::string project;        ///< empty: every project
  int64_t created_ms = 0;
  int64_t last_used_ms = 0;   ///< 0: never (approximate: flushed by the server every few seconds)
  int64_t revoked_ms = 0;     ///< 0: active
};

/// A key as the cache needs it.
struct StoredKey {
  KeyInfo info;
  std::string salt;  ///< 16 bytes
  std::string hash;  ///< 32 bytes: SHA-256(salt || secret)
};

/// A freshly created key: `token` is the whole key, to be shown once and never stored.
struct NewKey {
  KeyInfo info;
  std::string token;
};

/// The parts of a token; false if `token` is not of the form otlk_<12 hex>_<40 hex>.
bool ParseToken(std::string_view token, std::string_view* id, std::string_view* secret);

/// SHA-256(salt || secret), 32 bytes.
std::string HashSecret(std::string_view salt, std::string_view secret);

/// `n` bytes from getrandom(2) (the kernel's CSPRNG).
Result<std::string> RandomBytes(size_t n);

class KeyStore {
 public:
  /// Opens the store at `path`; with `create`, creates it (0600) and its schema if missing,
  /// otherwise a missing file is NotFound (KeyError).
  static Result<std::unique_ptr<KeyStore>> Open(const std::string& path, bool create);
  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  /// Creates a key; the returned token is its only copy.
  Result<NewKey> Create(Scope scope, const std::string& project, const std::string& name, int64_t now_ms);
  /// Every key, oldest first.
  Result<std::vector<KeyInfo>> List();
  /// Every key with its salt and hash (for the cache).
  Result<std::vector<StoredKey>> LoadAll();
  /// Marks key `id` revoked (KeyError if there is none; a second revoke keeps the first time).
  Result<KeyInfo> Revoke(const std::string& id, int64_t now_ms);
  /// Raises last_used_ms of the given keys to the given times.
  Status RecordLastUsed(const std::vector<std::pair<std::string, int64_t>>& used);
  /// PRAGMA data_version: changes when another connection has committed.
  Result<int64_t> DataVersion();

 private:
  KeyStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status Exec(const char* sql);
  sqlite3* db_;
  std::string path_;
};

/// Why a request's key was not accepted.
enum class AuthFailure : uint8_t { kNone, kMissing, kMalformedHeader, kMalformedKey, kInvalid, kRevoked };

struct AuthResult {
  AuthFailure failure = AuthFailure::kNone;
  Principal principal;  ///< set when failure == kNone
  std::string message;  ///< set otherwise; never contains the key
  bool ok() const { return failure == AuthFailure::kNone; }
};

struct KeyCacheOptions {
  int refresh_interval_ms = 250;
  int64_t last_used_flush_ms = 10000;
  std::function<int64_t()> now_ms;  ///< unset: the wall clock
};

class KeyCache {
 public:
  /// The store need not exist yet: until it does, the cache holds no keys (Refresh opens it once
  /// it appears). Call Refresh() or StartRefresher() to load it.
  explicit KeyCache(std::string store_path, KeyCacheOptions options = {});
  ~KeyCache();

  /// Reloads the keys if the store changed since the last load, and writes back last-used times
  /// when due. Thread-safe (serialised).
  Status Refresh();
  /// Runs Refresh every refresh_interval_ms on a thread until destruction. Errors are logged
  /// once per distinct message; the last good snapshot stays in use.
  void StartRefresher();

  /// Authenticates the value of an Authorization header ("" when absent).
  AuthResult Authenticate(std::string_view authorization) const;

  /// Keys loaded (active and revoked).
  size_t size() const;
  /// How many reloads happened (tests).
  int64_t reloads() const { return reloads_.load(); }

 private:
  struct Entry {
    Principal principal;
    std::string salt, hash;
    bool revoked = false;
    int64_t stored_last_used = 0;
    mutable std::atomic<int64_t> last_used{0};
  };
  using Snapshot = std::map<std::string, std::shared_ptr<Entry>, std::less<>>;

  std::shared_ptr<const Snapshot> snapshot() const;
  int64_t Now() const;
  Status FlushLastUsed(const Snapshot& snap);

  const std::string path_;
  const KeyCacheOptions options_;

  mutable std::mutex snap_mu_;
  std::shared_ptr<const Snapshot> snap_;  // guarded by snap_mu_

  std::mutex refresh_mu_;                 // serialises Refresh
  std::unique_ptr<KeyStore> store_;       // guarded by refresh_mu_
  int64_t data_version_ = -1;             // guarded by refresh_mu_
  int64_t last_flush_ms_ = 0;             // guarded by refresh_mu_
  std::string last_error_;                // guarded by refresh_mu_
  std::atomic<int64_t> reloads_{0};

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mu_
  std::thread thread_;
};

}  // namespace otlake::auth
