// Algorithms and communicator semantics over the in-process transport:
// every collective x dtype x op x size x world size, checked exactly.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "collcheck.h"
#include "local_group.h"

namespace weft::test {
namespace {

using namespace weft::check;

using namespace std::chrono_literals;

class LocalMatrix : public ::testing::TestWithParam<int> {};

TEST_P(LocalMatrix, EveryCollectiveDtypeOpAndSize) {
  const int n = GetParam();
  auto comms = make_local_group(n);
  std::vector<std::string> failures(n);
  run_ranks(n, [&](int r) { failures[r] = run_matrix(comms[r], {0, 1, 2, 7, 31, 1000}); });
  for (int r = 0; r < n; ++r) EXPECT_EQ(failures[r], "") << "rank " << r;
}

INSTANTIATE_TEST_SUITE_P(World, LocalMatrix, ::testing::Values(1, 2, 3, 4, 5, 8));

// Sizes that exercise chunking, slicing and both allreduce algorithms.
TEST(Local, LargeAllreduceEveryAlgorithm) {
  for (const char* algo : {"ring", "rd"}) {
    for (int n : {3, 4}) {
      CommConfig config;
      config.algo = algo;
      auto comms = make_local_group(n, config);
      std::vector<std::string> failures(n);
      run_ranks(n, [&](int r) {
        for (size_t count : {size_t{65537}, (size_t{1} << 20) + 3}) {
          for (bool in_place : {false, true}) {
            auto res = run_check(comms[r], {Coll::allreduce, DataType::f32, ReduceOp::sum, count,
                                            in_place, 0});
            if (res.wrong) failures[r] += res.detail + "\n";
          }
        }
      });
      for (int r = 0; r < n; ++r) EXPECT_EQ(failures[r], "") << algo << " n=" << n;
    }
  }
}

TEST(Local, LargeRootedAndScatteredCollectives) {
  const int n = 5;
  auto comms = make_local_group(n);
  std::vector<std::string> failures(n);
  run_ranks(n, [&](int r) {
    for (Coll coll : {Coll::reduce, Coll::broadcast, Coll::reduce_scatter, Coll::allgather}) {
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::avg}) {
        auto res = run_check(comms[r], {coll, DataType::i32, op, (size_t{1} << 20) + 5, false, 2});
        if (res.wrong) failures[r] += res.detail + "\n";
      }
    }
  });
  for (int r = 0; r < n; ++r) EXPECT_EQ(failures[r], "");
}

TEST(Local, SendRecvAnyOrderAndTags) {
  const int n = 4, messages = 50;
  auto comms = make_local_group(n);
  std::vector<int> wrong(n, 0);
  run_ranks(n, [&](int r) {
    // Every rank sends `messages` messages on two tags to every other rank,
    // receiving in the reverse tag order and all before any wait.
    std::vector<std::vector<int32_t>> in(n * messages * 2, std::vector<int32_t>(3));
    std::vector<std::vector<int32_t>> out(n * messages * 2);
    std::vector<Work> works;
    for (int p = 0; p < n; ++p) {
      if (p == r) continue;
      for (int tag : {1, 0})
        for (int m = 0; m < messages; ++m)
          works.push_back(comms[r].recv(in[(p * messages + m) * 2 + tag].data(), 3,
                                        DataType::i32, p, tag));
      for (int tag : {0, 1})
        for (int m = 0; m < messages; ++m) {
          auto& o = out[(p * messages + m) * 2 + tag];
          o = {r, m, tag};
          works.push_back(comms[r].send(o.data(), 3, DataType::i32, p, tag));
        }
    }
    for (auto& w : works) w.wait();
    for (int p = 0; p < n; ++p) {
      if (p == r) continue;
      for (int tag : {0, 1})
        for (int m = 0; m < messages; ++m)
          if (in[(p * messages + m) * 2 + tag] != std::vector<int32_t>{p, m, tag}) ++wrong[r];
    }
  });
  for (int r = 0; r < n; ++r) EXPECT_EQ(wrong[r], 0);
}

