// copy_bytes and stream_copy must copy exactly, whatever the distance between source and
// destination modulo 64 and whatever the length (head, 64-byte body, tail),
// on both of its paths (memcpy and the vector loop); AlignedBuffer must hand
// out page-aligned memory that keeps its address until it has to grow.
#include "core/copy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace weft {
namespace {

// A byte pattern no shifted copy of itself matches (period 251, prime).
uint8_t pattern(size_t i) { return static_cast<uint8_t>(i % 251 + 1); }

void expect_exact_copies(void (*copy)(void*, const void*, size_t)) {
  const size_t lengths[] = {1, 63, 64, 65, 2047, 2048, 4096 + 17, 65536 + 3, 262144, (1u << 20) + 9};
  std::vector<uint8_t> src_store((1u << 20) + 256), dst_store((1u << 20) + 256);
  for (size_t i = 0; i < src_store.size(); ++i) src_store[i] = pattern(i);
  for (size_t src_off : {0u, 5u}) {
    for (size_t dst_off : {0u, 1u, 8u, 16u, 31u, 32u, 48u, 63u}) {
      for (size_t n : lengths) {
        std::fill(dst_store.begin(), dst_store.end(), 0);
        copy(dst_store.data() + dst_off, src_store.data() + src_off, n);
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ(dst_store[dst_off + i], pattern(src_off + i))
              << "byte " << i << " of " << n << ", src +" << src_off << ", dst +" << dst_off;
        }
        // Nothing around the destination range is touched.
        if (dst_off > 0) {
          ASSERT_EQ(dst_store[dst_off - 1], 0);
        }
        ASSERT_EQ(dst_store[dst_off + n], 0) << n << " bytes at +" << dst_off;
      }
    }
  }
}

TEST(CopyBytes, CopiesEveryByteAtEveryDistanceAndLength) { expect_exact_copies(copy_bytes); }
TEST(StreamCopy, CopiesEveryByteAtEveryDistanceAndLength) { expect_exact_copies(stream_copy); }

TEST(CopyBytes, ZeroBytesAcceptsNullPointers) {
  copy_bytes(nullptr, nullptr, 0);  // count-0 collectives pass null buffers
}

TEST(CopyBytes, MutualMisalignmentIsTheDistanceModulo64) {
  alignas(64) static char buf[256];
  EXPECT_FALSE(mutually_misaligned(buf + 64, buf));
  EXPECT_FALSE(mutually_misaligned(buf + 17, buf + 81));
  EXPECT_TRUE(mutually_misaligned(buf + 16, buf));
  EXPECT_TRUE(mutually_misaligned(buf, buf + 16));
  // same_offset_as puts a destination at the source's offset.
  EXPECT_FALSE(mutually_misaligned(same_offset_as(buf, reinterpret_cast<uint64_t>(buf + 40)), buf + 40));
  EXPECT_EQ(same_offset_as(buf, 64 * 1000 + 7), buf + 7);
}

TEST(AlignedBuffer, IsPageAlignedAndGrowsOnlyWhenAskedForMore) {
  AlignedBuffer b;
  EXPECT_EQ(b.get(0), nullptr);
  char* p = b.get(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
  EXPECT_EQ(b.size(), 4096u);
  EXPECT_EQ(b.get(4096), p);  // fits: same memory
  char* q = b.get(3 * 4096 + 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % 4096, 0u);
  EXPECT_EQ(b.size(), 4u * 4096);
  q[4 * 4096 - 1] = 1;  // the whole rounded size is usable
}

}  // namespace
}  // namespace weft
