// One entry point per collective: validates nothing (the Communicator did),
// asks the planner for an algorithm and runs it on the calling thread.
#pragma once

#include <cstddef>
#include <span>

#include "coll/context.h"
#include "coll/planner.h"

namespace weft::coll {

void allreduce(Context& ctx, const Planner& planner, const void* in, void* out, size_t count);
void reduce(Context& ctx, const Planner& planner, const void* in, void* out, size_t count,
            int root);
void broadcast(Context& ctx, const Planner& planner, void* buf, size_t count, int root);
void allgather(Context& ctx, const Planner& planner, const void* in, void* out, size_t count);
void allgatherv(Context& ctx, const Planner& planner, const void* in, void* out,
                std::span<const size_t> counts, std::span<const size_t> displs);
void reduce_scatter(Context& ctx, const Planner& planner, const void* in, void* out,
                    size_t recv_count);
void alltoall(Context& ctx, const Planner& planner, const void* in, void* out, size_t count);
void alltoallv(Context& ctx, const Planner& planner, const void* in,
               std::span<const size_t> send_counts, std::span<const size_t> send_displs,
               void* out, std::span<const size_t> recv_counts,
               std::span<const size_t> recv_displs);
void gather(Context& ctx, const Planner& planner, const void* in, void* out, size_t count,
            int root);
void scatter(Context& ctx, const Planner& planner, const void* in, void* out, size_t count,
             int root);
void barrier(Context& ctx, const Planner& planner);

}  // namespace weft::coll