// A send's and a receive's Work describe themselves from their descriptor
// (formatted only when asked for), with the rank, the peer, the tag and the
// index among the messages of that (peer, tag).
TEST(Local, PointToPointWorksDescribeThemselves) {
  auto comms = make_local_group(2);
  std::vector<std::vector<std::string>> described(2);
  run_ranks(2, [&](int r) {
    std::vector<float> a(4, 1.0f), b(4, 2.0f);
    std::vector<Work> works;
    for (int m = 0; m < 2; ++m) {
      float* buf = m == 0 ? a.data() : b.data();
      works.push_back(r == 0 ? comms[r].send(buf, 4, DataType::f32, 1, 7) : comms[r].recv(buf, 4, DataType::f32, 0, 7));
    }
    for (auto& w : works) {
      w.wait();
      described[r].push_back(w.describe());
    }
    if (r == 1) {
      EXPECT_EQ(b, std::vector<float>(4, 2.0f));
    }
  });
  EXPECT_EQ(described[0], (std::vector<std::string>{"rank 0: send #0 to peer rank 1 (tag 7, 4 x f32)",
                                                     "rank 0: send #1 to peer rank 1 (tag 7, 4 x f32)"}));
  EXPECT_EQ(described[1], (std::vector<std::string>{"rank 1: recv #0 from peer rank 0 (tag 7, 4 x f32)",
                                                     "rank 1: recv #1 from peer rank 0 (tag 7, 4 x f32)"}));
}

// --- failures ---------------------------------------------------------------------
TEST(LocalFailure, MismatchedCountsNameBothSides) {
  auto comms = make_local_group(2);
  std::vector<std::string> errors(2);
  run_ranks(2, [&](int r) {
    std::vector<float> buf(100, 1.0f);
    try {
      comms[r].allreduce(buf.data(), buf.data(), r == 0 ? 100 : 50, DataType::f32, ReduceOp::sum)
          .wait();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Mismatch) << e.what();
      errors[r] = e.message();
    }
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_NE(errors[r].find("allreduce #0 (100 x f32 sum"), std::string::npos) << errors[r];
    EXPECT_NE(errors[r].find("allreduce #0 (50 x f32 sum"), std::string::npos) << errors[r];
  }
}

// A receive nobody sends to times out with its own description: the rank,
// the operation and the peer it waited for.
TEST(LocalFailure, UnansweredReceiveTimesOutNamingItself) {
  auto comms = make_local_group(2);
  std::string error;
  ErrorCode code = ErrorCode::Internal;
  int32_t buf[2] = {0, 0};
  try {
    comms[1].recv(buf, 2, DataType::i32, 0, 3, OpOptions{.timeout = std::chrono::milliseconds(200)}).wait();
  } catch (const Error& e) {
    code = e.code();
    error = e.message();
  }
  EXPECT_EQ(code, ErrorCode::Timeout) << error;
  EXPECT_EQ(error, "rank 1: recv #0 from peer rank 0 (tag 3, 2 x i32): timed out after 0.2 s waiting for peer rank 0");
}

TEST(LocalFailure, MismatchedOpsAndKinds) {
  auto comms = make_local_group(3);
  std::vector<ErrorCode> codes(3, ErrorCode::Internal);
  std::vector<std::string> messages(3);
  run_ranks(3, [&](int r) {
    std::vector<int32_t> buf(10, 1);
    try {
      if (r == 2)
        comms[r].broadcast(buf.data(), 10, DataType::i32, 0).wait();
      else
        comms[r].allreduce(buf.data(), buf.data(), 10, DataType::i32,
                           r == 0 ? ReduceOp::sum : ReduceOp::max).wait();
    } catch (const Error& e) {
      codes[r] = e.code();
      messages[r] = e.message();
    }
    // Every later operation fails fast with the same root cause.
    try {
      comms[r].barrier().wait();
      codes[r] = ErrorCode::Internal;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Mismatch);
      EXPECT_NE(e.message().find("communicator failed earlier"), std::string::npos);
    }
  });
  for (int r = 0; r < 3; ++r) EXPECT_EQ(codes[r], ErrorCode::Mismatch) << messages[r];
}

