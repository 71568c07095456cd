#include "otlake/wal/fault_injection_env.h"

#include <string.h>

#include <utility>
#include <vector>

namespace otlake::wal {

class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultInjectionEnv* env, std::string path, std::unique_ptr<WritableFile> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}
  Status Append(std::string_view data) override { return env_->Append(path_, base_.get(), data); }
  Status Sync() override { return env_->Sync(path_, base_.get()); }
  Status Close() override { return base_->Close(); }

 private:
  FaultInjectionEnv* env_;  // outlives its files
  std::string path_;
  std::unique_ptr<WritableFile> base_;
};

int FaultInjectionEnv::TakeFault(int* err, int* times) {
  if (*err == 0 || *times == 0) return 0;
  if (*times > 0) --*times;
  return *err;
}

Status FaultInjectionEnv::Append(const std::string& path, WritableFile* file,
                                 std::string_view data) {
  int err;
  {
    std::lock_guard<std::mutex> lock(mu_);
    err = TakeFault(&append_err_, &append_times_);
  }
  if (err != 0) data = data.substr(0, data.size() / 2);  // a short write, then the error
  Status st = file->Append(data);
  std::lock_guard<std::mutex> lock(mu_);
  if (st.ok()) files_[path].size += static_cast<int64_t>(data.size());
  if (err != 0) return Status::IOError("write '", path, "': ", strerror(err), " (injected)");
  return st;
}

Status FaultInjectionEnv::Sync(const std::string& path, WritableFile* file) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (const int err = TakeFault(&sync_err_, &sync_times_); err != 0) {
      return Status::IOError("fdatasync '", path, "': ", strerror(err), " (injected)");
    }
  }
  // Size before the sync: an Append racing with Sync is not a WAL pattern (one writer per file).
  int64_t size;
  bool reused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size = files_[path].size;
    reused = files_[path].reused;
  }
  OTLAKE_RETURN_NOT_OK(file->Sync());
  std::string image;
  if (reused) {
    OTLAKE_ASSIGN_OR_RAISE(image, base_->ReadFile(path));
  }
  std::lock_guard<std::mutex> lock(mu_);
  FileState& state = files_[path];
  state.synced_size = size;
  if (reused) state.durable_image = std::move(image);
  ++syncs_;
  return Status::OK();
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::ReuseWritableFile(const std::string& from,
                                                                            const std::string& to) {
  OTLAKE_ASSIGN_OR_RAISE(std::string image, base_->ReadFile(from));
  OTLAKE_ASSIGN_OR_RAISE(auto file, base_->ReuseWritableFile(from, to));
  std::lock_guard<std::mutex> lock(mu_);
  NoteRenameLocked(from, to);
  FileState& state = files_[to];
  state.size = state.synced_size = 0;
  state.reused = true;
  state.durable_image = std::move(image);
  return std::unique_ptr<WritableFile>(std::make_unique<FaultFile>(this, to, std::move(file)));
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  OTLAKE_RETURN_NOT_OK(base_->RenameFile(from, to));
  std::lock_guard<std::mutex> lock(mu_);
  NoteRenameLocked(from, to);
  return Status::OK();
}

