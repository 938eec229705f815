// dispatch: executes one decoded request against the KvState and encodes the
// reply, exactly as torch's libuv TCPStore server answers it.
#pragma once

#include "store/kv_state.h"
#include "store/protocol.h"

namespace weft::store {

// Appends the reply (if the query has one) to `reply`; waiters released by a
// mutation are appended to `woken`. A request that cannot be served (ADD on a
// non-counter, a second WAIT while one is pending, VALIDATE/AUTH out of
// place) throws InvalidArgument: the server logs it and closes that client.
void dispatch(KvState& state, ClientId client, Request& request, Bytes& reply,
              KvState::Woken& woken);

}  // namespace weft::store
