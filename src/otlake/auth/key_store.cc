#include "otlake/auth/key_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "otlake/auth/sha256.h"
#include "otlake/common/log.h"
#include "otlake/common/sqlite_stmt.h"
#include "otlake/common/time_util.h"

namespace otlake::auth {
namespace {

constexpr std::string_view kPrefix = "otlk_";
constexpr size_t kIdHex = 12;
constexpr size_t kSecretHex = 40;

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status SqlError(sqlite3* db, const std::string& path, const char* what) {
  return Status::IOError("key store ", path, ": ", what, ": ", sqlite3_errmsg(db));
}

constexpr const char* kColumns = "id, name, scope, project, created_ms, last_used_ms, revoked_ms";

KeyInfo ReadInfo(Stmt& s) {
  KeyInfo k;
  k.id = s.ColText(0);
  k.name = s.ColText(1);
  (void)ParseScope(s.ColText(2), &k.scope);
  k.project = s.ColText(3);
  k.created_ms = s.ColInt(4);
  k.last_used_ms = s.ColInt(5);
  k.revoked_ms = s.ColInt(6);
  return k;
}

}  // namespace

std::string KeyStorePath(const std::string& instance_root) {
  return instance_root + "/configs/keys.sqlite";
}

bool ParseToken(std::string_view token, std::string_view* id, std::string_view* secret) {
  if (token.size() != kPrefix.size() + kIdHex + 1 + kSecretHex) return false;
  if (token.substr(0, kPrefix.size()) != kPrefix || token[kPrefix.size() + kIdHex] != '_') return false;
  *id = token.substr(kPrefix.size(), kIdHex);
  *secret = token.substr(kPrefix.size() + kIdHex + 1);
  return IsLowerHex(*id) && IsLowerHex(*secret);
}

std::string HashSecret(std::string_view salt, std::string_view secret) {
  Sha256 h;
  h.Update(salt);
  h.Update(secret);
  const Digest d = h.Finish();
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::getrandom(out.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("getrandom: ", std::strerror(errno));
    }
    got += static_cast<size_t>(r);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// KeyStore

Result<std::unique_ptr<KeyStore>> KeyStore::Open(const std::string& path, bool create) {
  if (create) {
    // Create the file 0600 before SQLite does (it would use 0644 less the umask); SQLite gives
    // the -wal and -shm files the database file's mode.
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IOError("cannot create key store ", path, ": ", std::strerror(errno));
    (void)::fchmod(fd, 0600);
    ::close(fd);
  } else if (::access(path.c_str(), F_OK) != 0) {
    return Status::KeyError("no key store at ", path);
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status st = Status::IOError("cannot open key store ", path, ": ",
                                db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return st;
  }
  std::unique_ptr<KeyStore> store(new KeyStore(db, path));
  sqlite3_busy_timeout(db, 5000);
  OTLAKE_RETURN_NOT_OK(store->Exec("PRAGMA journal_mode=WAL"));
  OTLAKE_RETURN_NOT_OK(store->Exec("PRAGMA synchronous=FULL"));
  OTLAKE_RETURN_NOT_OK(store->Exec(
      "CREATE TABLE IF NOT EXISTS keys ("
      " id TEXT PRIMARY KEY,"
      " name TEXT NOT NULL DEFAULT '',"
      " scope TEXT NOT NULL,"
      " project TEXT NOT NULL DEFAULT '',"
      " salt BLOB NOT NULL,"
      " hash BLOB NOT NULL,"
      " created_ms INTEGER NOT NULL,"
      " last_used_ms INTEGER NOT NULL DEFAULT 0,"
      " revoked_ms INTEGER NOT NULL DEFAULT 0)"));
  return store;
}

KeyStore::~KeyStore() { sqlite3_close(db_); }

Status KeyStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Status st = Status::IOError("key store ", path_, ": ", err ? err : "error", " (", sql, ")");
    sqlite3_free(err);
    return st;
  }
  return Status::OK();
}

Result<NewKey> KeyStore::Create(Scope scope, const std::string& project, const std::string& name,
                                int64_t now_ms) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    OTLAKE_ASSIGN_OR_RAISE(std::string id_bytes, RandomBytes(kIdHex / 2));
    OTLAKE_ASSIGN_OR_RAISE(std::string secret_bytes, RandomBytes(kSecretHex / 2));
    OTLAKE_ASSIGN_OR_RAISE(std::string salt, RandomBytes(16));
    NewKey k;
    k.info.id = ToHex(reinterpret_cast<const uint8_t*>(id_bytes.data()), id_bytes.size());
    const std::string secret =
        ToHex(reinterpret_cast<const uint8_t*>(secret_bytes.data()), secret_bytes.size());
    k.info.name = name;
    k.info.scope = scope;
    k.info.project = project;
    k.info.created_ms = now_ms;
    Stmt s(db_, "INSERT INTO keys (id, name, scope, project, salt, hash, created_ms) VALUES (?,?,?,?,?,?,?)");
    if (!s.ok()) return SqlError(db_, path_, "prepare insert");
    s.Text(1, k.info.id);
    s.Text(2, name);
    s.Text(3, ScopeName(scope));
    s.Text(4, project);
    s.Blob(5, salt);
    s.Blob(6, HashSecret(salt, secret));
    s.Int(7, now_ms);
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_CONSTRAINT) continue;  // id taken (48 random bits): draw again
    if (rc != SQLITE_DONE) return SqlError(db_, path_, "insert");
    k.token = std::string(kPrefix) + k.info.id + "_" + secret;
    return k;
  }
  return Status::IOError("key store ", path_, ": could not find a free key id");
}

