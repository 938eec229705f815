#include "store/protocol.h"

#include <charconv>
#include <cstring>

#include "weft/error.h"

namespace weft::store {

const char* to_string(QueryType type) {
  switch (type) {
    case QueryType::VALIDATE: return "VALIDATE";
    case QueryType::SET: return "SET";
    case QueryType::COMPARE_SET: return "COMPARE_SET";
    case QueryType::GET: return "GET";
    case QueryType::ADD: return "ADD";
    case QueryType::CHECK: return "CHECK";
    case QueryType::WAIT: return "WAIT";
    case QueryType::GETNUMKEYS: return "GETNUMKEYS";
    case QueryType::DELETE_KEY: return "DELETE_KEY";
    case QueryType::APPEND: return "APPEND";
    case QueryType::MULTI_GET: return "MULTI_GET";
    case QueryType::MULTI_SET: return "MULTI_SET";
    case QueryType::CANCEL_WAIT: return "CANCEL_WAIT";
    case QueryType::PING: return "PING";
    case QueryType::QUEUE_PUSH: return "QUEUE_PUSH";
    case QueryType::QUEUE_POP: return "QUEUE_POP";
    case QueryType::QUEUE_LEN: return "QUEUE_LEN";
    case QueryType::LIST_KEYS: return "LIST_KEYS";
    case QueryType::BARRIER: return "BARRIER";
    case QueryType::AUTH: return "AUTH";
  }
  return "UNKNOWN";
}

Writer& Writer::raw(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out_.insert(out_.end(), b, b + n);
  return *this;
}

bool parse_counter(std::span<const uint8_t> value, int64_t& out) {
  const char* begin = reinterpret_cast<const char*>(value.data());
  const char* end = begin + value.size();
  if (begin != end && *begin == '+') ++begin;  // std::stoll accepts a leading '+'
  auto [ptr, ec] = std::from_chars(begin, end, out);
  return value.size() > 0 && ec == std::errc() && ptr == end;
}

namespace {

// A cursor over the received bytes. Every read either succeeds, reports that
// more bytes are needed (and how many in total), or fails with a reason.
class Reader {
 public:
  Reader(std::span<const uint8_t> in, const Limits& limits) : in_(in), limits_(limits) {}

  bool short_of(size_t n) {
    if (pos_ + n <= in_.size()) return false;
    need_ = pos_ + n;
    return true;
  }
  template <typename T>
  bool value(T& out) {
    if (short_of(sizeof(T))) return false;
    std::memcpy(&out, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  // A length-prefixed field of at most `max` bytes.
  template <typename Container>
  bool field(Container& out, size_t max, const char* what) {
    uint64_t size = 0;
    if (!value(size)) return false;
    if (size > max) return fail(str(what, " of ", size, " bytes exceeds the limit of ", max));
    if (pos_ + size > limits_.max_frame_bytes())
      return fail(str("frame of more than ", limits_.max_frame_bytes(), " bytes"));
    if (short_of(size)) return false;
    out.assign(in_.begin() + pos_, in_.begin() + pos_ + size);
    pos_ += size;
    return true;
  }
  bool key(std::string& out) { return field(out, limits_.max_key_bytes, "key"); }
  bool payload(Bytes& out) { return field(out, limits_.max_value_bytes, "value"); }
  bool count(uint64_t& out) {
    if (!value(out)) return false;
    if (out > limits_.max_keys)
      return fail(str("count of ", out, " keys exceeds the limit of ", limits_.max_keys));
    return true;
  }
  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  size_t pos() const { return pos_; }
  size_t need() const { return need_; }
  const std::string& error() const { return error_; }

 private:
  std::span<const uint8_t> in_;
  const Limits& limits_;
  size_t pos_ = 0;
  size_t need_ = 0;
  std::string error_;
};

// Reads the fields of `req.type`; false when incomplete or malformed.
bool read_fields(Reader& r, Request& req) {
  switch (req.type) {
    case QueryType::VALIDATE:
    case QueryType::PING:
      return r.value(req.number);
    case QueryType::AUTH: {
      std::string token;
      if (!r.field(token, kMaxTokenBytes, "token")) return false;
      req.token = std::move(token);
      return true;
    }
    case QueryType::GETNUMKEYS:
    case QueryType::CANCEL_WAIT:
    case QueryType::LIST_KEYS:
      return true;
    case QueryType::GET:
    case QueryType::DELETE_KEY:
    case QueryType::QUEUE_POP:
    case QueryType::QUEUE_LEN:
      req.keys.resize(1);
      return r.key(req.keys[0]);
    case QueryType::SET:
    case QueryType::APPEND:
    case QueryType::QUEUE_PUSH:
      req.keys.resize(1);
      req.values.resize(1);
      return r.key(req.keys[0]) && r.payload(req.values[0]);
    case QueryType::COMPARE_SET:
      req.keys.resize(1);
      req.values.resize(2);
      return r.key(req.keys[0]) && r.payload(req.values[0]) && r.payload(req.values[1]);
    case QueryType::ADD:
    case QueryType::BARRIER:
      req.keys.resize(1);
      return r.key(req.keys[0]) && r.value(req.delta);
    case QueryType::CHECK:
    case QueryType::WAIT:
    case QueryType::MULTI_GET: {
      uint64_t n = 0;
      if (!r.count(n)) return false;
      req.keys.resize(n);
      for (auto& key : req.keys)
        if (!r.key(key)) return false;
      return true;
    }
    case QueryType::MULTI_SET: {
      uint64_t n = 0;
      if (!r.count(n)) return false;
      req.keys.resize(n);
      req.values.resize(n);
      for (uint64_t i = 0; i < n; ++i)
        if (!r.key(req.keys[i]) || !r.payload(req.values[i])) return false;
      return true;
    }
  }
  return r.fail("unreachable query type");
}

bool known_type(uint8_t byte) {
  return byte <= static_cast<uint8_t>(QueryType::BARRIER) ||
         byte == static_cast<uint8_t>(QueryType::AUTH);
}

}  // namespace

ParseResult parse_request(std::span<const uint8_t> in, const Limits& limits, Request& out) {
  ParseResult result;
  if (in.empty()) {
    result.need = 1;
    return result;
  }
  if (!known_type(in[0])) {
    result.status = ParseResult::Status::Malformed;
    result.error = str("unknown query type ", static_cast<int>(in[0]));
    return result;
  }
  out = Request{};
  out.type = static_cast<QueryType>(in[0]);
  Reader reader(in.subspan(1), limits);
  if (read_fields(reader, out)) {
    result.status = ParseResult::Status::Complete;
    result.consumed = 1 + reader.pos();
  } else if (!reader.error().empty()) {
    result.status = ParseResult::Status::Malformed;
    result.error = str(to_string(out.type), ": ", reader.error());
  } else {
    result.need = 1 + reader.need();
  }
  return result;
}

}  // namespace weft::store
