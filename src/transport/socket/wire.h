// What travels on weft's TCP streams.
//
// A connection starts with a Hello from the connecting side (which then owns
// the stream's data direction: a stream carries data one way only, from the
// rank that connected to the rank that accepted, so two ranks never race to
// connect to each other). Then frames: a fixed 40-byte FrameHeader, the
// 24-byte op header when kHasOpHeader is set, and `length` payload bytes.
// Control frames (kAbort, kClose) may travel in either direction.
#pragma once

#include <cstdint>

#include "transport/op_header.h"

namespace weft::transport::wire {

inline constexpr uint32_t kHelloMagic = 0x54464557;  // "WEFT"
inline constexpr uint32_t kVersion = 1;
inline constexpr uint16_t kFrameMagic = 0x4657;       // "WF"

struct Hello {
  uint32_t magic = kHelloMagic;
  uint32_t version = kVersion;
  uint64_t comm_id = 0;  // both ends must belong to the same communicator
  int32_t rank = -1;     // the connecting rank
  int32_t index = 0;     // which of its parallel streams to us this is
  int32_t nsocks = 1;    // how many it opens
  uint32_t reserved = 0;
};
static_assert(sizeof(Hello) == 32);

enum class Kind : uint8_t {
  kData = 1,   // a fragment of a tagged message
  kAbort = 2,  // the sender's communicator failed; payload: the root cause text
  kClose = 3,  // the sender is destroying its communicator in an orderly way
};
inline constexpr uint8_t kHasOpHeader = 1;

struct FrameHeader {
  uint16_t magic = kFrameMagic;
  Kind kind = Kind::kData;
  uint8_t flags = 0;
  uint32_t aux = 0;      // kAbort: the ErrorCode
  uint64_t tag = 0;
  uint64_t total = 0;    // message length
  uint64_t offset = 0;   // this fragment's offset in the message
  uint64_t length = 0;   // payload bytes that follow
};
static_assert(sizeof(FrameHeader) == 40);
inline constexpr size_t kMaxHead = sizeof(FrameHeader) + OpHeader::kSize;

}  // namespace weft::transport::wire
