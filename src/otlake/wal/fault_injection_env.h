// FaultInjectionEnv: wraps an Env to simulate power cuts and failing disks (LevelDB's
// fault-injection pattern).
//
// Contract:
// - It remembers, for every file written through it, the size at its last successful Sync(),
//   and which files were created since their directory was last synced. DropUnsyncedData()
//   then does what a power cut may do: truncates every file to its last synced size and deletes
//   files whose directory entry was never synced. (Files written by someone else are untouched.)
//   A rename whose directory was not synced since is undone (the file gets its old name back),
//   and a file opened by ReuseWritableFile gets back the bytes it had at its last Sync (or at
//   reuse): its unsynced overwrites are lost, the old bytes behind them reappear.
// - SetFailSync(err, n) / SetFailAppend(err, n) make the next n (n < 0: all) Sync / Append calls
//   fail with IOError(strerror(err)). A failing Append first writes half of its bytes (a short
//   write, as a full disk can leave); a failing Sync leaves the data unsynced, so a later
//   DropUnsyncedData() loses it (what fsyncgate taught: a failed fsync may have dropped the pages).
// - Reset() clears the faults (not the tracking). Thread-safe; `base` must outlive this Env.
#pragma once

#include <map>
#include <string>
#include <mutex>

#include "otlake/wal/env.h"

namespace otlake::wal {

class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(Env* base) : base_(base) {}

  /// Simulates a power cut: unsynced bytes and un-dir-synced files are gone.
  Status DropUnsyncedData();
  /// Makes the next `times` syncs (times < 0: every sync until Reset) fail with `err`.
  void SetFailSync(int err, int times = -1);
  /// Makes the next `times` appends (times < 0: every append until Reset) fail with `err`.
  void SetFailAppend(int err, int times = -1);
  /// Clears the injected faults.
  void Reset();
  /// Number of successful syncs through this Env.
  int64_t syncs() const;

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> ReuseWritableFile(const std::string& from,
                                                          const std::string& to) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Result<std::string> ReadFile(const std::string& path) override { return base_->ReadFile(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  Status CreateDir(const std::string& dir) override { return base_->CreateDir(dir); }
  Status DeleteFile(const std::string& path) override;
  Result<int64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Status Truncate(const std::string& path, int64_t size) override;
  Status SyncDir(const std::string& dir) override;

 private:
  friend class FaultFile;
  struct FileState {
    int64_t size = 0;
    int64_t synced_size = 0;
    bool dir_entry_unsynced = false;  // created or renamed since the last SyncDir of its dir
    std::string renamed_from;         // with dir_entry_unsynced: the name a power cut restores
    bool reused = false;              // opened by ReuseWritableFile: overwritten in place
    std::string durable_image;        // reused: the whole file as of its last Sync (or reuse)
  };
  // Returns the errno to fail with (0: none) and consumes one injected failure.
  int TakeFault(int* err, int* times);
  Status Append(const std::string& path, WritableFile* file, std::string_view data);
  Status Sync(const std::string& path, WritableFile* file);
  // mu_ held: moves the tracking of `from` to `to` and marks the rename as not yet durable.
  void NoteRenameLocked(const std::string& from, const std::string& to);
  // mu_ held: replaces the contents of `path` with `bytes` (durably).
  Status RewriteLocked(const std::string& path, std::string_view bytes);

  Env* const base_;  // not owned; outlives this
  mutable std::mutex mu_;
  std::map<std::string, FileState> files_;  // guarded by mu_
  int sync_err_ = 0, sync_times_ = 0;       // guarded by mu_
  int append_err_ = 0, append_times_ = 0;   // guarded by mu_
  int64_t syncs_ = 0;                       // guarded by mu_
};

}  // namespace otlake::wal
