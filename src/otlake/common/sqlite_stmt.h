// SQLite statements for the small state stores (auth keys, ingestion sources, the replay ledger).
//
// Stmt is one use of a statement: bind, step, read columns. It either prepares the SQL for this
// use only (finalized when it goes) or borrows the statement a StmtCache keeps for that SQL
// text (prepared once; reset and unbound when the Stmt goes), which spares the parse of
// statements run per object or per file. Neither is thread-safe: the stores call them under
// their own mutex. A Stmt asking for a cached statement that another live Stmt is using gets a
// statement of its own for that use.
//
// Header-only: its users link SQLite themselves (common/ does not).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace otlake {

/// Prepared statements of one connection by SQL text, kept until the cache goes (destroy it
/// before closing the connection).
class StmtCache {
 public:
  explicit StmtCache(sqlite3* db) : db_(db) {}
  ~StmtCache() {
    for (auto& [sql, e] : stmts_) sqlite3_finalize(e.stmt);
  }
  StmtCache(const StmtCache&) = delete;
  StmtCache& operator=(const StmtCache&) = delete;

  sqlite3* db() const { return db_; }

 private:
  friend class Stmt;
  struct Entry {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  // The entry for `sql`, its statement prepared on first use; nullptr (and *rc the error) if it
  // does not prepare.
  Entry* Get(std::string_view sql, int* rc) {
    *rc = SQLITE_OK;
    auto it = stmts_.find(std::string(sql));
    if (it != stmts_.end()) return &it->second;
    sqlite3_stmt* s = nullptr;
    *rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (*rc != SQLITE_OK) {
      sqlite3_finalize(s);
      return nullptr;
    }
    return &stmts_.emplace(std::string(sql), Entry{s, false}).first->second;
  }

  sqlite3* db_;
  std::unordered_map<std::string, Entry> stmts_;  // node-based: entries stay where they are
};

class Stmt {
 public:
  /// Prepares `sql` for this use only.
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  /// Borrows the statement `cache` keeps for `sql`.
  Stmt(StmtCache& cache, std::string_view sql) {
    StmtCache::Entry* e = cache.Get(sql, &rc_);
    if (e == nullptr) return;
    if (e->in_use) {  // nested use of the same SQL: a statement of its own
      rc_ = sqlite3_prepare_v2(cache.db(), sql.data(), static_cast<int>(sql.size()), &s_, nullptr);
      return;
    }
    e->in_use = true;
    entry_ = e;
    s_ = e->stmt;
  }
  ~Stmt() {
    if (entry_ != nullptr) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
      entry_->in_use = false;
    } else {
      sqlite3_finalize(s_);  // a no-op for nullptr
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK && s_ != nullptr; }
  sqlite3_stmt* get() { return s_; }
  void Text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  int Step() { return sqlite3_step(s_); }
  std::string ColText(int i) {
    const unsigned char* t = sqlite3_column_text(s_, i);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s_, i)) : "";
  }
  std::string ColBlob(int i) {
    const void* b = sqlite3_column_blob(s_, i);
    return b ? std::string(static_cast<const char*>(b), sqlite3_column_bytes(s_, i)) : "";
  }
  int64_t ColInt(int i) { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_OK;
  StmtCache::Entry* entry_ = nullptr;  // set while borrowing a cached statement
};

}  // namespace otlake