TEST(LocalFailure, StalledRankTimesOutNamingIt) {
  const int n = 3;
  auto comms = make_local_group(n);
  std::vector<std::string> errors(n);
  std::vector<ErrorCode> codes(n, ErrorCode::Internal);
  run_ranks(n, [&](int r) {
    std::vector<float> buf(1000, 1.0f);
    if (r == 1) {
      std::this_thread::sleep_for(1500ms);  // never joins the allreduce in time
      return;
    }
    auto t0 = std::chrono::steady_clock::now();
    try {
      OpOptions o;
      o.timeout = 500ms;
      comms[r].allreduce(buf.data(), buf.data(), 1000, DataType::f32, ReduceOp::sum, o).wait();
    } catch (const Error& e) {
      codes[r] = e.code();
      errors[r] = e.message();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1400ms);
  });
  for (int r : {0, 2}) {
    EXPECT_EQ(codes[r], ErrorCode::Timeout) << errors[r];
    EXPECT_NE(errors[r].find("allreduce #0"), std::string::npos) << errors[r];
  }
  // Rank 2 receives from rank 1 in the fold of recursive doubling... either way
  // someone names rank 1 as the rank it waited for.
  EXPECT_TRUE(errors[0].find("peer rank 1") != std::string::npos ||
              errors[2].find("peer rank 1") != std::string::npos)
      << errors[0] << "\n" << errors[2];
}

TEST(LocalFailure, AbortUnblocksEveryRank) {
  const int n = 4;
  auto comms = make_local_group(n);
  std::vector<ErrorCode> codes(n, ErrorCode::Internal);
  run_ranks(n, [&](int r) {
    std::vector<float> buf(1000, 1.0f);
    if (r == 3) {
      std::this_thread::sleep_for(200ms);
      comms[r].abort();
      return;
    }
    try {
      comms[r].allreduce(buf.data(), buf.data(), 1000, DataType::f32, ReduceOp::sum).wait();
    } catch (const Error& e) {
      codes[r] = e.code();
    }
  });
  for (int r = 0; r < 3; ++r) EXPECT_EQ(codes[r], ErrorCode::Aborted);
}

TEST(LocalWork, WaitWithTimeoutAndTest) {
  auto comms = make_local_group(2);
  std::vector<float> buf(10, 1.0f);
  Work w = comms[0].allreduce(buf.data(), buf.data(), 10, DataType::f32, ReduceOp::sum);
  EXPECT_FALSE(w.test());
  try {
    w.wait(50ms);
    FAIL() << "expected Timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Timeout);
    EXPECT_NE(e.message().find("rank 0: allreduce #0"), std::string::npos) << e.message();
  }
  std::vector<float> buf1(10, 2.0f);
  comms[1].allreduce(buf1.data(), buf1.data(), 10, DataType::f32, ReduceOp::sum).wait();
  w.wait();
  EXPECT_TRUE(w.test());
  EXPECT_EQ(buf[3], 3.0f);
  EXPECT_TRUE(Work().test());
}

// Each Work names its operation exactly; the communicator reuses the text of
// the previous shape when only the sequence number changed (comm_impl.cc).
TEST(LocalWork, DescribesEveryOperation) {
  auto comms = make_local_group(1);
  Communicator& c = comms[0];
  std::vector<int32_t> i(1000, 1);
  std::vector<float> f(1000, 1.0f);
  auto ar = [&](size_t n, ReduceOp op) {
    return c.allreduce(i.data(), i.data(), n, DataType::i32, op).describe();
  };
  EXPECT_EQ(ar(7, ReduceOp::sum), "rank 0: allreduce #0 (7 x i32 sum, 28 B)");
  EXPECT_EQ(ar(7, ReduceOp::sum), "rank 0: allreduce #1 (7 x i32 sum, 28 B)");
  EXPECT_EQ(ar(8, ReduceOp::sum), "rank 0: allreduce #2 (8 x i32 sum, 32 B)");
  EXPECT_EQ(ar(8, ReduceOp::max), "rank 0: allreduce #3 (8 x i32 max, 32 B)");
  EXPECT_EQ(c.broadcast(i.data(), 8, DataType::i32, 0).describe(),
            "rank 0: broadcast #4 (8 x i32, 32 B, root 0)");
  EXPECT_EQ(c.barrier().describe(), "rank 0: barrier #5 (no data)");
  EXPECT_EQ(c.barrier().describe(), "rank 0: barrier #6 (no data)");
  EXPECT_EQ(c.allreduce(f.data(), f.data(), 1000, DataType::f32, ReduceOp::sum).describe(),
            "rank 0: allreduce #7 (1000 x f32 sum, 3.9 KiB)");
  EXPECT_EQ(ar(8, ReduceOp::max), "rank 0: allreduce #8 (8 x i32 max, 32 B)");
  EXPECT_EQ(ar(8, ReduceOp::max), "rank 0: allreduce #9 (8 x i32 max, 32 B)");
  EXPECT_EQ(ar(8, ReduceOp::max), "rank 0: allreduce #10 (8 x i32 max, 32 B)");
  EXPECT_EQ(ar(0, ReduceOp::max), "rank 0: allreduce #11 (0 x i32 max)");
  EXPECT_EQ(ar(0, ReduceOp::max), "rank 0: allreduce #12 (0 x i32 max)");
  c.barrier().wait();
}

