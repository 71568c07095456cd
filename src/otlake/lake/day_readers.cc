#include "otlake/lake/day_readers.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace otlake::lake {

class DayLockAccess {
 public:
  static std::unique_ptr<DayLock> Make(int fd) { return std::unique_ptr<DayLock>(new DayLock(fd)); }
};

DayLock::~DayLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

namespace {

int OpenLockFile(const std::string& day_dir) {
  const std::string path = day_dir + "/" + kReadersLockName;
  return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
}

// flock, retried when a signal interrupts it.
int Flock(int fd, int op) {
  int rc;
  do {
    rc = ::flock(fd, op);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

Result<ShareState> ShareDay(const std::string& day_dir, std::unique_ptr<DayLock>* lock) {
  lock->reset();
  const int fd = OpenLockFile(day_dir);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return ShareState::kGone;
    if (err == EACCES || err == EROFS || err == EPERM) {
      if (!Exists(day_dir)) return ShareState::kGone;
      *lock = DayLockAccess::Make(-1);
      return Exists(day_dir + "/" + kClosingName) ? ShareState::kClosing : ShareState::kHeld;
    }
    return Status::IOError("cannot open ", day_dir, "/", kReadersLockName, ": ", std::strerror(err));
  }
  std::unique_ptr<DayLock> held = DayLockAccess::Make(fd);
  if (Flock(fd, LOCK_SH) != 0) {
    return Status::IOError("cannot lock ", day_dir, "/", kReadersLockName, ": ", std::strerror(errno));
  }
  // A clean moves the folder away while holding the lock exclusively: the file this lock is on
  // must still be the one at the day's path.
  struct stat mine, now;
  if (::fstat(fd, &mine) != 0 || ::stat((day_dir + "/" + kReadersLockName).c_str(), &now) != 0 ||
      mine.st_ino != now.st_ino || mine.st_dev != now.st_dev) {
    return ShareState::kGone;
  }
  *lock = std::move(held);
  return Exists(day_dir + "/" + kClosingName) ? ShareState::kClosing : ShareState::kHeld;
}

Result<std::unique_ptr<DayLock>> ExclusiveDay(const std::string& day_dir, int64_t timeout_ms,
                                              const std::atomic<bool>* stop) {
  const int fd = OpenLockFile(day_dir);
  if (fd < 0) {
    return Status::IOError("cannot open ", day_dir, "/", kReadersLockName, ": ", std::strerror(errno));
  }
  std::unique_ptr<DayLock> held = DayLockAccess::Make(fd);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  // Readers hold the lock for one query at a time, and a waiting flock(LOCK_EX) would not keep
  // new readers out (Linux grants shared locks past a waiting exclusive one), so the lock is
  // tried at short intervals instead; clean's .closing mark keeps new readers away meanwhile.
  auto pause = std::chrono::milliseconds(1);
  while (true) {
    if (Flock(fd, LOCK_EX | LOCK_NB) == 0) return held;
    if (errno != EWOULDBLOCK) {
      return Status::IOError("cannot lock ", day_dir, "/", kReadersLockName, ": ", std::strerror(errno));
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline || (stop != nullptr && stop->load())) return std::unique_ptr<DayLock>();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

Status MarkClosing(const std::string& day_dir) {
  const std::string path = day_dir + "/" + kClosingName;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot create ", path, ": ", std::strerror(errno));
  ::close(fd);
  return Status::OK();
}

Status UnmarkClosing(const std::string& day_dir) {
  const std::string path = day_dir + "/" + kClosingName;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::IOError("cannot remove ", path, ": ", std::strerror(errno));
  }
  return Status::OK();
}

}  // namespace otlake::lake