void FaultInjectionEnv::NoteRenameLocked(const std::string& from, const std::string& to) {
  FileState state;
  if (auto it = files_.find(from); it != files_.end()) {
    state = std::move(it->second);
    files_.erase(it);
  } else {
    state.dir_entry_unsynced = false;  // not written through us: its old name was durable
  }
  if (!state.dir_entry_unsynced) {
    // A power cut before the next SyncDir may undo the rename.
    state.dir_entry_unsynced = true;
    state.renamed_from = from;
  }  // else: never durable under any name; a power cut deletes it
  files_[to] = std::move(state);
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(const std::string& path) {
  OTLAKE_ASSIGN_OR_RAISE(auto file, base_->NewWritableFile(path));
  std::lock_guard<std::mutex> lock(mu_);
  FileState state;
  state.dir_entry_unsynced = true;
  files_[path] = std::move(state);
  return std::unique_ptr<WritableFile>(std::make_unique<FaultFile>(this, path, std::move(file)));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewAppendableFile(
    const std::string& path) {
  const bool existed = base_->FileSize(path).ok();
  OTLAKE_ASSIGN_OR_RAISE(auto file, base_->NewAppendableFile(path));
  OTLAKE_ASSIGN_OR_RAISE(int64_t size, base_->FileSize(path));
  std::lock_guard<std::mutex> lock(mu_);
  FileState state;
  state.size = state.synced_size = size;
  state.dir_entry_unsynced = !existed;
  auto [it, inserted] = files_.try_emplace(path, std::move(state));
  if (!inserted) it->second.size = size;  // keep what we knew about its synced prefix
  return std::unique_ptr<WritableFile>(std::make_unique<FaultFile>(this, path, std::move(file)));
}

Status FaultInjectionEnv::DeleteFile(const std::string& path) {
  OTLAKE_RETURN_NOT_OK(base_->DeleteFile(path));
  std::lock_guard<std::mutex> lock(mu_);
  files_.erase(path);
  return Status::OK();
}

Status FaultInjectionEnv::Truncate(const std::string& path, int64_t size) {
  OTLAKE_RETURN_NOT_OK(base_->Truncate(path, size));
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = files_.find(path); it != files_.end()) {
    it->second.size = size;
    it->second.synced_size = size;
  }
  return Status::OK();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (const int err = TakeFault(&sync_err_, &sync_times_); err != 0) {
      return Status::IOError("fsync dir '", dir, "': ", strerror(err), " (injected)");
    }
  }
  OTLAKE_RETURN_NOT_OK(base_->SyncDir(dir));
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [path, state] : files_) {
    if (DirName(path) == dir) {
      state.dir_entry_unsynced = false;
      state.renamed_from.clear();
    }
  }
  return Status::OK();
}

Status FaultInjectionEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  Status result;
  std::vector<std::pair<std::string, std::string>> renamed_back;  // (tracked as, now named)
  for (auto it = files_.begin(); it != files_.end();) {
    FileState& s = it->second;
    std::string path = it->first;
    if (s.dir_entry_unsynced && s.renamed_from.empty()) {
      Status st = base_->DeleteFile(path);
      if (!st.ok() && result.ok()) result = st;
      it = files_.erase(it);
      continue;
    }
    if (s.dir_entry_unsynced) {  // an unsynced rename: the old name comes back
      Status st = base_->RenameFile(path, s.renamed_from);
      if (!st.ok() && result.ok()) result = st;
      path = s.renamed_from;
      renamed_back.emplace_back(it->first, path);
    }
    if (s.reused && s.size != s.synced_size) {
      // Overwritten in place: the unsynced writes are lost, the old bytes come back.
      Status st = RewriteLocked(path, s.durable_image);
      if (!st.ok() && result.ok()) result = st;
      s.size = s.synced_size;
    } else if (s.size != s.synced_size) {
      Status st = base_->Truncate(path, s.synced_size);
      if (!st.ok() && result.ok()) result = st;
      s.size = s.synced_size;
    }
    ++it;
  }
  for (const auto& [tracked, now] : renamed_back) {
    FileState state = std::move(files_[tracked]);
    files_.erase(tracked);
    state.dir_entry_unsynced = false;
    state.renamed_from.clear();
    files_[now] = std::move(state);
  }
  return result;
}

Status FaultInjectionEnv::RewriteLocked(const std::string& path, std::string_view bytes) {
  OTLAKE_ASSIGN_OR_RAISE(auto file, base_->NewWritableFile(path));
  OTLAKE_RETURN_NOT_OK(file->Append(bytes));
  OTLAKE_RETURN_NOT_OK(file->Sync());
  return file->Close();
}

void FaultInjectionEnv::SetFailSync(int err, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  sync_err_ = err;
  sync_times_ = times;
}

void FaultInjectionEnv::SetFailAppend(int err, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  append_err_ = err;
  append_times_ = times;
}

void FaultInjectionEnv::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  sync_err_ = sync_times_ = append_err_ = append_times_ = 0;
}

int64_t FaultInjectionEnv::syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return syncs_;
}

}  // namespace otlake::wal
