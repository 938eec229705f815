#include "transport/matcher.h"

#include <cstring>

#include "core/copy.h"
#include "weft/error.h"

namespace weft::transport {

Matcher::Matcher(int rank, int size, HeaderFormatter formatter)
    : rank_(rank), formatter_(std::move(formatter)), slots_(static_cast<size_t>(size)) {}

void Matcher::check(const Slot& slot, int peer) const {
  if (slot.expect && slot.header && !(*slot.expect == *slot.header))
    throw_error(ErrorCode::Mismatch,
                str(formatter_(*slot.expect), " on rank ", rank_, " does not match peer rank ",
                    peer, "'s ", formatter_(*slot.header)));
  if (slot.request && slot.total != slot.request->bytes)
    throw_error(ErrorCode::Mismatch,
                str(slot.expect ? formatter_(*slot.expect) + ": " : std::string(),
                    "peer rank ", peer, " sent ", slot.total, " bytes where rank ", rank_,
                    " expects ", slot.request->bytes, " (tag ", slot.tag, ")"));
}

SlotPtr Matcher::on_fragment(int peer, uint64_t tag, size_t total, const OpHeader* header) {
  std::lock_guard lock(mutex_);
  if (failed_) std::rethrow_exception(failed_);
  SlotPtr& slot = slots_[peer][tag];
  if (!slot) {
    slot = std::make_shared<Slot>();
    slot->peer = peer;
    slot->tag = tag;
  }
  if (!slot->arrived) {
    slot->arrived = true;
    slot->total = total;
    if (!slot->request) slot->own.resize(total);
  } else if (slot->total != total) {
    throw_error(ErrorCode::Internal, str("peer rank ", peer, " sent fragments of tag ", tag,
                                         " with different lengths"));
  }
  if (header && !slot->header) slot->header = *header;
  check(*slot, peer);
  return slot;
}

void Matcher::finish(Slot& slot) {
  if (!slot.own.empty()) copy_bytes(slot.request->data, slot.own.data(), slot.total);
  slots_[slot.peer].erase(slot.tag);
}

void Matcher::on_bytes(const SlotPtr& slot, size_t bytes) {
  RequestPtr done;
  {
    std::lock_guard lock(mutex_);
    slot->received += bytes;
    if (slot->received == slot->total && slot->request && !failed_) {
      done = slot->request;
      finish(*slot);
    }
  }
  if (done) done->complete();
}

void Matcher::post(const RequestPtr& request, const OpHeader* expect) {
  std::exception_ptr failed;
  RequestPtr done;
  {
    std::lock_guard lock(mutex_);
    failed = failed_;
    if (!failed) {
      SlotPtr& slot = slots_[request->peer][request->tag];
      if (!slot) {
        slot = std::make_shared<Slot>();
        slot->peer = request->peer;
        slot->tag = request->tag;
      }
      WEFT_ASSERT(!slot->request);
      slot->request = request;
      if (expect) slot->expect = *expect;
      if (slot->arrived) {
        check(*slot, request->peer);
        if (slot->received == slot->total) {
          done = request;
          finish(*slot);
        }
      }
    }
  }
  if (failed) request->fail(failed);
  if (done) done->complete();
}

bool Matcher::has_pending(int peer) {
  std::lock_guard lock(mutex_);
  for (auto& [tag, slot] : slots_[peer])
    if (slot->request) return true;
  return false;
}

void Matcher::fail_all(std::exception_ptr error) {
  std::vector<RequestPtr> pending;
  {
    std::lock_guard lock(mutex_);
    if (failed_) return;
    failed_ = error;
    for (auto& per_peer : slots_) {
      for (auto& [tag, slot] : per_peer)
        if (slot->request) pending.push_back(slot->request);
      per_peer.clear();
    }
  }
  for (auto& r : pending) r->fail(error);
}

}  // namespace weft::transport
