// PosixEnv: Env over POSIX calls. Sync is fdatasync (the data and the size; not the mtime).
#include <dirent.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "otlake/common/file_util.h"
#include "otlake/common/log.h"
#include "otlake/wal/env.h"
#include "otlake/wal/log_format.h"
#include "otlake/wal/posix_env_internal.h"

namespace otlake::wal {
namespace {

Status Errno(const char* what, const std::string& path, int err) {
  return Status::IOError(what, " '", path, "': ", strerror(err));
}

// fdatasync of an open writable file (the data and the size).
Status DataSync(int fd, const std::string& path) {
  if (fd < 0) return Status::IOError("sync of closed file '", path, "'");
  if (::fdatasync(fd) != 0) return Errno("fdatasync", path, errno);
  return Status::OK();
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    if (fd_ < 0) return Status::IOError("append to closed file '", path_, "'");
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("write", path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::OK();
  }

  Status Sync() override { return DataSync(fd_, path_); }

  Status Close() override {
    if (fd_ < 0) return Status::OK();
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return Errno("close", path_, errno);
    return Status::OK();
  }

 private:
  int fd_;
  std::string path_;
};

// A file opened with O_DIRECT: writes go from our buffer to the device (DMA), not through the page
// cache, which saves the kernel's copy of every WAL byte into page-cache pages (and, on a fresh
// page, clearing it) plus the writeback work at fdatasync. O_DIRECT needs writes of whole aligned
// blocks from aligned memory, so the file keeps the bytes of its last, partial block in `buf_`
// and rewrites that block, padded with zeros, together with the next append. On disk the file
// therefore ends with up to kDirectAlign - 1 zero bytes past the last record until Close cuts it
// to its logical size; the WAL reader takes zeros that run to the next 4 KiB boundary as this
// padding (docs/wal.md, "Direct I/O").
//
// A file system may accept O_DIRECT at open and still refuse the writes (EINVAL: alignment rules
// of its own); the file then turns O_DIRECT off (fcntl) and goes on buffered, same bytes.
class DirectWritableFile final : public WritableFile {
 public:
  DirectWritableFile(int fd, std::string path, internal::PwriteFn pwrite = &::pwrite)
      : fd_(fd), path_(std::move(path)), pwrite_(pwrite) {}
  ~DirectWritableFile() override {
    if (fd_ >= 0) (void)Close();
    std::free(buf_);
  }

  Status Append(std::string_view data) override {
    if (fd_ < 0) return Status::IOError("append to closed file '", path_, "'");
    if (data.empty()) return Status::OK();
    OTLAKE_RETURN_NOT_OK(Reserve(len_ + data.size()));
    std::memcpy(buf_ + len_, data.data(), data.size());
    len_ += data.size();
    const size_t padded = RoundUp(len_);
    std::memset(buf_ + len_, 0, padded - len_);
    size_t done = 0;
    while (done < padded) {
      const ssize_t n = pwrite_(fd_, buf_ + done, padded - done, static_cast<off_t>(base_ + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EINVAL && direct_ && TurnDirectIoOff()) continue;
        return Errno("write", path_, errno);
      }
      if (n == 0 || n % kDirectAlign != 0) return Status::IOError("short direct write to '", path_, "'");
      done += static_cast<size_t>(n);
    }
    written_end_ = std::max(written_end_, base_ + padded);
    // Keep the partial last block: the next append rewrites it with more bytes behind.
    const size_t full = len_ & ~(kDirectAlign - 1);
    if (full > 0) {
      std::memmove(buf_, buf_ + full, len_ - full);
      base_ += full;
      len_ -= full;
    }
    return Status::OK();
  }

  Status Sync() override { return DataSync(fd_, path_); }

  Status Close() override {
    if (fd_ < 0) return Status::OK();
    Status st;
    // Cut the padding off (a file that was longer before, a reused segment, keeps its size: the
    // writer trims those itself).
    const uint64_t end = base_ + len_;
    if (written_end_ > end) {
      struct stat sb;
      if (::fstat(fd_, &sb) == 0 && static_cast<uint64_t>(sb.st_size) == written_end_ &&
          ::ftruncate(fd_, static_cast<off_t>(end)) != 0) {
        st = Errno("ftruncate", path_, errno);
      }
    }
    if (::close(fd_) != 0 && st.ok()) st = Errno("close", path_, errno);
    fd_ = -1;
    return st;
  }

