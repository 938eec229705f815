// The TCPStore wire protocol (PyTorch's, libuv era, torch >= 2.4) — one codec
// used by both weft's server and weft's client. docs/store-protocol.md
// describes the bytes; in short:
//
//   request  = u8 query type, then fields:  string/bytes = u64 length + data,
//              counts = u64, integers in host (little-endian) byte order.
//   response = depends on the query (see Reply helpers below); SET, APPEND,
//              MULTI_SET, QUEUE_PUSH and VALIDATE have none.
//
// weft extension: AUTH (first byte 0xA5, never a torch query type) carries a
// shared token before VALIDATE; the server answers one byte (kAuthAccepted /
// kAuthRefused) and closes the connection after a refusal.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weft::store {

using Bytes = std::vector<uint8_t>;

enum class QueryType : uint8_t {
  VALIDATE = 0,
  SET = 1,
  COMPARE_SET = 2,
  GET = 3,
  ADD = 4,
  CHECK = 5,
  WAIT = 6,
  GETNUMKEYS = 7,
  DELETE_KEY = 8,
  APPEND = 9,
  MULTI_GET = 10,
  MULTI_SET = 11,
  CANCEL_WAIT = 12,
  PING = 13,
  QUEUE_PUSH = 14,
  QUEUE_POP = 15,
  QUEUE_LEN = 16,
  LIST_KEYS = 17,  // torch 2.11
  BARRIER = 18,    // after torch 2.11
  AUTH = 0xA5,  // weft extension, only valid as the very first frame
};
const char* to_string(QueryType type);

inline constexpr uint32_t kValidateMagic = 0x3C85F7CE;
enum class CheckResponse : uint8_t { READY = 0, NOT_READY = 1 };
enum class WaitResponse : uint8_t { STOP_WAITING = 0, WAIT_CANCELED = 1 };
inline constexpr uint8_t kAuthAccepted = 0;
inline constexpr uint8_t kAuthRefused = 1;
inline constexpr size_t kMaxTokenBytes = 4096;

// What a server accepts; anything beyond is a malformed frame.
struct Limits {
  size_t max_key_bytes = 8192;
  size_t max_value_bytes = 256u << 20;
  size_t max_keys = 128 * 1024;  // per CHECK / WAIT / MULTI_GET / MULTI_SET
  // Upper bound on one whole frame (MULTI_SET of many values).
  size_t max_frame_bytes() const { return max_value_bytes + (64u << 20); }
};

// One decoded request. Only the fields its type uses are filled.
struct Request {
  QueryType type = QueryType::PING;
  std::vector<std::string> keys;  // SET/GET/...: keys[0]; CHECK/WAIT/MULTI_*: all
  std::vector<Bytes> values;      // SET/APPEND/QUEUE_PUSH: [value]; COMPARE_SET: [expected,
                                  // desired]; MULTI_SET: one per key
  int64_t delta = 0;              // ADD; BARRIER: world size
  uint32_t number = 0;            // VALIDATE magic, PING nonce
  std::string token;              // AUTH
};

struct ParseResult {
  enum class Status { Complete, NeedMore, Malformed };
  Status status = Status::NeedMore;
  size_t consumed = 0;  // Complete: bytes of the frame
  size_t need = 0;      // NeedMore: buffer size worth re-parsing at (a lower bound)
  std::string error;    // Malformed: why, for the log
};

// Decodes one request from the front of `in` without consuming partial
// frames: NeedMore until the whole frame has arrived, Malformed as soon as a
// length, count or type is impossible (so a bogus 2^60-byte length is refused
// from its 8 bytes, without buffering anything).
ParseResult parse_request(std::span<const uint8_t> in, const Limits& limits, Request& out);

// Appends encoded fields to a frame (requests and replies alike).
class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  Writer& u8(uint8_t v) { out_.push_back(v); return *this; }
  Writer& type(QueryType t) { return u8(static_cast<uint8_t>(t)); }
  Writer& u32(uint32_t v) { return raw(&v, sizeof v); }
  Writer& u64(uint64_t v) { return raw(&v, sizeof v); }
  Writer& i64(int64_t v) { return raw(&v, sizeof v); }
  Writer& string(std::string_view s) { u64(s.size()); return raw(s.data(), s.size()); }
  Writer& bytes(std::span<const uint8_t> b) { u64(b.size()); return raw(b.data(), b.size()); }

 private:
  Writer& raw(const void* p, size_t n);
  Bytes& out_;
};

// ADD's counters are decimal ASCII. Parses a whole value as int64; false if
// it is not one (empty, junk, overflow).
bool parse_counter(std::span<const uint8_t> value, int64_t& out);

}  // namespace weft::store
