// The Env conformance suite, run over every implementation, plus FaultInjectionEnv's own rules.
#include "otlake/wal/env.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "otlake/wal/fault_injection_env.h"
#include "otlake/wal/mem_env.h"
#include "otlake/wal/posix_env_internal.h"
#include "otlake/wal/test_util.h"

namespace otlake::wal {
namespace {

using testing::TempDir;

enum class Kind { kPosix, kDirect, kMem, kFaultOverPosix };

class EnvConformance : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    switch (GetParam()) {
      case Kind::kPosix:
        env_ = Env::Default();
        break;
      case Kind::kDirect:
        env_ = Env::DirectIo();
        break;
      case Kind::kMem:
        mem_ = NewMemEnv();
        env_ = mem_.get();
        break;
      case Kind::kFaultOverPosix:
        fault_ = std::make_unique<FaultInjectionEnv>(Env::Default());
        env_ = fault_.get();
        break;
    }
    dir_ = tmp_.path() + "/d";
  }
  TempDir tmp_;
  std::unique_ptr<Env> mem_;
  std::unique_ptr<FaultInjectionEnv> fault_;
  Env* env_ = nullptr;
  std::string dir_;

  // True if files of env_ written but not closed end in zero padding to 4 KiB: Env::DirectIo on
  // a file system with O_DIRECT (not tmpfs, where it writes through the page cache).
  bool Pads() {
    if (GetParam() != Kind::kDirect) return false;
    const std::string probe = tmp_.path() + "/probe";
    auto f = env_->NewWritableFile(probe);
    if (!f.ok() || !(*f)->Append("x").ok()) return false;
    auto size = env_->FileSize(probe);
    return size.ok() && *size == 4096;
  }
};

TEST_P(EnvConformance, WriteAppendReadListTruncateDelete) {
  WAL_ASSERT_OK(env_->CreateDir(dir_));
  WAL_ASSERT_OK(env_->SyncDir(dir_));
  const std::string a = JoinPath(dir_, "a"), b = JoinPath(dir_, "b");
  {
    WAL_ASSIGN_OR_FAIL(auto f, env_->NewWritableFile(a));
    WAL_ASSERT_OK(f->Append("hello "));
    WAL_ASSERT_OK(f->Append("world"));
    WAL_ASSERT_OK(f->Sync());
    WAL_ASSERT_OK(f->Close());
  }
  {
    WAL_ASSIGN_OR_FAIL(auto f, env_->NewAppendableFile(a));
    WAL_ASSERT_OK(f->Append("!"));
    WAL_ASSERT_OK(f->Close());
  }
  WAL_ASSIGN_OR_FAIL(std::string content, env_->ReadFile(a));
  EXPECT_EQ(content, "hello world!");
  WAL_ASSIGN_OR_FAIL(int64_t size, env_->FileSize(a));
  EXPECT_EQ(size, 12);
  {
    WAL_ASSIGN_OR_FAIL(auto f, env_->NewWritableFile(b));  // empty file
  }
  WAL_ASSIGN_OR_FAIL(auto names, env_->ListDir(dir_));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
  WAL_ASSERT_OK(env_->Truncate(a, 5));
  WAL_ASSIGN_OR_FAIL(content, env_->ReadFile(a));
  EXPECT_EQ(content, "hello");
  {
    WAL_ASSIGN_OR_FAIL(auto f, env_->NewWritableFile(a));  // truncates
  }
  WAL_ASSIGN_OR_FAIL(size, env_->FileSize(a));
  EXPECT_EQ(size, 0);
  WAL_ASSERT_OK(env_->DeleteFile(a));
  EXPECT_FALSE(env_->ReadFile(a).ok());
  EXPECT_FALSE(env_->FileSize(a).ok());
  EXPECT_FALSE(env_->DeleteFile(a).ok());
  EXPECT_FALSE(env_->ListDir(dir_ + "/missing").ok());
  EXPECT_FALSE(env_->NewWritableFile(dir_ + "/missing/x").ok());
}

