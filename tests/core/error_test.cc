#include "weft/error.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>

namespace weft {
namespace {

TEST(Error, CarriesCodeAndMessage) {
  try {
    throw_error(ErrorCode::PeerLost, str("rank ", 3, ": allreduce #", 1842, ": peer rank 5 closed"));
    FAIL() << "throw_error returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::PeerLost);
    EXPECT_EQ(e.message(), "rank 3: allreduce #1842: peer rank 5 closed");
    EXPECT_STREQ(e.what(), "[PeerLost] rank 3: allreduce #1842: peer rank 5 closed");
  }
}

TEST(Error, SystemErrorNamesErrno) {
  try {
    throw_system_error("connect 10.0.0.1:80", ECONNREFUSED);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::SystemError);
    EXPECT_EQ(e.message(), "connect 10.0.0.1:80: Connection refused (errno 111)");
  }
}

TEST(Error, RequireThrowsInvalidArgument) {
  int count = -1;
  try {
    WEFT_REQUIRE(count >= 0, "count must be >= 0, got ", count);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(e.message(), "count must be >= 0, got -1");
  }
}

TEST(Error, EveryCodeHasAName) {
  for (auto code : {ErrorCode::InvalidArgument, ErrorCode::Timeout, ErrorCode::PeerLost,
                    ErrorCode::Mismatch, ErrorCode::Aborted, ErrorCode::SystemError,
                    ErrorCode::CudaError, ErrorCode::Unsupported, ErrorCode::Internal})
    EXPECT_STRNE(to_string(code), "Unknown");
}

}  // namespace
}  // namespace weft

namespace weft {
namespace {

// str() appends text and numbers itself (no ostringstream); what it builds
// must be exactly what an ostringstream prints, for every such type.
template <typename... Args>
std::string streamed(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

TEST(Str, AppendsTextAndNumbersAsAnOstreamPrintsThem) {
  const std::string s = "string";
  const std::string_view sv = "view";
  const char* cs = "pointer";
  char mutable_text[] = "array";
  EXPECT_EQ(str("literal ", s, ' ', sv, ' ', cs, ' ', mutable_text), "literal string view pointer array");
  EXPECT_EQ(str('x', static_cast<signed char>('y'), static_cast<unsigned char>('z')),
            streamed('x', static_cast<signed char>('y'), static_cast<unsigned char>('z')));
  EXPECT_EQ(str(true, false), streamed(true, false));
  EXPECT_EQ(str(short(-7), 0, -2147483647 - 1, 4294967295u, int64_t(-9007199254740993), uint64_t(18446744073709551615ull)),
            streamed(short(-7), 0, -2147483647 - 1, 4294967295u, int64_t(-9007199254740993),
                     uint64_t(18446744073709551615ull)));
  for (double d : {0.0, -0.0, 1.0, 0.5, 1.0 / 3, 123456.0, 1234567.0, 1e-5, 1e-7, 6.02214076e23, 2.5e-310,
                   1e300 * 1e300, -1e300 * 1e300}) {
    EXPECT_EQ(str(d), streamed(d)) << d;
    EXPECT_EQ(str(static_cast<float>(d)), streamed(static_cast<float>(d))) << d;
  }
  EXPECT_EQ(str(1.5L), streamed(1.5L));
}

struct Point {
  int x, y;
};
std::ostream& operator<<(std::ostream& out, const Point& p) { return out << "(" << p.x << ", " << p.y << ")"; }

TEST(Str, FallsBackToAnOstreamForAnythingElse) {
  // Manipulators and types with their own operator<< keep their meaning.
  EXPECT_EQ(str(std::hex, 255, " ", std::dec, 255), "ff 255");
  EXPECT_EQ(str("point ", Point{1, -2}, " x ", 3), "point (1, -2) x 3");
  const void* p = reinterpret_cast<const void*>(0x1234);
  EXPECT_EQ(str("at ", p), streamed("at ", p));
}

}  // namespace
}  // namespace weft
