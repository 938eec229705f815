#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "bootstrap/address_book.h"
#include "coll/planner.h"
#include "shm/group.h"
#include "transport/shm/links.h"
#include "transport/transport.h"

namespace weft::bootstrap {

struct ShmSetup {
  coll::Topology topology;
  std::unique_ptr<shm::Group> group;  // null: no other rank on this host, or disabled
};

// Collective among the ranks of this rank's host (all ranks call it).
// When some rank's entry lacks the "shm" capability (WEFT_SHM_DISABLE=1
// there): only the topology, no group, on every rank.
ShmSetup setup_shm(int rank, const std::vector<PeerInfo>& book, uint64_t comm_id,
                   transport::Transport& transport, std::chrono::milliseconds timeout);

// The shared-memory point-to-point rings among the ranks of this rank's
// host (collective among them, like setup_shm); null when this rank is
// alone on its host or some rank's entry lacks the "shm" capability.
std::unique_ptr<transport::shm_p2p::Links> setup_shm_links(int rank,
                                                           const std::vector<PeerInfo>& book,
                                                           uint64_t comm_id,
                                                           std::chrono::milliseconds timeout);

// Bytes of each point-to-point ring for `local_ranks` ranks
// (WEFT_SHM_RING_BYTES overrides).
size_t shm_ring_bytes(int local_ranks);

// Bytes per slot half for `local_ranks` ranks (WEFT_SHM_CHUNK_BYTES overrides).
size_t shm_half_bytes(int local_ranks);

}  // namespace weft::bootstrap
