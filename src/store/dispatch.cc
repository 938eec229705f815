#include "store/dispatch.h"

#include "weft/error.h"

namespace weft::store {

void dispatch(KvState& state, ClientId client, Request& req, Bytes& reply,
              KvState::Woken& woken) {
  Writer w(reply);
  switch (req.type) {
    case QueryType::PING:
      w.u32(req.number);
      return;
    case QueryType::SET:
      state.set(req.keys[0], std::move(req.values[0]), woken);
      return;
    case QueryType::COMPARE_SET:
      w.bytes(state.compare_set(req.keys[0], req.values[0], std::move(req.values[1]), woken));
      return;
    case QueryType::GET: {
      // A missing key reads as empty (clients WAIT before they GET).
      const Bytes* value = state.find(req.keys[0]);
      w.bytes(value ? std::span<const uint8_t>(*value) : std::span<const uint8_t>());
      return;
    }
    case QueryType::ADD:
      w.i64(state.add(req.keys[0], req.delta, woken));
      return;
    case QueryType::CHECK:
      w.u8(static_cast<uint8_t>(state.check(req.keys) ? CheckResponse::READY
                                                      : CheckResponse::NOT_READY));
      return;
    case QueryType::WAIT:
      if (state.is_waiting(client))
        throw_error(ErrorCode::InvalidArgument, "WAIT while another WAIT is pending");
      if (state.wait(client, req.keys)) w.u8(static_cast<uint8_t>(WaitResponse::STOP_WAITING));
      return;  // otherwise STOP_WAITING is sent when the last key appears
    case QueryType::CANCEL_WAIT:
      state.cancel_wait(client);
      w.u8(static_cast<uint8_t>(WaitResponse::WAIT_CANCELED));
      return;
    case QueryType::GETNUMKEYS:
      w.i64(static_cast<int64_t>(state.size()));
      return;
    case QueryType::DELETE_KEY:
      w.i64(state.erase(req.keys[0]) ? 1 : 0);
      return;
    case QueryType::APPEND:
      state.append(req.keys[0], req.values[0], woken);
      return;
    case QueryType::MULTI_GET:
      for (const std::string& key : req.keys) {
        const Bytes* value = state.find(key);
        w.bytes(value ? std::span<const uint8_t>(*value) : std::span<const uint8_t>());
      }
      return;
    case QueryType::MULTI_SET:
      for (size_t i = 0; i < req.keys.size(); ++i)
        state.set(req.keys[i], std::move(req.values[i]), woken);
      return;
    case QueryType::QUEUE_PUSH:
      state.queue_push(req.keys[0], std::move(req.values[0]), woken);
      return;
    case QueryType::QUEUE_POP: {
      int64_t length = 0;
      auto value = state.queue_pop(req.keys[0], length);
      w.i64(length);
      if (value) w.bytes(*value);
      return;
    }
    case QueryType::QUEUE_LEN:
      w.i64(state.queue_len(req.keys[0]));
      return;
    case QueryType::LIST_KEYS: {
      auto keys = state.keys();
      w.i64(static_cast<int64_t>(keys.size()));
      for (const auto& key : keys) w.string(key);
      return;
    }
    case QueryType::BARRIER:
      if (state.is_waiting(client))
        throw_error(ErrorCode::InvalidArgument, "BARRIER while a WAIT is pending");
      if (state.barrier(client, req.keys[0], req.delta, woken))
        w.u8(static_cast<uint8_t>(WaitResponse::STOP_WAITING));
      return;
    case QueryType::VALIDATE:
    case QueryType::AUTH:
      break;
  }
  throw_error(ErrorCode::InvalidArgument, str(to_string(req.type), " after the handshake"));
}

}  // namespace weft::store
