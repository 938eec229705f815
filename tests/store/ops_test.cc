// Every Store operation, on every implementation: HashStore, TcpStore
// against an embedded server, and PrefixStore over each.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "store_test_util.h"

namespace weft::test {
namespace {

struct Fixture {
  std::unique_ptr<StoreServer> server;
  std::shared_ptr<Store> store;
  // Makes another client of the same data (another connection for TcpStore).
  std::function<std::shared_ptr<Store>()> another;
};

Fixture make_hash() {
  auto hash = std::make_shared<HashStore>();
  return {nullptr, hash, [hash] { return hash; }};
}
Fixture make_tcp() {
  Fixture f;
  f.server = start_server();
  uint16_t port = f.server->port();
  f.another = [port] { return std::shared_ptr<Store>(TcpStore::connect(client_options(port))); };
  f.store = f.another();
  return f;
}
Fixture make_prefix_tcp() {
  Fixture f = make_tcp();
  auto base_another = f.another;
  f.store = std::make_shared<PrefixStore>("group0", f.store);
  f.another = [base_another] { return std::make_shared<PrefixStore>("group0", base_another()); };
  return f;
}
Fixture make_prefix_hash() {
  auto hash = std::make_shared<HashStore>();
  auto prefixed = std::make_shared<PrefixStore>("group0", hash);
  return {nullptr, prefixed, [prefixed] { return prefixed; }};
}

class StoreOps : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string& kind = GetParam();
    if (kind == "hash") f_ = make_hash();
    if (kind == "tcp") f_ = make_tcp();
    if (kind == "prefix_tcp") f_ = make_prefix_tcp();
    if (kind == "prefix_hash") f_ = make_prefix_hash();
    f_.store->set_timeout(5s);
  }
  Store& s() { return *f_.store; }
  Fixture f_;
};

Bytes b(std::string_view text) { return to_bytes(text); }

TEST_P(StoreOps, SetGet) {
  s().set("a", std::string_view("hello"));
  EXPECT_EQ(s().get_string("a"), "hello");
  s().set("a", std::string_view("again"));
  EXPECT_EQ(s().get_string("a"), "again");
  s().set("empty", std::string_view(""));
  EXPECT_EQ(s().get("empty"), Bytes());
  Bytes binary(70000);
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<uint8_t>(i * 7);
  s().set("bin", binary);
  EXPECT_EQ(s().get("bin"), binary);
}

TEST_P(StoreOps, GetWaitsForTheKey) {
  auto other = f_.another();
  auto value = std::async(std::launch::async, [&] { return s().get_string("late"); });
  std::this_thread::sleep_for(50ms);
  other->set("late", std::string_view("now"));
  EXPECT_EQ(value.get(), "now");
}

TEST_P(StoreOps, AddCountsInDecimal) {
  EXPECT_EQ(s().add("c", 5), 5);
  EXPECT_EQ(s().add("c", -2), 3);
  EXPECT_EQ(s().get_string("c"), "3");
  s().set("d", std::string_view("40"));
  EXPECT_EQ(s().add("d", 2), 42);
}

TEST_P(StoreOps, CompareSet) {
  // Missing key, empty expected: created.
  EXPECT_EQ(s().compare_set("k", Bytes(), b("first")), b("first"));
  // Wrong expectation: unchanged, returns the current value.
  EXPECT_EQ(s().compare_set("k", b("nope"), b("second")), b("first"));
  // Right expectation: swapped.
  EXPECT_EQ(s().compare_set("k", b("first"), b("second")), b("second"));
  EXPECT_EQ(s().get_string("k"), "second");
  // Missing key, non-empty expected: nothing set, expected returned (torch).
  EXPECT_EQ(s().compare_set("missing", b("x"), b("y")), b("x"));
  std::string missing = "missing";
  EXPECT_FALSE(s().check(std::span(&missing, 1)));
}

TEST_P(StoreOps, CheckAndDelete) {
  std::vector<std::string> keys{"x", "y"};
  EXPECT_FALSE(s().check(keys));
  s().set("x", std::string_view("1"));
  EXPECT_FALSE(s().check(keys));
  s().set("y", std::string_view("2"));
  EXPECT_TRUE(s().check(keys));
  EXPECT_TRUE(s().delete_key("x"));
  EXPECT_FALSE(s().delete_key("x"));
  EXPECT_FALSE(s().check(keys));
}

TEST_P(StoreOps, NumKeys) {
  int64_t before = s().num_keys();
  s().set("n1", std::string_view("1"));
  s().set("n2", std::string_view("2"));
  EXPECT_EQ(s().num_keys(), before + 2);
  s().delete_key("n1");
  EXPECT_EQ(s().num_keys(), before + 1);
}

