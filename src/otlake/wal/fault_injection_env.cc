#include "otlake/wal/fault_injection_env.h"

#include <string.h>

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
  {
    std::lock_guard<std::mutex> lock(mu_);
    size = files_[path].size;
  }
  OTLAKE_RETURN_NOT_OK(file->Sync());
  std::lock_guard<std::mutex> lock(mu_);
  files_[path].synced_size = size;
  ++syncs_;
  return Status::OK();
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(const std::string& path) {
  OTLAKE_ASSIGN_OR_RAISE(auto file, base_->NewWritableFile(path));
  std::lock_guard<std::mutex> lock(mu_);
  files_[path] = FileState{0, 0, true};
  return std::unique_ptr<WritableFile>(std::make_unique<FaultFile>(this, path, std::move(file)));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewAppendableFile(
    const std::string& path) {
  const bool existed = base_->FileSize(path).ok();
  OTLAKE_ASSIGN_OR_RAISE(auto file, base_->NewAppendableFile(path));
  OTLAKE_ASSIGN_OR_RAISE(int64_t size, base_->FileSize(path));
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = files_.try_emplace(path, FileState{size, size, !existed});
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
    if (DirName(path) == dir) state.dir_entry_unsynced = false;
  }
  return Status::OK();
}

Status FaultInjectionEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  Status result;
  for (auto it = files_.begin(); it != files_.end();) {
    FileState& s = it->second;
    if (s.dir_entry_unsynced) {
      Status st = base_->DeleteFile(it->first);
      if (!st.ok() && result.ok()) result = st;
      it = files_.erase(it);
      continue;
    }
    if (s.size != s.synced_size) {
      Status st = base_->Truncate(it->first, s.synced_size);
      if (!st.ok() && result.ok()) result = st;
      s.size = s.synced_size;
    }
    ++it;
  }
  return result;
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
