// KvState's waiter bookkeeping on its own: who is released when, and that
// every registration is gone after release, cancel or a satisfied wait. And
// the server's OutputQueue: bytes leave in order whatever the write sizes.
#include <gtest/gtest.h>

#include <algorithm>

#include "store/kv_state.h"
#include "store/output_queue.h"
#include "weft/error.h"

namespace weft::store {
namespace {

Bytes b(std::string_view s) { return Bytes(s.begin(), s.end()); }

TEST(KvState, WaitReleasesWhenTheLastMissingKeyAppears) {
  KvState kv;
  KvState::Woken woken;
  kv.set("a", b("1"), woken);
  std::vector<std::string> keys{"a", "b", "c"};
  EXPECT_FALSE(kv.wait(7, keys));
  EXPECT_EQ(kv.waiter_entries(), 2u);  // only the missing ones
  kv.set("b", b("2"), woken);
  EXPECT_TRUE(woken.empty());
  kv.add("c", 1, woken);
  EXPECT_EQ(woken, (KvState::Woken{7}));
  EXPECT_EQ(kv.waiter_entries(), 0u);
  EXPECT_FALSE(kv.is_waiting(7));
}

TEST(KvState, SatisfiedWaitRegistersNothing) {
  KvState kv;
  KvState::Woken woken;
  kv.set("a", b("1"), woken);
  std::vector<std::string> keys{"a"};
  EXPECT_TRUE(kv.wait(1, keys));
  EXPECT_FALSE(kv.is_waiting(1));
  EXPECT_EQ(kv.waiter_entries(), 0u);
}

TEST(KvState, DuplicateKeysInOneWait) {
  KvState kv;
  KvState::Woken woken;
  std::vector<std::string> keys{"x", "x"};
  EXPECT_FALSE(kv.wait(1, keys));
  kv.set("x", b("v"), woken);
  EXPECT_EQ(woken, (KvState::Woken{1}));
  EXPECT_EQ(kv.waiter_entries(), 0u);
}

TEST(KvState, CancelRemovesEveryRegistration) {
  KvState kv;
  KvState::Woken woken;
  std::vector<std::string> keys{"p", "q"};
  EXPECT_FALSE(kv.wait(1, keys));
  EXPECT_FALSE(kv.wait(2, keys));
  EXPECT_TRUE(kv.cancel_wait(1));
  EXPECT_FALSE(kv.cancel_wait(1));
  EXPECT_EQ(kv.waiter_entries(), 2u);
  kv.set("p", b(""), woken);
  kv.set("q", b(""), woken);
  EXPECT_EQ(woken, (KvState::Woken{2}));
  EXPECT_EQ(kv.waiter_entries(), 0u);
}

TEST(KvState, CancelAfterPartialProgress) {
  KvState kv;
  KvState::Woken woken;
  std::vector<std::string> keys{"p", "q"};
  EXPECT_FALSE(kv.wait(1, keys));
  kv.set("p", b("1"), woken);
  EXPECT_TRUE(kv.cancel_wait(1));
  EXPECT_EQ(kv.waiter_entries(), 0u);
  kv.set("q", b("1"), woken);
  EXPECT_TRUE(woken.empty());
}

TEST(KvState, QueuePushReleasesOneWaiterInOrder) {
  KvState kv;
  KvState::Woken woken;
  std::vector<std::string> keys{"q"};
  EXPECT_FALSE(kv.wait(1, keys));
  EXPECT_FALSE(kv.wait(2, keys));
  kv.queue_push("q", b("first"), woken);
  EXPECT_EQ(woken, (KvState::Woken{1}));
  woken.clear();
  kv.queue_push("q", b("second"), woken);
  EXPECT_EQ(woken, (KvState::Woken{2}));
  int64_t length = 0;
  EXPECT_EQ(kv.queue_pop("q", length), b("first"));
  EXPECT_EQ(length, 2);
  EXPECT_EQ(kv.queue_len("q"), 1);
  EXPECT_EQ(kv.size(), 0u);  // queues are not keys
  std::vector<std::string> q{"q"};
  EXPECT_TRUE(kv.check(q));  // a non-empty queue counts as present
}

TEST(KvState, BarrierReleasesAllAtTheWorldSize) {
  KvState kv;
  KvState::Woken woken;
  EXPECT_FALSE(kv.barrier(1, "bar", 3, woken));
  EXPECT_FALSE(kv.barrier(2, "bar", 3, woken));
  // An ordinary WAIT on the barrier key is satisfied as soon as it exists.
  std::vector<std::string> keys{"bar"};
  EXPECT_TRUE(kv.wait(9, keys));
  EXPECT_TRUE(woken.empty());
  EXPECT_TRUE(kv.barrier(3, "bar", 3, woken));
  EXPECT_EQ(woken, (KvState::Woken{1, 2}));
  EXPECT_EQ(*kv.find("bar"), b("3"));
  EXPECT_EQ(kv.waiter_entries(), 0u);
}

TEST(KvState, AddRejectsNonCountersAndOverflow) {
  KvState kv;
  KvState::Woken woken;
  auto message_of = [&](const std::string& key, int64_t delta) -> std::string {
    try {
      kv.add(key, delta, woken);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
      return e.message();
    }
    return "no error";
  };
  kv.set("t", b("text"), woken);
  EXPECT_EQ(message_of("t", 1), "ADD on key 't' whose value is not a decimal integer");
  kv.set("big", b("9223372036854775807"), woken);
  EXPECT_EQ(message_of("big", 1), "ADD on key 'big' overflows int64");
  EXPECT_EQ(*kv.find("big"), b("9223372036854775807"));  // unchanged
  EXPECT_EQ(kv.add("big", -7, woken), INT64_MAX - 7);
}

}  // namespace
}  // namespace weft::store

namespace weft::store {
namespace {

// Drains the queue in writes of at most `step` bytes.
Bytes drain(OutputQueue& q, size_t step) {
  Bytes out;
  while (!q.empty()) {
    auto front = q.front();
    size_t n = std::min(step, front.size());
    out.insert(out.end(), front.begin(), front.begin() + static_cast<std::ptrdiff_t>(n));
    q.consume(n);
  }
  return out;
}

TEST(OutputQueue, KeepsOrderAcrossPartialWrites) {
  OutputQueue q;
  Bytes want;
  for (int i = 0; i < 300; ++i) {
    Bytes reply(static_cast<size_t>(i % 7 == 0 ? 100000 : i % 50 + 1), static_cast<uint8_t>(i));
    want.insert(want.end(), reply.begin(), reply.end());
    q.push(std::move(reply));
    if (i % 3 == 0) {
      q.push_byte(0xEE);
      want.push_back(0xEE);
    }
  }
  EXPECT_EQ(q.pending(), want.size());
  EXPECT_EQ(drain(q, 777), want);
  EXPECT_EQ(q.pending(), 0u);
}

TEST(OutputQueue, AppendsWhileTheFrontIsHalfSent) {
  OutputQueue q;
  q.push(Bytes{1, 2, 3, 4});
  q.consume(2);
  q.push(Bytes{5, 6});
  EXPECT_EQ(drain(q, 1), (Bytes{3, 4, 5, 6}));
}

}  // namespace
}  // namespace weft::store