TEST_P(EnvConformance, ReuseOverwritesInPlaceAndRenameReplaces) {
  WAL_ASSERT_OK(env_->CreateDir(dir_));
  const std::string a = JoinPath(dir_, "a"), b = JoinPath(dir_, "b"), c = JoinPath(dir_, "c");
  {
    WAL_ASSIGN_OR_FAIL(auto f, env_->NewWritableFile(a));
    WAL_ASSERT_OK(f->Append("hello world"));
    WAL_ASSERT_OK(f->Sync());
  }
  {
    WAL_ASSIGN_OR_FAIL(auto f, env_->ReuseWritableFile(a, b));
    WAL_ASSERT_OK(f->Append("HEL"));
    WAL_ASSERT_OK(f->Append("LO"));
    WAL_ASSERT_OK(f->Sync());
    WAL_ASSIGN_OR_FAIL(std::string content, env_->ReadFile(b));
    if (Pads()) {  // the last block is written whole, with zeros after the data
      EXPECT_EQ(content, "HELLO" + std::string(4096 - 5, '\0'));
    } else {
      EXPECT_EQ(content, "HELLO world");  // overwritten from offset 0, the rest kept
    }
    WAL_ASSERT_OK(f->Append(" WORLD and more"));
    WAL_ASSERT_OK(f->Close());
  }
  WAL_ASSIGN_OR_FAIL(std::string content, env_->ReadFile(b));
  EXPECT_EQ(content, "HELLO WORLD and more");  // and extended past the old end
  EXPECT_FALSE(env_->FileSize(a).ok());
  {
    WAL_ASSIGN_OR_FAIL(auto f, env_->NewWritableFile(c));
    WAL_ASSERT_OK(f->Append("c"));
  }
  WAL_ASSERT_OK(env_->RenameFile(c, b));  // replaces b
  WAL_ASSIGN_OR_FAIL(content, env_->ReadFile(b));
  EXPECT_EQ(content, "c");
  EXPECT_FALSE(env_->FileSize(c).ok());
  EXPECT_FALSE(env_->RenameFile(c, a).ok());
  EXPECT_FALSE(env_->ReuseWritableFile(c, a).ok());
  WAL_ASSERT_OK(env_->SyncDir(dir_));
}

INSTANTIATE_TEST_SUITE_P(AllEnvs, EnvConformance,
                         ::testing::Values(Kind::kPosix, Kind::kDirect, Kind::kMem,
                                           Kind::kFaultOverPosix));

// Env::DirectIo: appends of any size land at the right offsets although every write is whole
// aligned blocks; until Close the file ends in zeros to the next 4 KiB boundary, after Close it
// has exactly its bytes. A reused file keeps its old bytes past the padded block.
// A write function that refuses the first O_DIRECT write the way some file systems do after
// accepting O_DIRECT at open (EINVAL), then behaves.
int refused_writes = 0;
ssize_t RefuseFirstDirectWrite(int fd, const void* buf, size_t n, off_t off) {
  if ((::fcntl(fd, F_GETFL) & O_DIRECT) != 0 && refused_writes == 0) {
    ++refused_writes;
    errno = EINVAL;
    return -1;
  }
  return ::pwrite(fd, buf, n, off);
}

