#include "weft/error.h"

#include <cstring>

namespace weft {

const char* to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::Timeout: return "Timeout";
    case ErrorCode::PeerLost: return "PeerLost";
    case ErrorCode::Mismatch: return "Mismatch";
    case ErrorCode::Aborted: return "Aborted";
    case ErrorCode::SystemError: return "SystemError";
    case ErrorCode::CudaError: return "CudaError";
    case ErrorCode::Unsupported: return "Unsupported";
    case ErrorCode::Internal: return "Internal";
  }
  return "Unknown";
}

Error::Error(ErrorCode code, const std::string& message)
    : std::runtime_error(str("[", to_string(code), "] ", message)),
      code_(code),
      message_(message) {}

void throw_error(ErrorCode code, const std::string& message) { throw Error(code, message); }

void throw_system_error(const std::string& what, int err) {
  char buf[256];
  // GNU strerror_r returns the message pointer (may not use buf).
  const char* text = strerror_r(err, buf, sizeof buf);
  throw Error(ErrorCode::SystemError, str(what, ": ", text, " (errno ", err, ")"));
}

void throw_errno(const std::string& what) { throw_system_error(what, errno); }

}  // namespace weft
