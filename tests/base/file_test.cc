#include "tern/base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>

namespace tern::base {
namespace {

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tern-base-file-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf '" + dir_ + "'").c_str()); }

  static bool is_dir(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  std::string dir_;
};

TEST_F(FileTest, MakeDirsCreatesEveryLevelAndAcceptsExistingOnes) {
  const std::string deep = dir_ + "/a/b/c";
  ASSERT_TRUE(make_dirs(deep).is_ok());
  EXPECT_TRUE(is_dir(dir_ + "/a/b/c"));
  EXPECT_TRUE(make_dirs(deep).is_ok());
  EXPECT_TRUE(make_dirs("").is_ok());
}

TEST_F(FileTest, MakeDirsReportsAFileInTheWay) {
  const std::string file = dir_ + "/plain";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ::close(fd);
  Status st = make_dirs(file + "/below");
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_NE(st.message().find("mkdir " + file + "/below"), std::string::npos) << st.message();
}

TEST_F(FileTest, ParentDirOfEveryShape) {
  struct Case {
    const char* path;
    const char* parent;
  };
  const Case cases[] = {{"a/b/c.txt", "a/b"}, {"/top", "/"}, {"name", "."}, {"/x/y", "/x"}};
  for (const Case& c : cases) EXPECT_EQ(parent_dir(c.path), c.parent) << c.path;
}

TEST_F(FileTest, SyncDirSucceedsOnADirectory) { EXPECT_TRUE(sync_dir(dir_).is_ok()); }

TEST_F(FileTest, SyncDirReportsWhatItCouldNotSync) {
  // The fsync(2) itself cannot be made to fail here; opening is the step
  // before it, and its failures come back the same way.
  for (const std::string& bad : {dir_ + "/missing", std::string("/dev/null")}) {
    Status st = sync_dir(bad);
    EXPECT_EQ(st.code(), StatusCode::kIOError) << bad;
    EXPECT_NE(st.message().find(bad), std::string::npos) << st.message();
  }
}

TEST_F(FileTest, WriteAllWritesEverything) {
  const std::string file = dir_ + "/out";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  std::string data(1 << 20, 'x');
  EXPECT_TRUE(write_all(fd, data.data(), data.size()).is_ok());
  ::close(fd);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), data.size());
}

TEST_F(FileTest, WriteAllReportsTheErrorAndLeavesErrnoSet) {
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  errno = 0;
  Status st = write_all(fd, "x", 1);
  int err = errno;
  ::close(fd);
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_EQ(err, EBADF);
}

TEST_F(FileTest, WriteAllToAFullDeviceFails) {
  int fd = ::open("/dev/full", O_WRONLY);
  if (fd < 0) GTEST_SKIP() << "no /dev/full";
  Status st = write_all(fd, "x", 1);
  ::close(fd);
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_NE(st.message().find("write"), std::string::npos);
}

}  // namespace
}  // namespace tern::base
