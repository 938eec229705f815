// Unix-socket descriptor passing (SCM_RIGHTS), between real processes.
#include <sys/mman.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>

#include "control.h"
#include "ipc/unix_socket.h"
#include "subprocess.h"
#include "test_util.h"

namespace weft::test {
namespace {

using namespace std::chrono_literals;

std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(FdPassing, MemfdAndPipeReachAnotherProcess) {
  constexpr size_t kSize = 8192;
  net::Fd memfd = make_memfd(kSize);
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  net::Fd pipe_r(pipefd[0]), pipe_w(pipefd[1]);

  std::string control = control_address("fdpass");
  auto listener = ipc::UnixListener::listen(control);
  auto child = Subprocess::spawn({bin("ipc_test_worker"), "recv-fds", control});
  ASSERT_TRUE(ipc::wait_readable(listener.fd(), 20s));
  auto conn = listener.accept();
  ASSERT_TRUE(conn.has_value());

  int fds[2] = {memfd.get(), pipe_w.get()};
  ipc::send_message(conn->get(), bytes_of("8192 5000 hello-from-the-peer"), fds, 10s);
  pipe_w.reset();  // only the child holds a write end now
  EXPECT_EQ(recv_text(conn->get()), "done");

  // The child wrote through its own mapping of our memfd: we see it.
  void* p = ::mmap(nullptr, kSize, PROT_READ, MAP_SHARED, memfd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(std::string(static_cast<const char*>(p) + 5000, 19), "hello-from-the-peer");
  EXPECT_EQ(static_cast<const char*>(p)[4999], 0);
  ::munmap(p, kSize);
  // And into the pipe whose write end it received.
  char buf[64] = {};
  ASSERT_EQ(::read(pipe_r.get(), buf, sizeof(buf)), 28);
  EXPECT_EQ(std::string(buf), "via-pipe:hello-from-the-peer");

  auto status = child.wait_for(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 0);
}

TEST(FdPassing, ManyDescriptorsInOneMessage) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  net::Fd a(sv[0]), b(sv[1]);
  std::vector<net::Fd> memfds;
  std::vector<int> raw;
  for (size_t i = 0; i < ipc::kMaxFdsPerMessage; ++i) {
    memfds.push_back(make_memfd(4096 * (i + 1)));
    raw.push_back(memfds.back().get());
  }
  ipc::send_message(a.get(), bytes_of("x"), raw, 1s);
  auto m = ipc::recv_message(b.get(), 16, 1s);
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(m->fds.size(), ipc::kMaxFdsPerMessage);
  for (size_t i = 0; i < m->fds.size(); ++i) {  // same files, in order
    struct stat st;
    ASSERT_EQ(::fstat(m->fds[i].get(), &st), 0);
    EXPECT_EQ(st.st_size, static_cast<off_t>(4096 * (i + 1)));
    EXPECT_NE(m->fds[i].get(), raw[i]);
  }
  raw.push_back(raw[0]);
  Error e = catch_error([&] { ipc::send_message(a.get(), bytes_of("x"), raw, 1s); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(e.message(), "send_message: 17 descriptors, at most 16 per message");
}

TEST(FdPassing, OversizedMessageIsMismatchAndItsFdsAreClosed) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  net::Fd a(sv[0]), b(sv[1]);
  net::Fd memfd = make_memfd(4096);
  int fd = memfd.get();
  size_t before = count_open_fds();
  ipc::send_message(a.get(), bytes_of(std::string(100, 'y')), {&fd, 1}, 1s);
  Error e = catch_error([&] { ipc::recv_message(b.get(), 10, 1s); });
  EXPECT_EQ(e.code(), ErrorCode::Mismatch);
  EXPECT_EQ(e.message(), "receive on unix socket: message larger than 10 bytes");
  EXPECT_EQ(count_open_fds(), before);  // the received duplicate was closed
}

TEST(FdPassing, EofTimeoutAndClosedPeer) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  net::Fd a(sv[0]), b(sv[1]);
  Error e = catch_error([&] { ipc::recv_message(b.get(), 10, 50ms); });
  EXPECT_EQ(e.code(), ErrorCode::Timeout);
  EXPECT_EQ(e.message(), "receive on unix socket: nothing arrived within 50 ms");
  a.reset();
  EXPECT_FALSE(ipc::recv_message(b.get(), 10, 1s).has_value());
  e = catch_error([&] { ipc::send_message(b.get(), bytes_of("z"), {}, 1s); });
  EXPECT_EQ(e.code(), ErrorCode::PeerLost);
  EXPECT_EQ(e.message(), "send on unix socket: peer closed the connection (Broken pipe)");
}

TEST(SocketAddress, NamesCarryJobRankAndPid) {
  ::unsetenv("WEFT_IPC_SOCKET_DIR");
  std::string a = ipc::socket_address("job-1", 3, "reg", 1234);
  EXPECT_EQ(a, "@weft-job-1-reg-r3-p1234");
  EXPECT_NE(ipc::socket_address("job-2", 3, "reg", 1234), a);
  EXPECT_NE(ipc::socket_address("job-1", 4, "reg", 1234), a);
  EXPECT_NE(ipc::socket_address("job-1", 3, "reg", 1235), a);
  EXPECT_EQ(ipc::socket_address("a/b c", 0, "x y", 7), "@weft-a_b_c-x_y-r0-p7");
  // A long job id keeps its (most unique) end and still fits sun_path.
  std::string long_id = std::string(200, 'j') + "-tail";
  std::string l = ipc::socket_address(long_id, 12, "reg", 99999);
  EXPECT_EQ(l.size(), 107u);
  EXPECT_NE(l.find("j-tail-reg-r12-p99999"), std::string::npos);
  auto listener = ipc::UnixListener::listen(l);  // usable as is
  auto c = ipc::connect_unix(l, 1s);
  EXPECT_TRUE(c);
}

TEST(SocketAddress, TwoListenersOnOneNameCollide) {
  std::string name = ipc::socket_address("collide", 0, "reg");
  auto first = ipc::UnixListener::listen(name);
  Error e = catch_error([&] { ipc::UnixListener::listen(name); });
  EXPECT_EQ(e.code(), ErrorCode::SystemError);
  EXPECT_EQ(e.message(), "bind unix socket '" + name + "': Address already in use (errno 98)");
}

TEST(SocketAddress, PathSocketsInSocketDir) {
  std::string dir = make_temp_dir("ipc-sockdir");
  ::setenv("WEFT_IPC_SOCKET_DIR", dir.c_str(), 1);
  std::string name = ipc::socket_address("pathjob", 1, "reg", 42);
  ::unsetenv("WEFT_IPC_SOCKET_DIR");
  EXPECT_EQ(name, dir + "/weft-pathjob-reg-r1-p42");
  {
    auto listener = ipc::UnixListener::listen(name);
    EXPECT_EQ(::access(name.c_str(), F_OK), 0);
    auto c = ipc::connect_unix(name, 1s);
    ipc::send_message(c.get(), bytes_of("ping"), {}, 1s);
    ASSERT_TRUE(ipc::wait_readable(listener.fd(), 1s));
    auto s = listener.accept();
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(recv_text(s->get()), "ping");
  }
  EXPECT_NE(::access(name.c_str(), F_OK), 0);  // removed with the listener
  ::rmdir(dir.c_str());
}

TEST(SocketAddress, ConnectToNobodyTimesOut) {
  std::string name = ipc::socket_address("nobody", 0, "reg");
  auto t0 = std::chrono::steady_clock::now();
  Error e = catch_error([&] { ipc::connect_unix(name, 200ms); });
  EXPECT_EQ(e.code(), ErrorCode::Timeout);
  EXPECT_EQ(e.message(), "connect to unix socket '" + name +
                             "': nobody listening after 200 ms (Connection refused)");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

}  // namespace
}  // namespace weft::test
