#include "weft/error.h"

#include <gtest/gtest.h>

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
