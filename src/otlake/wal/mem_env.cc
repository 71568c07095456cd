#include "otlake/wal/mem_env.h"

#include <map>
#include <mutex>
#include <set>

namespace otlake::wal {
namespace {

struct Fs {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<std::string>> files;  // guarded by mu
  std::set<std::string> dirs;                                  // guarded by mu
};

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(Fs* fs, std::shared_ptr<std::string> data) : fs_(fs), data_(std::move(data)) {}
  Status Append(std::string_view d) override {
    if (closed_) return Status::IOError("append to closed file");
    std::lock_guard<std::mutex> lock(fs_->mu);
    data_->append(d.data(), d.size());
    return Status::OK();
  }
  Status Sync() override {
    return closed_ ? Status::IOError("sync of closed file") : Status::OK();
  }
  Status Close() override {
    closed_ = true;
    return Status::OK();
  }

 private:
  Fs* fs_;                             // owned by the MemEnv, which outlives its files
  std::shared_ptr<std::string> data_;  // shared with Fs::files (a deleted file stays writable)
  bool closed_ = false;
};

class MemEnv final : public Env {
 public:
  MemEnv() { fs_.dirs = {".", "/"}; }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    std::lock_guard<std::mutex> lock(fs_.mu);
    OTLAKE_RETURN_NOT_OK(CheckDirLocked(path));
    auto data = std::make_shared<std::string>();
    fs_.files[path] = data;
    return std::unique_ptr<WritableFile>(std::make_unique<MemWritableFile>(&fs_, data));
  }
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    std::lock_guard<std::mutex> lock(fs_.mu);
    OTLAKE_RETURN_NOT_OK(CheckDirLocked(path));
    auto& data = fs_.files[path];
    if (!data) data = std::make_shared<std::string>();
    return std::unique_ptr<WritableFile>(std::make_unique<MemWritableFile>(&fs_, data));
  }
  Result<std::string> ReadFile(const std::string& path) override {
    std::lock_guard<std::mutex> lock(fs_.mu);
    auto it = fs_.files.find(path);
    if (it == fs_.files.end()) return Status::IOError("open '", path, "': no such file");
    return *it->second;
  }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    std::lock_guard<std::mutex> lock(fs_.mu);
    if (!fs_.dirs.count(dir)) return Status::IOError("opendir '", dir, "': no such directory");
    std::vector<std::string> names;
    for (const auto& [path, data] : fs_.files) {
      if (DirName(path) == dir) names.push_back(path.substr(path.find_last_of('/') + 1));
    }
    return names;
  }
  Status CreateDir(const std::string& dir) override {
    std::lock_guard<std::mutex> lock(fs_.mu);
    for (std::string d = dir; d != "." && d != "/" && !d.empty(); d = DirName(d)) {
      fs_.dirs.insert(d);
    }
    return Status::OK();
  }
  Status DeleteFile(const std::string& path) override {
    std::lock_guard<std::mutex> lock(fs_.mu);
    if (fs_.files.erase(path) == 0) return Status::IOError("unlink '", path, "': no such file");
    return Status::OK();
  }
  Result<int64_t> FileSize(const std::string& path) override {
    std::lock_guard<std::mutex> lock(fs_.mu);
    auto it = fs_.files.find(path);
    if (it == fs_.files.end()) return Status::IOError("stat '", path, "': no such file");
    return static_cast<int64_t>(it->second->size());
  }
  Status Truncate(const std::string& path, int64_t size) override {
    std::lock_guard<std::mutex> lock(fs_.mu);
    auto it = fs_.files.find(path);
    if (it == fs_.files.end()) return Status::IOError("open '", path, "': no such file");
    if (size < 0) return Status::Invalid("negative size");
    it->second->resize(static_cast<size_t>(size));
    return Status::OK();
  }
  Status SyncDir(const std::string& dir) override {
    std::lock_guard<std::mutex> lock(fs_.mu);
    if (!fs_.dirs.count(dir)) return Status::IOError("open dir '", dir, "': no such directory");
    return Status::OK();
  }

 private:
  Status CheckDirLocked(const std::string& path) {
    const std::string dir = DirName(path);
    if (dir != "." && !fs_.dirs.count(dir)) {
      return Status::IOError("open '", path, "': no such directory");
    }
    return Status::OK();
  }
  Fs fs_;
};

}  // namespace

std::unique_ptr<Env> NewMemEnv() { return std::make_unique<MemEnv>(); }

}  // namespace otlake::wal
