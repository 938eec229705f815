#include "ipc/registration_client.h"

#include <cstring>
#include <vector>

#include "ipc/protocol.h"
#include "ipc/unix_socket.h"
#include "weft/error.h"
#include "weft/log.h"

namespace weft::ipc {

struct RegistrationClient::Outcome {
  wire::Reply reply;
};

RegistrationClient::RegistrationClient(const std::string& address, int rank, int peer_rank,
                                       std::chrono::milliseconds timeout)
    : rank_(rank), peer_rank_(peer_rank), timeout_(timeout) {
  try {
    sock_ = connect_unix(address, timeout);
  } catch (const Error& e) {
    throw_error(e.code(), str("rank ", rank_, ": connecting to the registration service of peer rank ",
                              peer_rank_, ": ", e.message()));
  }
}

RegistrationClient::Outcome RegistrationClient::call(const void* request, size_t bytes, int fd,
                                                     uint64_t request_id, const char* what) {
  auto context = [&] { return str("rank ", rank_, ": ", what, " #", request_id, " at peer rank ", peer_rank_); };
  if (failed_)
    throw_error(*failed_, str(context(), ": the connection failed earlier (", to_string(*failed_),
                              ") and was closed"));
  std::optional<Message> msg;
  try {
    std::span<const int> fds(&fd, fd >= 0 ? 1 : 0);
    send_message(sock_.get(), {static_cast<const std::byte*>(request), bytes}, fds, timeout_);
    msg = recv_message(sock_.get(), sizeof(wire::Reply) + wire::kMaxErrorText, timeout_);
  } catch (const Error& e) {
    fail(e.code(), str(context(), ": ", e.message()));  // a request may be half-served
  }
  if (!msg)
    fail(ErrorCode::PeerLost,
         str(context(), ": peer rank ", peer_rank_, " closed its registration service connection"));
  Outcome out;
  if (msg->payload.size() < sizeof(wire::Reply))
    fail(ErrorCode::Mismatch, str(context(), ": short reply (", msg->payload.size(), " bytes)"));
  std::memcpy(&out.reply, msg->payload.data(), sizeof(wire::Reply));
  const wire::Reply& r = out.reply;
  if (r.magic != wire::kMagic || r.version != wire::kVersion || r.type != wire::Type::Reply ||
      r.request_id != request_id || r.rank != peer_rank_) {
    fail(ErrorCode::Mismatch,
         str(context(), ": unexpected reply (request #", r.request_id, " from rank ", r.rank,
             ", magic ", r.magic, " v", r.version, ")"));
  }
  if (r.status != 0) {
    std::string text(reinterpret_cast<const char*>(msg->payload.data()) + sizeof(wire::Reply),
                     msg->payload.size() - sizeof(wire::Reply));
    int code = r.status - 1;
    auto ec = code >= 0 && code <= static_cast<int>(ErrorCode::Internal) ? static_cast<ErrorCode>(code)
                                                                         : ErrorCode::Internal;
    throw_error(ec, str(context(), " failed there: ", text));
  }
  return out;
}

void RegistrationClient::fail(ErrorCode code, const std::string& message) {
  sock_.reset();
  failed_ = code;
  throw_error(code, message);
}

RemoteMapping RegistrationClient::import(const ExportDesc& desc) {
  std::lock_guard lock(mu_);
  wire::Request req;
  req.type = wire::Type::Import;
  req.kind = desc.kind;
  req.rank = rank_;
  req.request_id = next_request_++;
  req.size = desc.size;
  req.offset = desc.offset;
  req.legacy = desc.legacy;
  int fd = -1;
  if (desc.kind == HandleKind::PosixFd) {
    WEFT_REQUIRE(desc.fd >= 0, "rank ", rank_, ": import at peer rank ", peer_rank_,
                 ": posix-fd export without a descriptor");
    fd = desc.fd;
  }
  Outcome out = call(&req, sizeof(req), fd, req.request_id, "import");
  return RemoteMapping{out.reply.mapping_id, static_cast<uintptr_t>(out.reply.address)};
}

void RegistrationClient::release(uint64_t mapping_id) {
  std::lock_guard lock(mu_);
  wire::Request req;
  req.type = wire::Type::Release;
  req.rank = rank_;
  req.request_id = next_request_++;
  req.mapping_id = mapping_id;
  call(&req, sizeof(req), -1, req.request_id, "release");
}

}  // namespace weft::ipc
