// The socket transport driven by threads of one process over loopback: the
// same checks as the in-process transport, through real TCP streams.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "collcheck.h"
#include "local_group.h"

namespace weft::test {
namespace {

using namespace weft::check;

using namespace std::chrono_literals;

TEST(SocketInProcess, EveryCollectiveDtypeOpSmallSizes) {
  for (int n : {2, 3, 4}) {
    auto comms = make_socket_group(n);
    std::vector<std::string> failures(n);
    run_ranks(n, [&](int r) { failures[r] = run_matrix(comms[r], {0, 1, 7, 1000}); });
    for (int r = 0; r < n; ++r) EXPECT_EQ(failures[r], "") << "n=" << n << " rank " << r;
  }
}

TEST(SocketInProcess, LargeAllreduceSplitAcrossStreams) {
  for (const char* algo : {"ring", "rd"}) {
    CommConfig config;
    config.algo = algo;
    transport::SocketOptions options;
    options.nsocks = 3;
    const int n = 3;
    auto comms = make_socket_group(n, config, options);
    std::vector<std::string> failures(n);
    run_ranks(n, [&](int r) {
      for (size_t count : {size_t{100003}, (size_t{1} << 20) + 1}) {
        auto res = run_check(comms[r], {Coll::allreduce, DataType::i32, ReduceOp::sum, count,
                                        r % 2 == 0, 0});
        if (res.wrong) failures[r] += res.detail + "\n";
      }
    });
    for (int r = 0; r < n; ++r) EXPECT_EQ(failures[r], "") << algo;
  }
}

TEST(SocketInProcess, MismatchNamesBothSides) {
  auto comms = make_socket_group(2);
  std::vector<std::string> errors(2);
  std::vector<ErrorCode> codes(2, ErrorCode::Internal);
  run_ranks(2, [&](int r) {
    std::vector<float> buf(100, 1.0f);
    try {
      comms[r].allreduce(buf.data(), buf.data(), 100, DataType::f32,
                         r == 0 ? ReduceOp::sum : ReduceOp::min).wait();
    } catch (const Error& e) {
      codes[r] = e.code();
      errors[r] = e.message();
    }
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(codes[r], ErrorCode::Mismatch) << errors[r];
    EXPECT_NE(errors[r].find("allreduce #0 (100 x f32 sum"), std::string::npos) << errors[r];
    EXPECT_NE(errors[r].find("allreduce #0 (100 x f32 min"), std::string::npos) << errors[r];
  }
}

TEST(SocketInProcess, AbortReachesEveryRank) {
  const int n = 4;
  auto comms = make_socket_group(n);
  std::vector<ErrorCode> codes(n, ErrorCode::Internal);
  std::vector<std::string> messages(n);
  run_ranks(n, [&](int r) {
    std::vector<float> buf(1 << 20, 1.0f);
    if (r == 2) {
      std::this_thread::sleep_for(300ms);
      comms[r].abort();
      return;
    }
    try {
      comms[r].allreduce(buf.data(), buf.data(), buf.size(), DataType::f32, ReduceOp::sum).wait();
    } catch (const Error& e) {
      codes[r] = e.code();
      messages[r] = e.message();
    }
  });
  for (int r : {0, 1, 3}) {
    EXPECT_TRUE(codes[r] == ErrorCode::Aborted || codes[r] == ErrorCode::PeerLost) << messages[r];
    EXPECT_NE(messages[r].find("rank 2"), std::string::npos) << messages[r];
  }
}

TEST(SocketInProcess, DestroyedPeerIsLost) {
  auto comms = make_socket_group(3);
  // Connect everyone first, then destroy rank 1 while 0 and 2 wait for it.
  run_ranks(3, [&](int r) { comms[r].barrier().wait(); });
  std::vector<ErrorCode> codes(3, ErrorCode::Internal);
  std::vector<std::string> messages(3);
  run_ranks(3, [&](int r) {
    if (r == 1) {
      std::this_thread::sleep_for(200ms);
      comms[1] = Communicator(nullptr);
      return;
    }
    std::vector<float> buf(1000, 1.0f);
    auto t0 = std::chrono::steady_clock::now();
    try {
      comms[r].allreduce(buf.data(), buf.data(), buf.size(), DataType::f32, ReduceOp::sum).wait();
    } catch (const Error& e) {
      codes[r] = e.code();
      messages[r] = e.message();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  });
  for (int r : {0, 2}) {
    EXPECT_EQ(codes[r], ErrorCode::PeerLost) << messages[r];
    EXPECT_NE(messages[r].find("peer rank 1"), std::string::npos) << messages[r];
  }
}

}  // namespace
}  // namespace weft::test
