// WEFT_CPU_ISA as a fresh process sees it. Its own executable: the level is
// chosen once per process, and reduce_test switches levels with the testing
// hook, which would hide the variable.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "core/cpu_isa.h"
#include "weft/error.h"
#include "weft/reduce.h"

namespace weft {
namespace {

// A bad value fails every call (nothing is cached), naming the variable.
TEST(ReduceEnv, UnknownLevelIsAnError) {
  setenv("WEFT_CPU_ISA", "sse9", 1);
  try {
    reduce_cpu_isa();
    FAIL() << "WEFT_CPU_ISA=sse9 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(e.message(), "WEFT_CPU_ISA=sse9 is not one of auto, portable, avx2, avx512");
  }
  unsetenv("WEFT_CPU_ISA");
}

TEST(ReduceEnv, PortableIsHonouredAndKernelsStillWork) {
  setenv("WEFT_CPU_ISA", "portable", 1);
  EXPECT_EQ(reduce_cpu_isa(), CpuIsa::portable);
  float a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
  reduce_inplace(a, b, 3, DataType::f32, ReduceOp::max);
  EXPECT_EQ(a[2], 6.0f);
  unsetenv("WEFT_CPU_ISA");
}

}  // namespace
}  // namespace weft