Result<std::vector<KeyInfo>> KeyStore::List() {
  Stmt s(db_, (std::string("SELECT ") + kColumns + " FROM keys ORDER BY created_ms, id").c_str());
  if (!s.ok()) return SqlError(db_, path_, "prepare list");
  std::vector<KeyInfo> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(ReadInfo(s));
  if (rc != SQLITE_DONE) return SqlError(db_, path_, "list");
  return out;
}

Result<std::vector<StoredKey>> KeyStore::LoadAll() {
  Stmt s(db_, (std::string("SELECT ") + kColumns + ", salt, hash FROM keys").c_str());
  if (!s.ok()) return SqlError(db_, path_, "prepare load");
  std::vector<StoredKey> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    StoredKey k;
    k.info = ReadInfo(s);
    k.salt = s.ColBlob(7);
    k.hash = s.ColBlob(8);
    out.push_back(std::move(k));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, path_, "load");
  return out;
}

Result<KeyInfo> KeyStore::Revoke(const std::string& id, int64_t now_ms) {
  {
    Stmt u(db_, "UPDATE keys SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0");
    if (!u.ok()) return SqlError(db_, path_, "prepare revoke");
    u.Int(1, now_ms);
    u.Text(2, id);
    if (sqlite3_step(u.get()) != SQLITE_DONE) return SqlError(db_, path_, "revoke");
  }
  Stmt s(db_, (std::string("SELECT ") + kColumns + " FROM keys WHERE id = ?").c_str());
  if (!s.ok()) return SqlError(db_, path_, "prepare select");
  s.Text(1, id);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return Status::KeyError("no key with id '", id, "'");
  if (rc != SQLITE_ROW) return SqlError(db_, path_, "select");
  return ReadInfo(s);
}

Status KeyStore::RecordLastUsed(const std::vector<std::pair<std::string, int64_t>>& used) {
  if (used.empty()) return Status::OK();
  OTLAKE_RETURN_NOT_OK(Exec("BEGIN IMMEDIATE"));
  Stmt s(db_, "UPDATE keys SET last_used_ms = ? WHERE id = ? AND last_used_ms < ?");
  if (!s.ok()) {
    (void)Exec("ROLLBACK");
    return SqlError(db_, path_, "prepare last used");
  }
  for (const auto& [id, ms] : used) {
    sqlite3_reset(s.get());
    s.Int(1, ms);
    s.Text(2, id);
    s.Int(3, ms);
    if (sqlite3_step(s.get()) != SQLITE_DONE) {
      Status st = SqlError(db_, path_, "update last used");
      (void)Exec("ROLLBACK");
      return st;
    }
  }
  return Exec("COMMIT");
}

Result<int64_t> KeyStore::DataVersion() {
  Stmt s(db_, "PRAGMA data_version");
  if (!s.ok() || sqlite3_step(s.get()) != SQLITE_ROW) return SqlError(db_, path_, "data_version");
  return s.ColInt(0);
}

// ---------------------------------------------------------------------------------------------
// KeyCache

KeyCache::KeyCache(std::string store_path, KeyCacheOptions options)
    : path_(std::move(store_path)),
      options_(std::move(options)),
      snap_(std::make_shared<const Snapshot>()) {}

