// Bucket assignment: which gradients share a bucket.
//
// Mirrors PyTorch's compute_bucket_assignment_by_size: walk the parameters in
// the expected ready order, keep one open bucket per (dtype, device) because
// one allreduce moves one dtype on one device, and close a bucket as soon as
// it reaches its size limit. The first bucket of each kind gets the small
// limit so that the first allreduce starts early in backward.
#include <algorithm>
#include <map>
#include <tuple>

#include "weft/ddp.h"
#include "weft/error.h"

namespace weft::ddp {

std::vector<size_t> reverse_order(size_t n) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = n - 1 - i;
  return order;
}

std::vector<std::vector<size_t>> assign_buckets(std::span<const Param> params,
                                                std::span<const size_t> order,
                                                size_t first_bucket_bytes, size_t bucket_bytes) {
  WEFT_REQUIRE(order.size() == params.size(), "ddp::assign_buckets: order has ", order.size(),
               " entries for ", params.size(), " parameters");
  using Key = std::tuple<DataType, Device::Kind, int>;
  struct Open {
    std::vector<size_t> members;
    size_t bytes = 0;
    bool first = true;  // the next bucket closed for this key is its first
  };
  std::map<Key, Open> open;
  std::vector<std::vector<size_t>> closed;
  std::vector<bool> seen(params.size(), false);
  for (size_t i : order) {
    WEFT_REQUIRE(i < params.size() && !seen[i], "ddp::assign_buckets: order is not a permutation",
                 " (parameter ", i, ")");
    seen[i] = true;
    const Param& p = params[i];
    Open& bucket = open[Key{p.dtype, p.device.kind, p.device.index}];
    bucket.members.push_back(i);
    bucket.bytes += p.numel * size_of(p.dtype);
    if (bucket.bytes >= (bucket.first ? first_bucket_bytes : bucket_bytes)) {
      closed.push_back(std::move(bucket.members));
      bucket.members.clear();
      bucket.bytes = 0;
      bucket.first = false;
    }
  }
  for (auto& [key, bucket] : open)
    if (!bucket.members.empty()) closed.push_back(std::move(bucket.members));

  // Launch order = the order in which buckets are expected to fill up: by
  // the position of their first member in `order`.
  std::vector<size_t> position(params.size());
  for (size_t k = 0; k < order.size(); ++k) position[order[k]] = k;
  std::sort(closed.begin(), closed.end(), [&](const auto& a, const auto& b) {
    return position[a.front()] < position[b.front()];
  });
  return closed;
}

}  // namespace weft::ddp
