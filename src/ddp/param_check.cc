#include "ddp/param_check.h"

#include <algorithm>
#include <array>
#include <limits>
#include <vector>

#include "weft/error.h"

namespace weft::ddp {
namespace {

// One parameter as three integers; `absent` pads shorter lists.
using Record = std::array<uint64_t, 3>;
constexpr uint64_t kAbsent = std::numeric_limits<uint64_t>::max();

Record record(const Param& p) {
  uint64_t device = (uint64_t{static_cast<uint8_t>(p.device.kind)} << 32) |
                    static_cast<uint32_t>(p.device.index);
  return {p.numel, static_cast<uint64_t>(p.dtype), device};
}

std::string describe(const Record& r) {
  if (r[0] == kAbsent) return "missing";
  auto kind = static_cast<Device::Kind>(r[2] >> 32);
  auto index = static_cast<int>(static_cast<uint32_t>(r[2]));
  std::string device = kind == Device::Kind::cpu ? "cpu" : str("cuda:", index);
  return str(r[0], " x ", to_string(static_cast<DataType>(r[1])), " on ", device);
}

uint64_t fnv1a(uint64_t h, uint64_t v) {
  for (int b = 0; b < 8; ++b) {
    h ^= (v >> (8 * b)) & 0xff;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

void check_same_params(Communicator& comm, std::span<const Param> params) {
  const int n = comm.size();
  uint64_t hash = 14695981039346656037ull;
  for (const Param& p : params)
    for (uint64_t v : record(p)) hash = fnv1a(hash, v);
  std::array<uint64_t, 2> mine = {params.size(), hash};
  std::vector<uint64_t> all(2 * static_cast<size_t>(n));
  comm.allgather(mine.data(), all.data(), 2, DataType::u64).wait();
  bool same = true;
  for (int r = 1; r < n; ++r) same &= all[2 * r] == all[0] && all[2 * r + 1] == all[1];
  if (same) return;

  // They differ: exchange the full lists, padded to the longest.
  size_t longest = 0;
  for (int r = 0; r < n; ++r) longest = std::max<size_t>(longest, all[2 * r]);
  std::vector<Record> padded(longest, Record{kAbsent, 0, 0});
  for (size_t i = 0; i < params.size(); ++i) padded[i] = record(params[i]);
  std::vector<Record> lists(longest * n);
  comm.allgather(padded.data(), lists.data(), longest * 3, DataType::u64).wait();
  auto at = [&](int r, size_t i) -> const Record& { return lists[r * longest + i]; };
  auto differs = [&](int r) {
    for (size_t i = 0; i < longest; ++i)
      if (at(r, i) != at(0, i)) return true;
    return false;
  };

  // This rank when it is one of the odd ones out, else the first that is.
  int culprit = comm.rank() != 0 && differs(comm.rank()) ? comm.rank() : -1;
  for (int r = 1; r < n && culprit < 0; ++r)
    if (differs(r)) culprit = r;
  WEFT_ASSERT(culprit > 0);
  size_t first = 0;
  while (at(culprit, first) == at(0, first)) ++first;
  std::string counts;
  if (all[2 * culprit] != all[0])
    counts = str(" (rank ", culprit, " has ", all[2 * culprit], " parameters, rank 0 has ", all[0],
                 ")");
  throw_error(ErrorCode::Mismatch,
              str("rank ", comm.rank(), ": ddp::Reducer: parameter lists differ: parameter ", first,
                  " is ", describe(at(culprit, first)), " on rank ", culprit, " but ",
                  describe(at(0, first)), " on rank 0", counts));
}

}  // namespace weft::ddp
