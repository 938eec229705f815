// The small per-operation header that travels with an operation's first
// message to each peer, so that ranks which disagree about what operation
// #seq is (kind, count, dtype, op, root) find out instead of exchanging
// garbage. To the transport it is 24 opaque bytes compared with memcmp; the
// layer above formats it for error messages (HeaderFormatter).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

namespace weft::transport {

struct OpHeader {
  static constexpr size_t kSize = 24;
  uint8_t bytes[kSize] = {};
  bool operator==(const OpHeader& other) const {
    return std::memcmp(bytes, other.bytes, kSize) == 0;
  }
};

// Turns a header into "allreduce #12 (1000 x f32 sum)".
using HeaderFormatter = std::function<std::string(const OpHeader&)>;

}  // namespace weft::transport