TEST_P(StoreOps, WaitReleasesWhenAllKeysExist) {
  auto other = f_.another();
  std::vector<std::string> keys{"w1", "w2", "w3"};
  auto waiter = std::async(std::launch::async, [&] { s().wait(keys, 5000ms); });
  other->set("w1", std::string_view("1"));
  other->add("w2", 1);
  EXPECT_EQ(waiter.wait_for(100ms), std::future_status::timeout);
  other->append("w3", b("x"));
  waiter.get();
}

TEST_P(StoreOps, WaitTimeoutNamesMissingKeys) {
  s().set("here", std::string_view("1"));
  std::vector<std::string> keys{"here", "gone1", "gone2"};
  auto start = std::chrono::steady_clock::now();
  std::string message = error_of([&] { s().wait(keys, 200ms); }, ErrorCode::Timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_NE(message.find("timed out after 200 ms"), std::string::npos) << message;
  const bool prefixed = GetParam().rfind("prefix", 0) == 0;
  std::string missing = prefixed ? "missing: group0/gone1, group0/gone2" : "missing: gone1, gone2";
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_EQ(message.find("here"), std::string::npos) << message;
  // The store is still usable afterwards.
  EXPECT_EQ(s().get_string("here"), "1");
}

TEST_P(StoreOps, MultiGetMultiSet) {
  std::vector<std::string> keys{"m1", "m2", "m3"};
  std::vector<Bytes> values{b("one"), b(""), b("three")};
  s().multi_set(keys, values);
  EXPECT_EQ(s().multi_get(keys), values);
  EXPECT_EQ(s().get_string("m3"), "three");
}

TEST_P(StoreOps, Append) {
  s().append("log", b("a"));
  s().append("log", b("bc"));
  EXPECT_EQ(s().get_string("log"), "abc");
}

TEST_P(StoreOps, Queues) {
  EXPECT_EQ(s().queue_len("q"), 0);
  EXPECT_EQ(s().queue_pop("q", /*block=*/false), std::nullopt);
  s().queue_push("q", b("1"));
  s().queue_push("q", b("2"));
  EXPECT_EQ(s().queue_len("q"), 2);
  EXPECT_EQ(s().queue_pop("q", false), b("1"));
  EXPECT_EQ(s().queue_pop("q", true), b("2"));
  EXPECT_EQ(s().queue_len("q"), 0);
  // A blocking pop waits for the push.
  auto other = f_.another();
  auto popped = std::async(std::launch::async, [&] { return s().queue_pop("q", true); });
  std::this_thread::sleep_for(50ms);
  other->queue_push("q", b("late"));
  EXPECT_EQ(popped.get(), b("late"));
}

TEST_P(StoreOps, BlockingPopTimesOut) {
  s().set_timeout(150ms);
  error_of([&] { s().queue_pop("empty-queue", true); }, ErrorCode::Timeout);
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreOps,
                         ::testing::Values("hash", "tcp", "prefix_tcp", "prefix_hash"),
                         [](const auto& info) { return info.param; });

TEST(PrefixStore, KeysLandUnderThePrefix) {
  auto base = std::make_shared<HashStore>();
  PrefixStore p("job7", base);
  p.set("k", std::string_view("v"));
  EXPECT_EQ(base->get_string("job7/k"), "v");
  PrefixStore nested("inner", std::make_shared<PrefixStore>("outer", base));
  nested.set("k", std::string_view("w"));
  EXPECT_EQ(base->get_string("outer/inner/k"), "w");
}

TEST(TcpStore, KeysCarryTorchsSlashPrefixOnTheWire) {
  auto server = start_server();
  auto store = TcpStore::connect(client_options(server->port()));
  store->set("abc", std::string_view("1"));
  RawClient raw(server->port());
  raw.handshake();
  raw.send(frame_get("/abc"));
  auto size = as_i64(raw.recv(8));
  ASSERT_EQ(size, 1);
  EXPECT_EQ(raw.recv(1), Bytes{'1'});
}

// (Over TCP the server closes the offending client: see server_test.)
TEST(HashStore, AddOnNonCounter) {
  HashStore store;
  store.set("text", std::string_view("abc"));
  EXPECT_EQ(error_of([&] { store.add("text", 1); }, ErrorCode::InvalidArgument),
            "ADD on key 'text' whose value is not a decimal integer");
  EXPECT_EQ(store.get_string("text"), "abc");
}

TEST(HashStore, ManyWaitersOneKey) {
  HashStore store;
  std::vector<std::future<void>> waiters;
  std::vector<std::string> keys{"go"};
  for (int i = 0; i < 32; ++i)
    waiters.push_back(std::async(std::launch::async, [&] { store.wait(keys, 5000ms); }));
  store.set("go", std::string_view("1"));
  for (auto& w : waiters) w.get();
}

}  // namespace
}  // namespace weft::test
