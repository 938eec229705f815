// One round of a shared-memory collective: one half of every member's slot,
// from "my data is in place" to "I no longer read anyone's".
//
//   Round round(ctx);          // waits until the half is free, publishes the op descriptor
//   copy my part into round.slot(me);
//   round.arrive();            // everyone's part is in place; descriptors compared
//   read peers' slots ...;
//   round.sync();              // optional further steps (two-shot's reduced slices)
//   round.finish();            // I am done reading; the half is reused two rounds on
//
// A single-copy round (cross-memory attach) puts nothing in the slots:
//
//   Round round(ctx);
//   round.publish(in, out);    // my buffers' addresses, before arrive()
//   round.arrive();
//   round.read(q, dst, round.remote(q, 0) + offset, bytes);   // from q's memory
//   round.sync();
//   round.finish_all();        // returns once nobody reads my buffers any more
//
// arrive() is where ranks that disagree about the operation find out: every
// member published the descriptor of the operation it runs (kind, seq,
// count, dtype, op, root) before signalling, and each compares every peer's
// with its own, so a mismatch is a Mismatch error on every member, never
// a silent mix of two operations' data.
#pragma once

#include "coll/context.h"
#include "shm/group.h"

namespace weft::coll {

class Round {
 public:
  explicit Round(Context& ctx)
      : ctx_(ctx), g_(*ctx.shm()), half_(begin(ctx)) {}
  Round(const Round&) = delete;
  Round& operator=(const Round&) = delete;

  char* slot(int local) const { return g_.slot(local, half_); }
  void publish(const void* a, const void* b = nullptr) { g_.publish(half_, a, b); }
  // Address `which` (0 or 1) that member `local` published, in its memory.
  uint64_t remote(int local, int which) const { return g_.published(local, half_, which); }
  void read(int local, void* dst, uint64_t remote, size_t bytes) {
    g_.read_peer(local, dst, remote, bytes);
  }
  void write(int local, uint64_t remote, const void* src, size_t bytes) {
    g_.write_peer(local, remote, src, bytes);
  }
  void arrive();
  void sync() { g_.wait_all(g_.signal(), ctx_.deadline()); }
  // No signal: this member's next arrive tells the others it is done
  // reading this round (shm/group.h).
  void finish() { g_.end_round(half_, /*synced=*/false); }
  // finish() that also waits for every member to finish: the user's
  // buffers, which peers read directly, may be reused once it returns.
  void finish_all() {
    sync();
    g_.end_round(half_, /*synced=*/true);
  }

 private:
  static int begin(Context& ctx);

  Context& ctx_;
  shm::Group& g_;
  int half_;
};

}  // namespace weft::coll
