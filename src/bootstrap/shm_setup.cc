// Where the ranks are, from the address book, and the shared-memory group of
// this rank's host (see shm/group.h): the ranks with this rank's host
// identity map one segment, created by the lowest of them.
#include "bootstrap/shm_setup.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "weft/env.h"
#include "weft/error.h"
#include "weft/log.h"

namespace weft::bootstrap {

size_t shm_half_bytes(int local_ranks) {
  const int64_t forced = env::get_int("WEFT_SHM_CHUNK_BYTES");
  if (forced > 0) return static_cast<size_t>(forced);
  // About 16 MiB of segment in all, between 64 KiB and 1 MiB per rank and half.
  const size_t per = (size_t{8} << 20) / static_cast<size_t>(std::max(local_ranks, 1));
  return std::clamp<size_t>(per, size_t{64} << 10, size_t{1} << 20);
}

namespace {

// The ranks sharing `rank`'s host (ascending), or none when some rank's
// entry lacks the "shm" capability (all ranks decide alike).
std::vector<int> shm_peers_of(int rank, const std::vector<PeerInfo>& book) {
  for (const auto& p : book)
    if (p.caps.find("shm") == std::string::npos) return {};
  std::vector<int> local;
  for (const auto& p : book)
    if (p.host_id == book[static_cast<size_t>(rank)].host_id) local.push_back(p.rank);
  return local;
}

std::string segment_name(const std::vector<PeerInfo>& book, int leader, uint64_t comm_id) {
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(comm_id));
  return str("/weft-", book[static_cast<size_t>(leader)].pid, "-", id, "-r", leader);
}

}  // namespace

size_t shm_ring_bytes(int local_ranks) {
  const int64_t forced = env::get_int("WEFT_SHM_RING_BYTES");
  if (forced > 0) return static_cast<size_t>(forced);
  // About 32 MiB of rings in all (only the pairs that talk touch theirs),
  // between 16 KiB and 1 MiB per ordered pair.
  const size_t n = static_cast<size_t>(std::max(local_ranks, 2));
  return std::clamp<size_t>((size_t{32} << 20) / (n * (n - 1)), size_t{16} << 10, size_t{1} << 20);
}

std::unique_ptr<transport::shm_p2p::Links> setup_shm_links(int rank,
                                                           const std::vector<PeerInfo>& book,
                                                           uint64_t comm_id,
                                                           std::chrono::milliseconds timeout) {
  const std::vector<int> local = shm_peers_of(rank, book);
  if (local.size() < 2) return nullptr;
  std::vector<shm::Member> members;
  for (int q : local) members.push_back({q, book[static_cast<size_t>(q)].pid});
  const std::string name = segment_name(book, local.front(), comm_id) + "-p2p";
  const size_t ring = shm_ring_bytes(static_cast<int>(local.size()));
  auto links = transport::shm_p2p::Links::join(name, std::move(members), rank, ring,
                                                shm::Clock::now() + timeout);
  if (log::enabled(log::Level::Info, "bootstrap")) {
    std::string ranks;
    for (int q : local) ranks += str(ranks.empty() ? "" : ",", q);
    WEFT_INFO("bootstrap", "rank ", rank, ": point-to-point shared memory with ranks ", ranks,
              " (segment ", name, ", rings of ", links->ring_bytes() / 1024,
              " KiB per pair, name removed once mapped)");
  }
  return links;
}

ShmSetup setup_shm(int rank, const std::vector<PeerInfo>& book, uint64_t comm_id,
                   transport::Transport& transport, std::chrono::milliseconds timeout) {
  ShmSetup out;
  std::map<std::string, std::vector<int>> hosts;  // host identity -> ranks, ascending
  for (const auto& p : book) hosts[p.host_id].push_back(p.rank);
  out.topology.hosts = static_cast<int>(hosts.size());
  for (const auto& [id, ranks] : hosts) {
    out.topology.max_ranks_per_host =
        std::max(out.topology.max_ranks_per_host, static_cast<int>(ranks.size()));
    out.topology.leaders.push_back(ranks.front());
  }
  std::sort(out.topology.leaders.begin(), out.topology.leaders.end());
  out.topology.host_leader.resize(book.size());
  for (const auto& [id, ranks] : hosts)
    for (int q : ranks) out.topology.host_leader[static_cast<size_t>(q)] = ranks.front();
  // Shared memory only if every rank allows it (its address book entry
  // says so), so that all ranks make the same choice.
  for (const auto& p : book) {
    if (p.caps.find("shm") == std::string::npos) {
      out.topology.why_no_shm = p.rank == rank ? std::string("WEFT_SHM_DISABLE=1")
                                               : str("WEFT_SHM_DISABLE=1 on rank ", p.rank);
      return out;
    }
  }
  const std::vector<int>& local = hosts[book[static_cast<size_t>(rank)].host_id];
  out.topology.shm = true;
  if (out.topology.max_ranks_per_host < 2) out.topology.why_no_shm = "one rank per host";
  if (local.size() < 2) return out;

  std::vector<shm::Member> members;
  for (int q : local) members.push_back({q, book[static_cast<size_t>(q)].pid});
  const std::string name = segment_name(book, local.front(), comm_id);
  const size_t half = shm_half_bytes(static_cast<int>(local.size()));
  const shm::CmaConfig cma{env::get_bool("WEFT_SHM_CMA"),
                           static_cast<size_t>(std::max<int64_t>(0, env::get_int("WEFT_SHM_CMA_MIN_BYTES"))),
                           env::get_bool("WEFT_SHM_CMA_CALIBRATE")};
  out.group = shm::Group::join(name, std::move(members), rank, half, &transport,
                               shm::Clock::now() + timeout, cma);
  if (log::enabled(log::Level::Info, "bootstrap")) {
    std::string ranks;
    for (int q : local) ranks += str(ranks.empty() ? "" : ",", q);
    WEFT_INFO("bootstrap", "rank ", rank, ": shared memory with ranks ", ranks, " of host ",
              book[static_cast<size_t>(rank)].hostname, " (segment ", name, ", ",
              out.group->half_bytes() / 1024, " KiB x 2 per rank, name removed once mapped)");
    WEFT_INFO("bootstrap", "rank ", rank, ": cross-memory attach ", out.group->cma_status());
  }
  return out;
}

}  // namespace weft::bootstrap
