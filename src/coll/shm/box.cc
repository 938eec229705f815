// Collectives through one box per rank: up to five cache lines, the first
// holding the step, the descriptor and 48 bytes (box.h, shm/group.h).
//
// Each operation is one box exchange: write this rank's data into its box,
// publish (descriptor and step in the same line), wait until every peer's
// box shows the step, compare descriptors, read. The result is computed
// from the boxes in rank order on every rank (reduce_many, as the one-shot
// round does), so every rank gets the same bits.
#include "coll/shm/box.h"

#include <algorithm>

#include "coll/algorithm.h"
#include "coll/shm/reduce_inputs.h"
#include "weft/log.h"
#include "weft/reduce.h"

namespace weft::coll {
namespace {

// The descriptor in one word: kind, dtype and op (8 bits each), count (16
// bits: a box holds at most kBoxPayload bytes, larger counts never come
// here), root (24 bits, all ones for none). The seq travels beside it in the
// step's word (its low 32 bits).
static_assert(shm::Group::kBoxPayload < (1u << 16));
constexpr uint64_t kNoRoot = 0xffffff;

uint64_t pack(const OpDesc& d) {
  const uint64_t root = d.root < 0 ? kNoRoot : static_cast<uint64_t>(d.root) & kNoRoot;
  return static_cast<uint64_t>(d.kind) | static_cast<uint64_t>(d.dtype) << 8 |
         static_cast<uint64_t>(d.op) << 16 | (std::min<uint64_t>(d.count, 0xffff)) << 24 |
         root << 40;
}

OpDesc unpack(uint64_t word, uint32_t seq) {
  OpDesc d;
  d.kind = static_cast<OpKind>(word & 0xff);
  d.dtype = static_cast<DataType>((word >> 8) & 0xff);
  d.op = static_cast<ReduceOp>((word >> 16) & 0xff);
  d.count = (word >> 24) & 0xffff;
  const uint64_t root = (word >> 40) & kNoRoot;
  d.root = root == kNoRoot ? -1 : static_cast<int32_t>(root);
  d.seq = seq;
  return d;
}

std::string describe_header(const transport::OpHeader& h) { return OpDesc::from_header(h).describe(); }
std::string describe_box(uint64_t word, uint32_t seq) { return unpack(word, seq).describe(); }

// Publishes this rank's box (its payload already written) and waits for
// the peers' that `wait` names (every peer's unless rooted); a peer waited
// for whose descriptor differs is a Mismatch, as in a round's arrive().
// Returns the parity of the boxes to read.
int exchange(Context& ctx, shm::Group& g, size_t bytes,
             shm::Group::BoxWait wait = shm::Group::BoxWait::all, int only = -1) {
  const OpDesc& d = ctx.desc();
  install_describers(g);
  if (g.first_time(16 + static_cast<int>(d.kind)))
    WEFT_INFO("coll", to_string(d.kind), ": a box per rank (", bytes, " bytes <= ",
              shm::Group::kBoxPayload, ": no slot, no round)");
  const uint64_t mine = pack(d);
  const int parity = g.box_exchange(mine, d.seq, ctx.deadline(), wait, only);
  if (wait == shm::Group::BoxWait::none) return parity;
  for (int q = 0; q < g.local_size(); ++q) {
    if (q == g.local_rank() || (wait == shm::Group::BoxWait::one && q != only)) continue;
    const uint64_t theirs = g.box_desc(q, parity);
    const uint32_t seq = g.box_seq(q, parity);
    if (theirs != mine || seq != static_cast<uint32_t>(d.seq))
      g.mismatch(d.describe(), q, describe_box(theirs, seq));
  }
  return parity;
}

}  // namespace

void install_describers(shm::Group& g) { g.set_describers(&describe_header, &describe_box); }

void allreduce_box(Context& ctx, const char* in, char* out, size_t count, int root, ReduceOp op,
                   int average_over) {
  shm::Group& g = *ctx.shm();
  const int n = g.local_size();
  const size_t bytes = count * ctx.esize();
  copy_bytes(g.box_payload(ctx.deadline()), in, bytes);
  // A reduce's contributors read nothing: only its root waits.
  const bool reads = root < 0 || root == g.local_rank();
  const int parity =
      exchange(ctx, g, bytes, reads ? shm::Group::BoxWait::all : shm::Group::BoxWait::none);
  if (!reads || count == 0) return;
  // Every input from the boxes (the own one too): `out` may be `in`.
  Inputs inputs(n);
  for (int q = 0; q < n; ++q) inputs[q] = g.box_payload(q, parity);
  reduce_many(out, inputs.data(), n, count, ctx.dtype(), op);
  scale_if_average(out, count, ctx.dtype(), op, average_over);
}

void allgather_box(Context& ctx, const char* in, char* out, size_t count) {
  shm::Group& g = *ctx.shm();
  const size_t bytes = count * ctx.esize();
  copy_bytes(g.box_payload(ctx.deadline()), in, bytes);
  const int parity = exchange(ctx, g, bytes);
  // From the boxes, the own one too (in place, `in` is part of `out`).
  for (int q = 0; q < g.local_size(); ++q)
    copy_bytes(out + static_cast<size_t>(q) * bytes, g.box_payload(q, parity), bytes);
}

void broadcast_box(Context& ctx, char* buf, size_t count, int root) {
  shm::Group& g = *ctx.shm();
  const size_t bytes = count * ctx.esize();
  // The root writes and returns (its readers free the box before it is
  // reused: Group::box_free); each reader waits for the root's box only.
  const bool is_root = g.local_rank() == root;
  if (is_root) copy_bytes(g.box_payload(ctx.deadline()), buf, bytes);
  const int parity = exchange(ctx, g, bytes,
                              is_root ? shm::Group::BoxWait::none : shm::Group::BoxWait::one, root);
  if (!is_root) copy_bytes(buf, g.box_payload(root, parity), bytes);
}

void barrier_box(Context& ctx) { exchange(ctx, *ctx.shm(), 0); }

}  // namespace weft::coll