TEST(DirectIoEnv, AFileSystemThatRefusesDirectWritesGetsBufferedOnes) {
  TempDir tmp;
  const std::string path = tmp.path() + "/seg";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
  if (fd < 0) GTEST_SKIP() << "no O_DIRECT on this file system";
  refused_writes = 0;
  auto f = internal::NewDirectWritableFile(fd, path, &RefuseFirstDirectWrite);
  WAL_ASSERT_OK(f->Append("first record"));
  EXPECT_EQ(refused_writes, 1);
  EXPECT_EQ(::fcntl(fd, F_GETFL) & O_DIRECT, 0) << "O_DIRECT turned off on the descriptor";
  WAL_ASSERT_OK(f->Sync());
  WAL_ASSERT_OK(f->Append(std::string(5000, 'x')));
  WAL_ASSERT_OK(f->Sync());
  WAL_ASSIGN_OR_FAIL(std::string content, Env::Default()->ReadFile(path));
  const std::string expect = "first record" + std::string(5000, 'x');
  ASSERT_EQ(content.size(), 8192u) << "still padded to the 4 KiB boundary until Close";
  EXPECT_TRUE(content.substr(0, expect.size()) == expect);
  WAL_ASSERT_OK(f->Close());
  WAL_ASSIGN_OR_FAIL(content, Env::Default()->ReadFile(path));
  EXPECT_TRUE(content == expect);
}

TEST(DirectIoEnv, UnalignedAppendsRewriteTheTailBlockAndCloseCutsThePadding) {
  TempDir tmp;
  Env* env = Env::DirectIo();
  const std::string a = tmp.path() + "/a", b = tmp.path() + "/b";
  std::mt19937 rng(7);
  std::string expect;
  bool pads = false;
  {
    WAL_ASSIGN_OR_FAIL(auto f, env->NewWritableFile(a));
    for (int i = 0; i < 200; ++i) {
      std::string chunk(rng() % (i % 10 == 0 ? 20000 : 3000), '\0');
      for (char& c : chunk) c = static_cast<char>('a' + rng() % 26);
      WAL_ASSERT_OK(f->Append(chunk));
      expect += chunk;
      if (i % 7 == 0) WAL_ASSERT_OK(f->Sync());
      WAL_ASSIGN_OR_FAIL(std::string on_disk, env->ReadFile(a));
      ASSERT_GE(on_disk.size(), expect.size());
      ASSERT_EQ(on_disk.substr(0, expect.size()), expect) << "after append " << i;
      if (on_disk.size() != expect.size()) {
        pads = true;
        ASSERT_EQ(on_disk.size() % 4096, 0u);
        ASSERT_LT(on_disk.size() - expect.size(), 4096u);
        ASSERT_EQ(on_disk.find_first_not_of('\0', expect.size()), std::string::npos);
      }
    }
    WAL_ASSERT_OK(f->Close());
  }
  WAL_ASSIGN_OR_FAIL(std::string content, env->ReadFile(a));
  EXPECT_TRUE(content == expect);
  if (!pads) GTEST_SKIP() << "no O_DIRECT on this file system: the buffered fallback was tested";
  // Reuse: 10 bytes over a 64 KiB file overwrite its first block; the rest stays.
  WAL_ASSERT_OK(env->RenameFile(a, b));
  WAL_ASSIGN_OR_FAIL(auto f, env->ReuseWritableFile(b, a));
  WAL_ASSERT_OK(f->Append("0123456789"));
  WAL_ASSERT_OK(f->Sync());
  WAL_ASSIGN_OR_FAIL(content, env->ReadFile(a));
  ASSERT_EQ(content.size(), expect.size());
  EXPECT_EQ(content.substr(0, 10), "0123456789");
  EXPECT_EQ(content.find_first_not_of('\0', 10), 4096u);
  EXPECT_TRUE(content.substr(4096) == expect.substr(4096));
  WAL_ASSERT_OK(f->Close());
  WAL_ASSIGN_OR_FAIL(content, env->ReadFile(a));
  EXPECT_EQ(content.size(), expect.size());  // a reused file is the writer's to trim
}

