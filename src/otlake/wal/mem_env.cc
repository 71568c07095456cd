#include "otlake/wal/mem_env.h"

#include <algorithm>
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
  // append: every write goes to the end (O_APPEND); else from offset 0 (like POSIX, a write past
  // the end after a truncation leaves zeros between).
  MemWritableFile(Fs* fs, std::shared_ptr<std::string> data, bool append)
      : fs_(fs), data_(std::move(data)), append_(append) {}
  Status Append(std::string_view d) override {
    if (closed_) return Status::IOError("append to closed file");
    std::lock_guard<std::mutex> lock(fs_->mu);
    if (append_) pos_ = data_->size();
    if (pos_ > data_->size()) data_->resize(pos_);
    const size_t over = std::min(d.size(), data_->size() - pos_);
    data_->replace(pos_, over, d.data(), over);
    data_->append(d.data() + over, d.size() - over);
    pos_ += d.size();
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
  const bool append_;
  size_t pos_ = 0;                     // where the next Append writes
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
    return std::unique_ptr<WritableFile>(std::make_unique<MemWritableFile>(&fs_, data, /*append=*/false));
  }
  Result<std::unique_ptr<WritableFile>> ReuseWritableFile(const std::string& from,
                                                          const std::string& to) override {
    OTLAKE_RETURN_NOT_OK(RenameFile(from, to));
    std::lock_guard<std::mutex> lock(fs_.mu);
    return std::unique_ptr<WritableFile>(
        std::make_unique<MemWritableFile>(&fs_, fs_.files[to], /*append=*/false));
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> lock(fs_.mu);
    OTLAKE_RETURN_NOT_OK(CheckDirLocked(to));
    auto it = fs_.files.find(from);
    if (it == fs_.files.end()) return Status::IOError("rename '", from, "': no such file");
    auto data = it->second;
    fs_.files.erase(it);
    fs_.files[to] = std::move(data);
    return Status::OK();
  }
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    std::lock_guard<std::mutex> lock(fs_.mu);
    OTLAKE_RETURN_NOT_OK(CheckDirLocked(path));
    auto& data = fs_.files[path];
    if (!data) data = std::make_shared<std::string>();
    return std::unique_ptr<WritableFile>(
        std::make_unique<MemWritableFile>(&fs_, data, /*append=*/true));
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
