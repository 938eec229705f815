// What one collective is, as every rank must agree on it: the kind, its
// sequence number in the communicator, count, dtype, reduce op and root.
// It travels as the transport's 24-byte OpHeader with each operation's first
// message to each peer (see transport/op_header.h).
#pragma once

#include <cstdint>
#include <string>

#include "transport/op_header.h"
#include "weft/dtype.h"

namespace weft::coll {

enum class OpKind : uint8_t {
  allreduce, reduce, broadcast, allgather, allgatherv, reduce_scatter,
  alltoall, alltoallv, gather, scatter, barrier, send, recv, split,
};
const char* to_string(OpKind kind) noexcept;

struct OpDesc {
  OpKind kind = OpKind::barrier;
  DataType dtype = DataType::u8;
  ReduceOp op = ReduceOp::sum;  // sum for the kinds that do not reduce
  int32_t root = -1;            // -1 for the kinds without a root
  uint64_t count = 0;           // elements (the total for the v-variants; 0 for alltoallv)
  uint64_t seq = 0;
  // Point-to-point only, for the description (not on the wire): the other
  // rank (-1: none) and the user's tag.
  int32_t peer = -1;
  uint32_t tag = 0;

  transport::OpHeader header() const;
  static OpDesc from_header(const transport::OpHeader& header);
  // "allreduce #12 (1000 x f32 sum, 3.9 KiB)", "broadcast #3 (4 x i32, 16 B, root 1)",
  // "send #3 to peer rank 1 (tag 0, 4 x f32)" (with a peer)
  std::string describe() const;
  size_t bytes() const { return count * size_of(dtype); }
};

// "1.5 MiB", "4 KiB", "12 B"
std::string format_bytes(uint64_t bytes);

}  // namespace weft::coll