 private:
  // 4 KiB covers 512-byte and 4 KiB logical blocks; the WAL reader skips padding to this boundary.
  static constexpr size_t kDirectAlign = kPadAlign;

  bool TurnDirectIoOff() {
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0) return false;
    direct_ = false;
    OTLAKE_LOG(WARN) << "wal: the file system refused an O_DIRECT write to " << path_
                     << " (EINVAL); writing it through the page cache";
    return true;
  }
  static size_t RoundUp(size_t n) { return (n + kDirectAlign - 1) & ~(kDirectAlign - 1); }

  Status Reserve(size_t n) {
    const size_t want = RoundUp(n);
    if (want <= cap_) return Status::OK();
    const size_t cap = std::max(want, cap_ * 2);
    void* p = nullptr;
    if (::posix_memalign(&p, kDirectAlign, cap) != 0) return Status::OutOfMemory("direct I/O buffer");
    if (len_ > 0) std::memcpy(p, buf_, len_);
    std::free(buf_);
    buf_ = static_cast<char*>(p);
    cap_ = cap;
    return Status::OK();
  }

  int fd_;
  std::string path_;
  internal::PwriteFn pwrite_;
  bool direct_ = true;
  char* buf_ = nullptr;  // [0, len_): bytes from file offset base_ on, not all in whole blocks
  size_t cap_ = 0;
  size_t len_ = 0;
  uint64_t base_ = 0;         // aligned file offset of buf_[0]
  uint64_t written_end_ = 0;  // end of the furthest padded write
};

class PosixEnv final : public Env {
 public:
  explicit PosixEnv(bool direct_io) : direct_io_(direct_io) {}

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return OpenForWrite(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
  }
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    return Open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC);
  }
  Result<std::unique_ptr<WritableFile>> ReuseWritableFile(const std::string& from,
                                                          const std::string& to) override {
    OTLAKE_RETURN_NOT_OK(RenameFile(from, to));
    return OpenForWrite(to, O_WRONLY | O_CLOEXEC);  // no O_TRUNC: writes overwrite from offset 0
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno("rename", from + "' to '" + to, errno);
    return Status::OK();
  }
  Result<std::string> ReadFile(const std::string& path) override { return otlake::ReadFile(path); }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Errno("opendir", dir, errno);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      const std::string_view name(e->d_name);
      if (name != "." && name != "..") names.emplace_back(name);
    }
    ::closedir(d);
    return names;
  }

  Status CreateDir(const std::string& dir) override { return MakeDirs(dir); }

  Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Errno("unlink", path, errno);
    return Status::OK();
  }

  Result<int64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Errno("stat", path, errno);
    return static_cast<int64_t>(st.st_size);
  }

  Status Truncate(const std::string& path, int64_t size) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    Status st;
    if (::ftruncate(fd, size) != 0) {
      st = Errno("ftruncate", path, errno);
    } else if (::fsync(fd) != 0) {
      st = Errno("fsync", path, errno);
    }
    ::close(fd);
    return st;
  }

  Status SyncDir(const std::string& dir) override { return otlake::SyncDir(dir); }

 private:
  // A direct file where the file system allows O_DIRECT (tmpfs does not: EINVAL), else buffered.
  Result<std::unique_ptr<WritableFile>> OpenForWrite(const std::string& path, int flags) {
    if (direct_io_) {
      const int fd = ::open(path.c_str(), flags | O_DIRECT, 0644);
      if (fd >= 0) return std::unique_ptr<WritableFile>(std::make_unique<DirectWritableFile>(fd, path));
      if (errno != EINVAL) return Errno("open", path, errno);
    }
    return Open(path, flags);
  }

  static Result<std::unique_ptr<WritableFile>> Open(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Errno("open", path, errno);
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(fd, path));
  }
  const bool direct_io_;
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv(false);  // never deleted: usable from any static destructor
  return env;
}

namespace internal {
std::unique_ptr<WritableFile> NewDirectWritableFile(int fd, std::string path, PwriteFn pwrite) {
  return std::make_unique<DirectWritableFile>(fd, std::move(path), pwrite);
}
}  // namespace internal

Env* Env::DirectIo() {
  static PosixEnv* env = new PosixEnv(true);
  return env;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string DirName(const std::string& path) {
  const auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

}  // namespace otlake::wal