TEST(FaultInjectionEnv, DropUnsyncedDataKeepsTheSyncedPrefixAndForgetsUnsyncedFiles) {
  auto mem = NewMemEnv();
  FaultInjectionEnv env(mem.get());
  WAL_ASSERT_OK(env.CreateDir("d"));
  WAL_ASSIGN_OR_FAIL(auto f, env.NewWritableFile("d/a"));
  WAL_ASSERT_OK(env.SyncDir("d"));
  WAL_ASSERT_OK(f->Append("durable"));
  WAL_ASSERT_OK(f->Sync());
  WAL_ASSERT_OK(f->Append(" lost"));
  WAL_ASSIGN_OR_FAIL(auto g, env.NewWritableFile("d/new"));  // directory never synced after this
  WAL_ASSERT_OK(g->Append("x"));
  WAL_ASSERT_OK(g->Sync());
  WAL_ASSERT_OK(env.DropUnsyncedData());
  WAL_ASSIGN_OR_FAIL(std::string content, mem->ReadFile("d/a"));
  EXPECT_EQ(content, "durable");
  EXPECT_FALSE(mem->ReadFile("d/new").ok());
  EXPECT_EQ(env.syncs(), 2);
}

// A reused file loses its unsynced overwrites to a power cut: the old bytes come back behind
// the synced prefix; an unsynced rename is undone.
TEST(FaultInjectionEnv, DropUnsyncedDataRestoresTheOldBytesOfAReusedFile) {
  auto mem = NewMemEnv();
  FaultInjectionEnv env(mem.get());
  WAL_ASSERT_OK(env.CreateDir("d"));
  {
    WAL_ASSIGN_OR_FAIL(auto f, env.NewWritableFile("d/old"));
    WAL_ASSERT_OK(f->Append("0123456789"));
    WAL_ASSERT_OK(f->Sync());
  }
  WAL_ASSERT_OK(env.SyncDir("d"));
  WAL_ASSIGN_OR_FAIL(auto f, env.ReuseWritableFile("d/old", "d/new"));
  WAL_ASSERT_OK(env.SyncDir("d"));
  WAL_ASSERT_OK(f->Append("ab"));
  WAL_ASSERT_OK(f->Sync());
  WAL_ASSERT_OK(f->Append("cdefghijklm"));  // over the old bytes and past them, unsynced
  WAL_ASSERT_OK(env.DropUnsyncedData());
  WAL_ASSIGN_OR_FAIL(std::string content, mem->ReadFile("d/new"));
  EXPECT_EQ(content, "ab23456789");
  WAL_ASSERT_OK(env.RenameFile("d/new", "d/renamed"));  // directory not synced after this
  WAL_ASSERT_OK(env.DropUnsyncedData());
  EXPECT_FALSE(mem->ReadFile("d/renamed").ok());
  WAL_ASSIGN_OR_FAIL(content, mem->ReadFile("d/new"));
  EXPECT_EQ(content, "ab23456789");
}

TEST(FaultInjectionEnv, FailingAppendWritesAShortPrefixAndFailingSyncLosesData) {
  auto mem = NewMemEnv();
  FaultInjectionEnv env(mem.get());
  WAL_ASSERT_OK(env.CreateDir("d"));
  WAL_ASSIGN_OR_FAIL(auto f, env.NewWritableFile("d/a"));
  WAL_ASSERT_OK(env.SyncDir("d"));
  env.SetFailAppend(ENOSPC, 1);
  Status st = f->Append("abcdef");
  EXPECT_TRUE(st.IsIOError()) << st.ToString();
  EXPECT_NE(st.message().find("No space left"), std::string::npos) << st.ToString();
  WAL_ASSIGN_OR_FAIL(std::string content, mem->ReadFile("d/a"));
  EXPECT_EQ(content, "abc");
  WAL_ASSERT_OK(f->Append("g"));  // the fault was for one call only
  env.SetFailSync(ENOSPC);        // every sync from now on
  EXPECT_TRUE(f->Sync().IsIOError());
  EXPECT_TRUE(f->Sync().IsIOError());
  WAL_ASSERT_OK(env.DropUnsyncedData());
  WAL_ASSIGN_OR_FAIL(content, mem->ReadFile("d/a"));
  EXPECT_EQ(content, "");
  env.Reset();
  WAL_ASSERT_OK(f->Sync());
}

}  // namespace
}  // namespace otlake::wal
