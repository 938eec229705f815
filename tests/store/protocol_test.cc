// The codec alone: every query type round-trips, every strict prefix of a
// frame is NeedMore (never Malformed, never Complete), and impossible
// lengths/counts/types are Malformed from their first bytes.
#include <gtest/gtest.h>

#include "store/protocol.h"

namespace weft::store {
namespace {

Bytes b(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::vector<Bytes> sample_frames() {
  std::vector<Bytes> frames;
  auto add = [&](auto&& build) {
    Bytes f;
    Writer w(f);
    build(w);
    frames.push_back(f);
  };
  add([](Writer& w) { w.type(QueryType::VALIDATE).u32(kValidateMagic); });
  add([](Writer& w) { w.type(QueryType::PING).u32(1234); });
  add([](Writer& w) { w.type(QueryType::AUTH).string("secret"); });
  add([](Writer& w) { w.type(QueryType::SET).string("/k").bytes(b("value")); });
  add([](Writer& w) { w.type(QueryType::COMPARE_SET).string("/k").bytes(b("")).bytes(b("new")); });
  add([](Writer& w) { w.type(QueryType::GET).string("/k"); });
  add([](Writer& w) { w.type(QueryType::ADD).string("/c").i64(-5); });
  add([](Writer& w) { w.type(QueryType::CHECK).u64(2).string("/a").string("/b"); });
  add([](Writer& w) { w.type(QueryType::WAIT).u64(1).string("/a"); });
  add([](Writer& w) { w.type(QueryType::GETNUMKEYS); });
  add([](Writer& w) { w.type(QueryType::DELETE_KEY).string("/k"); });
  add([](Writer& w) { w.type(QueryType::APPEND).string("/k").bytes(b("xy")); });
  add([](Writer& w) { w.type(QueryType::MULTI_GET).u64(2).string("/a").string("/b"); });
  add([](Writer& w) {
    w.type(QueryType::MULTI_SET).u64(2).string("/a").bytes(b("1")).string("/b").bytes(b("2"));
  });
  add([](Writer& w) { w.type(QueryType::CANCEL_WAIT); });
  add([](Writer& w) { w.type(QueryType::QUEUE_PUSH).string("/q").bytes(b("item")); });
  add([](Writer& w) { w.type(QueryType::QUEUE_POP).string("/q"); });
  add([](Writer& w) { w.type(QueryType::QUEUE_LEN).string("/q"); });
  add([](Writer& w) { w.type(QueryType::LIST_KEYS); });
  add([](Writer& w) { w.type(QueryType::BARRIER).string("/b").i64(4); });
  return frames;
}

TEST(StoreProtocol, TypeValuesMatchTorch) {
  EXPECT_EQ(static_cast<int>(QueryType::VALIDATE), 0);
  EXPECT_EQ(static_cast<int>(QueryType::SET), 1);
  EXPECT_EQ(static_cast<int>(QueryType::WAIT), 6);
  EXPECT_EQ(static_cast<int>(QueryType::CANCEL_WAIT), 12);
  EXPECT_EQ(static_cast<int>(QueryType::PING), 13);
  EXPECT_EQ(static_cast<int>(QueryType::QUEUE_LEN), 16);
  EXPECT_EQ(static_cast<int>(QueryType::LIST_KEYS), 17);
  EXPECT_EQ(kValidateMagic, 0x3C85F7CEu);
}

TEST(StoreProtocol, SetFrameBytes) {
  Bytes f;
  Writer(f).type(QueryType::SET).string("ab").bytes(b("x"));
  Bytes want = {1, 2, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 1, 0, 0, 0, 0, 0, 0, 0, 'x'};
  EXPECT_EQ(f, want);
}

TEST(StoreProtocol, EveryFrameParsesAndEveryPrefixNeedsMore) {
  Limits limits;
  for (const Bytes& frame : sample_frames()) {
    SCOPED_TRACE(to_string(static_cast<QueryType>(frame[0])));
    Request req;
    auto r = parse_request(frame, limits, req);
    ASSERT_EQ(r.status, ParseResult::Status::Complete) << r.error;
    EXPECT_EQ(r.consumed, frame.size());
    for (size_t cut = 0; cut < frame.size(); ++cut) {
      auto partial = parse_request(std::span(frame).first(cut), limits, req);
      ASSERT_EQ(partial.status, ParseResult::Status::NeedMore) << "cut at " << cut;
      EXPECT_GT(partial.need, cut);
      EXPECT_LE(partial.need, frame.size());
    }
    // Trailing bytes of the next frame are left alone.
    Bytes two = frame;
    two.push_back(static_cast<uint8_t>(QueryType::GETNUMKEYS));
    EXPECT_EQ(parse_request(two, limits, req).consumed, frame.size());
  }
}

TEST(StoreProtocol, DecodedFields) {
  Limits limits;
  Bytes f;
  Writer(f).type(QueryType::MULTI_SET).u64(2).string("/a").bytes(b("1")).string("/b").bytes(b("22"));
  Request req;
  ASSERT_EQ(parse_request(f, limits, req).status, ParseResult::Status::Complete);
  EXPECT_EQ(req.type, QueryType::MULTI_SET);
  EXPECT_EQ(req.keys, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(req.values, (std::vector<Bytes>{b("1"), b("22")}));
  f.clear();
  Writer(f).type(QueryType::ADD).string("/c").i64(-42);
  ASSERT_EQ(parse_request(f, limits, req).status, ParseResult::Status::Complete);
  EXPECT_EQ(req.delta, -42);
}

ParseResult parse(const Bytes& f, const Limits& limits = {}) {
  Request req;
  return parse_request(f, limits, req);
}

TEST(StoreProtocol, UnknownTypeIsMalformed) {
  auto r = parse(Bytes{19});
  EXPECT_EQ(r.status, ParseResult::Status::Malformed);
  EXPECT_EQ(r.error, "unknown query type 19");
  EXPECT_EQ(parse(Bytes{0xFF}).status, ParseResult::Status::Malformed);
}

TEST(StoreProtocol, OversizedKeyIsMalformedFromItsLength) {
  Bytes f;
  Writer(f).type(QueryType::GET).u64(8193);  // no key bytes needed to refuse it
  auto r = parse(f);
  EXPECT_EQ(r.status, ParseResult::Status::Malformed);
  EXPECT_EQ(r.error, "GET: key of 8193 bytes exceeds the limit of 8192");
}

TEST(StoreProtocol, OversizedValueIsMalformedFromItsLength) {
  Limits limits;
  limits.max_value_bytes = 1000;
  Bytes f;
  Writer(f).type(QueryType::SET).string("/k").u64(1001);
  auto r = parse(f, limits);
  EXPECT_EQ(r.status, ParseResult::Status::Malformed);
  EXPECT_EQ(r.error, "SET: value of 1001 bytes exceeds the limit of 1000");
  f.clear();
  Writer(f).type(QueryType::SET).string("/k").u64(uint64_t(1) << 62);
  EXPECT_EQ(parse(f).status, ParseResult::Status::Malformed);
}

TEST(StoreProtocol, AbsurdCountIsMalformed) {
  Bytes f;
  Writer(f).type(QueryType::WAIT).u64(uint64_t(1) << 40);
  auto r = parse(f);
  EXPECT_EQ(r.status, ParseResult::Status::Malformed);
  EXPECT_EQ(r.error, "WAIT: count of 1099511627776 keys exceeds the limit of 131072");
}

TEST(StoreProtocol, NeedHintCoversAWholeLargeValue) {
  Bytes f;
  Writer(f).type(QueryType::SET).string("/k").u64(100000);
  auto r = parse(f);
  ASSERT_EQ(r.status, ParseResult::Status::NeedMore);
  EXPECT_EQ(r.need, f.size() + 100000);
}

TEST(StoreProtocol, Counters) {
  int64_t v = 0;
  EXPECT_TRUE(parse_counter(b("42"), v));
  EXPECT_EQ(v, 42);
  EXPECT_TRUE(parse_counter(b("-7"), v));
  EXPECT_EQ(v, -7);
  EXPECT_FALSE(parse_counter(b(""), v));
  EXPECT_FALSE(parse_counter(b("12x"), v));
  EXPECT_FALSE(parse_counter(b("99999999999999999999"), v));
}

}  // namespace
}  // namespace weft::store