// OpOptions::blocking: the call returns with the result, in sequence with
// the asynchronous operations queued before it (which it waits for), and
// numbered with them.
TEST(LocalWork, BlockingCallsReturnDoneInOrder) {
  const int n = 3;
  auto comms = make_local_group(n);
  std::vector<std::string> failures(n);
  run_ranks(n, [&](int r) {
    Communicator& c = comms[r];
    OpOptions blocking;
    blocking.blocking = true;
    std::vector<int64_t> a(5, r + 1), b(5, 10 * (r + 1)), sum(5, 0);
    // Nothing queued: runs on this thread, returns done.
    Work w0 = c.allreduce(a.data(), sum.data(), 5, DataType::i64, ReduceOp::sum, blocking);
    if (!w0.completed() || sum != std::vector<int64_t>(5, 6)) failures[r] += "first blocking call\n";
    if (w0.describe() != "completed work") failures[r] += "described as " + w0.describe() + "\n";
    // Queued asynchronously, not waited for; the blocking call after it
    // returns only once both are done.
    std::vector<int64_t> big(100000, r), big_sum(100000, 0);
    Work queued = c.allreduce(big.data(), big_sum.data(), big.size(), DataType::i64, ReduceOp::sum);
    Work w1 = c.allreduce(b.data(), b.data(), 5, DataType::i64, ReduceOp::max, blocking);
    if (!queued.completed()) failures[r] += "the queued operation ran after the blocking one\n";
    if (big_sum != std::vector<int64_t>(100000, 0 + 1 + 2)) failures[r] += "queued result\n";
    if (b != std::vector<int64_t>(5, 30)) failures[r] += "second blocking call\n";
    // Their sequence numbers are shared: the next asynchronous one is #3.
    Work next = c.barrier();
    if (next.describe() != str("rank ", r, ": barrier #3 (no data)"))
      failures[r] += "next described as " + next.describe() + "\n";
    next.wait();
  });
  for (int r = 0; r < n; ++r) EXPECT_EQ(failures[r], "") << "rank " << r;
}

// A blocking call that fails returns a Work holding the error, which names
// the operation; later calls fail fast with the same root cause.
TEST(LocalWork, BlockingCallThatTimesOutNamesItself) {
  auto comms = make_local_group(2);
  OpOptions o;
  o.blocking = true;
  o.timeout = 200ms;
  int32_t v = 1;
  const auto t0 = std::chrono::steady_clock::now();
  Work w = comms[0].allreduce(&v, &v, 1, DataType::i32, ReduceOp::sum, o);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
  EXPECT_TRUE(w.completed());
  try {
    w.wait();
    FAIL() << "expected Timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Timeout);
    EXPECT_EQ(e.message().rfind("rank 0: allreduce #0 (1 x i32 sum, 4 B): ", 0), 0u) << e.message();
    EXPECT_NE(e.message().find("peer rank 1"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("after 0.2 s"), std::string::npos) << e.message();
  }
  try {
    comms[0].allreduce(&v, &v, 1, DataType::i32, ReduceOp::sum, o).wait();
    FAIL() << "expected the root cause again";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Timeout);
    EXPECT_NE(e.message().find("rank 0: allreduce #1 (1 x i32 sum, 4 B): communicator failed earlier"),
              std::string::npos) << e.message();
  }
}

}  // namespace
}  // namespace weft::test
