// shm::Group in one process: members joined from threads, a member that
// never comes, a member process that exits.
#include "shm/group.h"

#include "shm/calibration.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <thread>

#include "weft/error.h"

namespace weft::shm {
namespace {

using namespace std::chrono_literals;

std::string unique_name(const char* what) {
  return "/weft-" + std::to_string(::getpid()) + "-test-" + what;
}

bool name_exists(const std::string& name) {
  int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

TEST(ShmGroup, JoinRemovesTheNameAndPhasesFlow) {
  const std::string name = unique_name("join");
  std::vector<Member> members = {{0, ::getpid()}, {1, ::getpid()}};
  std::unique_ptr<Group> a, b;
  std::thread t([&] { b = Group::join(name, members, 1, 5000, nullptr, Clock::now() + 5s); });
  a = Group::join(name, members, 0, 5000, nullptr, Clock::now() + 5s);
  t.join();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(name_exists(name));
  EXPECT_EQ(a->half_bytes(), 8192u);  // rounded up to pages
  EXPECT_EQ(b->local_rank(), 1);

  // Data written before signal() is visible after the peer's wait.
  const int half = a->begin_round({}, Clock::now() + 1s);
  EXPECT_EQ(b->begin_round({}, Clock::now() + 1s), half);
  std::memcpy(a->slot(0, half), "hello", 6);
  const uint64_t p = a->signal();
  b->wait(0, p, Clock::now() + 1s);
  EXPECT_STREQ(b->slot(0, half), "hello");

  // b never reaches phase 2: a times out naming rank 1.
  try {
    a->wait_all(2, Clock::now() + 100ms);
    FAIL() << "no timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Timeout);
    EXPECT_NE(std::string(e.what()).find("peer rank 1"), std::string::npos) << e.what();
  }
}

TEST(ShmGroup, MemberThatNeverComesTimesOutAndLeavesNoName) {
  const std::string name = unique_name("absent");
  std::vector<Member> members = {{0, ::getpid()}, {1, ::getpid()}};
  try {
    Group::join(name, members, 0, 4096, nullptr, Clock::now() + 200ms);
    FAIL() << "no timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Timeout);
    EXPECT_NE(std::string(e.what()).find("not every rank of this host mapped it in time"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(name_exists(name));
}

// The creator dies right after creating the name, before anyone mapped the
// segment: the member joining gives up fast (PeerLost, not the init timeout)
// and removes the name the dead creator left.
TEST(ShmGroup, CreatorThatDiesDuringJoinLeavesNoName) {
  const std::string name = unique_name("creator");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);  // never sized nor unlinked
    ::_exit(0);
  }
  std::vector<Member> members = {{0, child}, {1, ::getpid()}};
  const auto t0 = Clock::now();
  try {
    Group::join(name, members, 1, 4096, nullptr, Clock::now() + 30s);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::PeerLost);
    EXPECT_NE(std::string(e.what()).find("peer rank 0 (pid " + std::to_string(child) +
                                         ") exited before mapping"),
              std::string::npos)
        << e.what();
  }
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_FALSE(name_exists(name));
  ::waitpid(child, nullptr, 0);
}

TEST(ShmGroup, ExitedMemberIsPeerLost) {
  const std::string name = unique_name("exit");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  std::vector<Member> members = {{0, ::getpid()}, {3, child}};
  if (child == 0) {
    try {
      auto g = Group::join(name, members, 3, 4096, nullptr, Clock::now() + 5s);
      ::_exit(0);  // mapped, then gone without a word (never signals)
    } catch (...) {
      ::_exit(1);
    }
  }
  auto g = Group::join(name, members, 0, 4096, nullptr, Clock::now() + 5s);
  const auto t0 = Clock::now();
  try {
    g->wait_all(1, Clock::now() + 10s);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::PeerLost);
    EXPECT_NE(std::string(e.what()).find("peer rank 3 (pid " + std::to_string(child)),
              std::string::npos)
        << e.what();
  }
  EXPECT_LT(Clock::now() - t0, 2s);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// The rule of the calibration: the single copy while the slowest member's
// kernel copy costs less than 0.875 n/(n-1) of its copy through the segment.
TEST(Calibration, SingleCopyPaysBelowSevenEighthsOfNOverNMinusOne) {
  const int ranks[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  std::string why;
  CopyTimes two[2] = {{170, 100}, {120, 100}};
  EXPECT_TRUE(single_copy_pays(two, ranks, 2, 1 << 20, why));
  EXPECT_NE(why.find("took 1.70x a copy through the segment (rank 0: "), std::string::npos) << why;
  EXPECT_NE(why.find("below 0.875 n/(n-1) = 1.75"), std::string::npos) << why;
  two[1] = {180, 100};  // the slowest member decides
  EXPECT_FALSE(single_copy_pays(two, ranks, 2, 1 << 20, why));
  EXPECT_NE(why.find("took 1.80x a copy through the segment (rank 1: "), std::string::npos) << why;
  EXPECT_NE(why.find("not below 0.875 n/(n-1) = 1.75"), std::string::npos) << why;
  CopyTimes eight[8];
  for (auto& t : eight) t = {95, 100};
  EXPECT_TRUE(single_copy_pays(eight, ranks, 8, 1 << 20, why)) << why;  // 0.875 x 8/7 = 1.0
  eight[5] = {105, 100};
  EXPECT_FALSE(single_copy_pays(eight, ranks, 8, 1 << 20, why)) << why;
  eight[5] = {0, 100};  // a failed timed copy: never on
  EXPECT_FALSE(single_copy_pays(eight, ranks, 8, 1 << 20, why));
  EXPECT_EQ(why, "rank 5's timed kernel copy failed");
}

}  // namespace
}  // namespace weft::shm
