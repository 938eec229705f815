// Construction-time agreement on the parameter list: every rank must bucket
// the same gradients, or the allreduces would pair unrelated data.
#pragma once

#include <span>

#include "weft/communicator.h"
#include "weft/ddp.h"

namespace weft::ddp {

// Collective. Cheap when the lists agree (one allgather of a count and a
// hash); otherwise the full lists are exchanged and every rank throws
// Mismatch naming the first parameter in which a rank differs from rank 0.
void check_same_params(Communicator& comm, std::span<const Param> params);

}  // namespace weft::ddp
