#include "coll/context.h"

#include <algorithm>

#include "weft/error.h"

namespace weft::coll {

char* Scratch::get(int slot, size_t bytes) {
  WEFT_ASSERT(slot >= 0 && slot < kSlots);
  return buffers_[slot].get(bytes);
}

Context::Context(transport::Transport& transport, const OpDesc& desc, Clock::time_point deadline,
                 Scratch& scratch, shm::Group* shm)
    : transport_(transport),
      desc_(desc),
      header_(desc.header()),
      deadline_(deadline),
      scratch_(scratch),
      shm_(shm),
      group_rank_(transport.rank()),
      group_size_(transport.size()) {}

Context::Context(Context& parent, std::vector<int> members, const OpDesc& desc)
    : transport_(parent.transport_),
      desc_(desc),
      header_(desc.header()),
      deadline_(parent.deadline_),
      scratch_(parent.scratch_),
      members_(std::move(members)),
      group_rank_(-1),
      group_size_(static_cast<int>(members_.size())) {
  auto it = std::find(members_.begin(), members_.end(), transport_.rank());
  WEFT_ASSERT(it != members_.end());
  group_rank_ = static_cast<int>(it - members_.begin());
}

transport::RequestPtr Context::send(int peer, uint32_t sub, const void* data, size_t bytes) {
  WEFT_ASSERT(sub < kMaxSub);
  peer = global(peer);
  // Sized at the first send: shared-memory operations send nothing.
  if (header_sent_.empty()) header_sent_.assign(static_cast<size_t>(transport_.size()), 0);
  const transport::OpHeader* header = nullptr;
  if (!header_sent_[peer]) {
    header_sent_[peer] = 1;
    header = &header_;
  }
  return transport_.isend(peer, (desc_.seq << 24) | sub, data, bytes, header);
}

transport::RequestPtr Context::recv(int peer, uint32_t sub, void* data, size_t bytes) {
  WEFT_ASSERT(sub < kMaxSub);
  peer = global(peer);
  auto request = transport_.irecv(peer, (desc_.seq << 24) | sub, data, bytes, &header_);
  // Forget the receives that are done so that this list stays short.
  if (recvs_.size() >= 64)
    std::erase_if(recvs_, [](const transport::RequestPtr& r) { return r->done(); });
  recvs_.push_back(request);
  return request;
}

void Context::wait(const transport::RequestPtr& request) {
  if (!request->wait_until(deadline_)) timed_out(request);
}

void Context::wait_all(std::vector<transport::RequestPtr>& requests) {
  for (auto& r : requests) wait(r);
  requests.clear();
}

std::string Context::awaited() const {
  std::vector<int> peers;
  for (auto& r : recvs_)  // not received: pending, or failed with the communicator
    if (!r->done() || r->error()) peers.push_back(r->peer);
  std::sort(peers.begin(), peers.end());
  peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
  std::string who;
  for (int p : peers) who += str(who.empty() ? "" : ", ", p);
  if (peers.empty()) return who;
  return str(peers.size() == 1 ? "peer rank " : "peer ranks ", who);
}

void Context::timed_out(const transport::RequestPtr& waiting_for) {
  const std::string who = awaited();
  std::string what =
      waiting_for->kind == transport::Request::Kind::recv
          ? str("waiting for data from peer rank ", waiting_for->peer)
          : str("waiting for peer rank ", waiting_for->peer, " to take data");
  throw_error(ErrorCode::Timeout,
              str("timed out ", what,
                  who.empty() ? std::string() : str(" (still awaited: ", who, ")")));
}

Blocks Blocks::even(size_t total, int n, size_t base) {
  Blocks b;
  size_t q = total / static_cast<size_t>(n), rem = total % static_cast<size_t>(n), at = base;
  for (int i = 0; i < n; ++i) {
    size_t c = q + (static_cast<size_t>(i) < rem ? 1 : 0);
    b.offset.push_back(at);
    b.count.push_back(c);
    at += c;
  }
  return b;
}

size_t Blocks::max_count() const {
  size_t m = 0;
  for (size_t c : count) m = std::max(m, c);
  return m;
}

}  // namespace weft::coll
