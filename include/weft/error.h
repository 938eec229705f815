// weft::Error — the one error type of the C++ API.
//
// Every failure surfaces as a weft::Error carrying a code and a message that
// names what went wrong in context: the rank, the peer, the operation and its
// sequence number where those exist ("rank 3: allreduce #1842 (16 MiB f32 sum):
// peer rank 5 closed its connection").
#pragma once

#include <charconv>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace weft {

enum class ErrorCode {
  InvalidArgument,  // the caller passed something that can never work
  Timeout,          // a deadline passed while waiting for something
  PeerLost,         // a peer process died or closed its connection
  Mismatch,         // ranks disagree (op, count, dtype, root, token, ...)
  Aborted,          // the operation was cancelled by abort()
  SystemError,      // an OS call failed (message carries errno text)
  CudaError,        // a CUDA runtime/driver call failed
  Unsupported,      // valid request this build or machine cannot serve
  Internal,         // a broken invariant inside weft (a bug)
};

const char* to_string(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message);
  ErrorCode code() const noexcept { return code_; }
  // The message without the "[Code] " prefix that what() carries.
  const std::string& message() const noexcept { return message_; }

 private:
  ErrorCode code_;
  std::string message_;
};

namespace detail {

template <typename T>
inline constexpr bool is_char_v =
    std::is_same_v<T, char> || std::is_same_v<T, signed char> || std::is_same_v<T, unsigned char>;

// Text and numbers: str() appends these itself, as an ostream would print them.
// (A constexpr bool, not a concept: CUDA sources include this as C++17.)
template <typename T>
inline constexpr bool appends_directly_v =
    std::is_convertible_v<const T&, std::string_view> || std::is_arithmetic_v<T>;

template <typename T>
void append(std::string& out, const T& value) {
  if constexpr (is_char_v<T>) {
    out.push_back(static_cast<char>(value));  // ostream prints chars as characters
  } else if constexpr (std::is_same_v<T, bool>) {
    out.push_back(value ? '1' : '0');
  } else if constexpr (std::is_arithmetic_v<T>) {
    char buf[64];
    std::to_chars_result r;
    if constexpr (std::is_floating_point_v<T>)
      r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general, 6);  // ostream's %g
    else
      r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
  } else if constexpr (std::is_pointer_v<T>) {
    if (value != nullptr) out.append(value);
  } else {
    out.append(std::string_view(value));
  }
}

}  // namespace detail

// Concatenates any streamable values: str("rank ", r, ": ", what).
// Strings and numbers are appended directly: an ostringstream (and its
// locale) costs about a microsecond, and messages are built on hot paths
// (operation descriptions). Anything else (manipulators such as std::hex,
// enums and types with their own operator<<) goes through an ostringstream.
template <typename... Args>
std::string str(const Args&... args) {
  if constexpr ((detail::appends_directly_v<Args> && ...)) {
    std::string out;
    (detail::append(out, args), ...);
    return out;
  } else {
    std::ostringstream out;
    (out << ... << args);
    return out.str();
  }
}

[[noreturn]] void throw_error(ErrorCode code, const std::string& message);
// Throws SystemError with "<what>: <strerror(err)>".
[[noreturn]] void throw_system_error(const std::string& what, int err);
// Throws SystemError with errno.
[[noreturn]] void throw_errno(const std::string& what);

}  // namespace weft

// Argument validation at API boundaries: WEFT_REQUIRE(count >= 0, "count must be ...").
#define WEFT_REQUIRE(cond, ...)                                                  \
  do {                                                                           \
    if (!(cond)) ::weft::throw_error(::weft::ErrorCode::InvalidArgument,         \
                                     ::weft::str(__VA_ARGS__));                  \
  } while (0)

// Internal invariants: a failure is a weft bug, reported with file and line.
#define WEFT_ASSERT(cond)                                                        \
  do {                                                                           \
    if (!(cond)) ::weft::throw_error(::weft::ErrorCode::Internal,                \
                                     ::weft::str(__FILE__, ":", __LINE__,        \
                                                 ": assertion failed: " #cond)); \
  } while (0)