KeyCache::~KeyCache() {
  {
    std::lock_guard lk(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lk(refresh_mu_);
  if (store_) (void)FlushLastUsed(*snapshot());
}

int64_t KeyCache::Now() const { return options_.now_ms ? options_.now_ms() : NowUnixMillis(); }

std::shared_ptr<const KeyCache::Snapshot> KeyCache::snapshot() const {
  std::lock_guard lk(snap_mu_);
  return snap_;
}

size_t KeyCache::size() const { return snapshot()->size(); }

Status KeyCache::FlushLastUsed(const Snapshot& snap) {
  std::vector<std::pair<std::string, int64_t>> used;
  for (const auto& [id, e] : snap) {
    const int64_t t = e->last_used.load(std::memory_order_relaxed);
    if (t > e->stored_last_used) used.emplace_back(id, t);
  }
  OTLAKE_RETURN_NOT_OK(store_->RecordLastUsed(used));
  for (const auto& [id, t] : used) snap.at(id)->stored_last_used = t;  // refresh_mu_ held
  return Status::OK();
}

Status KeyCache::Refresh() {
  std::lock_guard lk(refresh_mu_);
  if (!store_) {
    if (::access(path_.c_str(), F_OK) != 0) return Status::OK();  // no keys yet
    OTLAKE_ASSIGN_OR_RAISE(store_, KeyStore::Open(path_, /*create=*/false));
  }
  std::shared_ptr<const Snapshot> old = snapshot();
  const int64_t now = Now();
  if (now - last_flush_ms_ >= options_.last_used_flush_ms) {
    last_flush_ms_ = now;
    OTLAKE_RETURN_NOT_OK(FlushLastUsed(*old));
  }
  OTLAKE_ASSIGN_OR_RAISE(const int64_t version, store_->DataVersion());
  if (version == data_version_) return Status::OK();
  OTLAKE_ASSIGN_OR_RAISE(std::vector<StoredKey> keys, store_->LoadAll());
  auto snap = std::make_shared<Snapshot>();
  for (StoredKey& k : keys) {
    auto e = std::make_shared<Entry>();
    e->principal = {k.info.id, k.info.scope, k.info.project};
    e->salt = std::move(k.salt);
    e->hash = std::move(k.hash);
    e->revoked = k.info.revoked_ms != 0;
    e->stored_last_used = k.info.last_used_ms;
    int64_t used = k.info.last_used_ms;
    if (auto it = old->find(k.info.id); it != old->end()) {
      used = std::max(used, it->second->last_used.load(std::memory_order_relaxed));
      e->stored_last_used = std::max(e->stored_last_used, it->second->stored_last_used);
    }
    e->last_used.store(used, std::memory_order_relaxed);
    (*snap)[k.info.id] = std::move(e);
  }
  {
    std::lock_guard sl(snap_mu_);
    snap_ = std::move(snap);
  }
  data_version_ = version;
  ++reloads_;
  return Status::OK();
}

void KeyCache::StartRefresher() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    for (;;) {
      Status st = Refresh();
      if (!st.ok()) {
        std::lock_guard lk(refresh_mu_);
        if (st.message() != last_error_) {
          last_error_ = st.message();
          OTLAKE_LOG(ERROR) << "API keys: cannot refresh (keeping the keys loaded before): " << last_error_;
        }
      }
      std::unique_lock lk(stop_mu_);
      if (stop_cv_.wait_for(lk, std::chrono::milliseconds(options_.refresh_interval_ms),
                            [this] { return stopping_; })) {
        return;
      }
    }
  });
}

AuthResult KeyCache::Authenticate(std::string_view header) const {
  AuthResult r;
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  if (header.empty()) {
    r.failure = AuthFailure::kMissing;
    r.message = "an API key is required: send 'Authorization: Bearer <key>'";
    return r;
  }
  constexpr std::string_view kBearer = "bearer ";
  bool bearer = header.size() > kBearer.size();
  for (size_t i = 0; bearer && i < kBearer.size(); ++i) {
    bearer = std::tolower(static_cast<unsigned char>(header[i])) == kBearer[i];
  }
  if (!bearer) {
    r.failure = AuthFailure::kMalformedHeader;
    r.message = "malformed Authorization header: expected 'Bearer <key>'";
    return r;
  }
  std::string_view token = header.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  std::string_view id, secret;
  if (!ParseToken(token, &id, &secret)) {
    r.failure = AuthFailure::kMalformedKey;
    r.message = "malformed API key: expected otlk_<12 hex>_<40 hex> (as printed by 'otlake keys create')";
    return r;
  }
  std::shared_ptr<const Snapshot> snap = snapshot();
  auto it = snap->find(id);
  // An unknown id and a wrong secret get the same answer; the hash is computed either way.
  static const std::string kNoSalt(16, '\0');
  const Entry* e = it != snap->end() ? it->second.get() : nullptr;
  const std::string hash = HashSecret(e ? e->salt : kNoSalt, secret);
  if (e == nullptr || !ConstantTimeEqual(hash, e->hash)) {
    r.failure = AuthFailure::kInvalid;
    r.message = "invalid API key (unknown or wrong secret)";
    return r;
  }
  if (e->revoked) {
    r.failure = AuthFailure::kRevoked;
    r.message = "API key " + e->principal.id + " has been revoked";
    return r;
  }
  const int64_t now = Now();
  if (now - e->last_used.load(std::memory_order_relaxed) >= 1000) {
    e->last_used.store(now, std::memory_order_relaxed);
  }
  r.principal = e->principal;
  return r;
}

}  // namespace otlake::auth
