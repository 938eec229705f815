#include "coll/op_desc.h"

#include <cstdio>
#include <cstring>

#include "weft/error.h"

namespace weft::coll {

const char* to_string(OpKind kind) noexcept {
  switch (kind) {
    case OpKind::allreduce: return "allreduce";
    case OpKind::reduce: return "reduce";
    case OpKind::broadcast: return "broadcast";
    case OpKind::allgather: return "allgather";
    case OpKind::allgatherv: return "allgatherv";
    case OpKind::reduce_scatter: return "reduce_scatter";
    case OpKind::alltoall: return "alltoall";
    case OpKind::alltoallv: return "alltoallv";
    case OpKind::gather: return "gather";
    case OpKind::scatter: return "scatter";
    case OpKind::barrier: return "barrier";
    case OpKind::send: return "send";
    case OpKind::recv: return "recv";
    case OpKind::split: return "split";
  }
  return "?";
}

// Layout: seq(8) count(8) root(4) kind(1) dtype(1) op(1) pad(1); little endian
// on every machine weft runs on.
transport::OpHeader OpDesc::header() const {
  transport::OpHeader h;
  std::memcpy(h.bytes + 0, &seq, 8);
  std::memcpy(h.bytes + 8, &count, 8);
  std::memcpy(h.bytes + 16, &root, 4);
  h.bytes[20] = static_cast<uint8_t>(kind);
  h.bytes[21] = static_cast<uint8_t>(dtype);
  h.bytes[22] = static_cast<uint8_t>(op);
  return h;
}

OpDesc OpDesc::from_header(const transport::OpHeader& h) {
  OpDesc d;
  std::memcpy(&d.seq, h.bytes + 0, 8);
  std::memcpy(&d.count, h.bytes + 8, 8);
  std::memcpy(&d.root, h.bytes + 16, 4);
  d.kind = static_cast<OpKind>(h.bytes[20]);
  d.dtype = static_cast<DataType>(h.bytes[21]);
  d.op = static_cast<ReduceOp>(h.bytes[22]);
  return d;
}

// Runs for every operation (the Work's and the op log's description), so
// it appends instead of going through an ostringstream.
std::string OpDesc::describe() const {
  std::string s;
  s.reserve(64);
  s += to_string(kind);
  s += " #";
  s += std::to_string(seq);
  if (peer >= 0 && (kind == OpKind::send || kind == OpKind::recv)) {
    ((s += kind == OpKind::send ? " to" : " from") += " peer rank ") += std::to_string(peer);
    ((((s += " (tag ") += std::to_string(tag)) += ", ") += std::to_string(count)) += " x ";
    return (s += to_string(dtype)) += ")";
  }
  s += " (";
  bool reduces = kind == OpKind::allreduce || kind == OpKind::reduce ||
                 kind == OpKind::reduce_scatter;
  if (kind == OpKind::barrier) {
    s += "no data";
  } else {
    s += std::to_string(count);
    s += " x ";
    s += to_string(dtype);
    if (reduces) (s += " ") += to_string(op);
    if (count) (s += ", ") += format_bytes(bytes());
  }
  if (root >= 0) (s += ", root ") += std::to_string(root);
  return s + ")";
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0 || v == static_cast<double>(static_cast<uint64_t>(v)))
    std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace weft::coll
