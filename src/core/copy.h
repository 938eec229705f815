// Bulk copies that stay fast whatever the alignment of the two addresses.
//
// glibc's memcpy (for mid sizes) and the kernel's copies to and from user
// memory (process_vm_readv, recv) move bytes with `rep movsb`. On the AMD
// EPYC VMs this project is measured on, that instruction slows down ~20x
// when the destination sits 1-31 bytes past the source modulo 64 (measured:
// 256 KiB memcpy 2.9 GB/s at a distance of 8 or 16 bytes, 33 GB/s at 0; a
// 256 KiB process_vm_readv 4x slower), and std::vector's storage sits 16
// bytes past a page boundary while users' buffers usually start on one. Two
// remedies, both here:
//   - buffers weft owns are page-aligned (AlignedBuffer), and where the
//     source is someone else's, weft places its destination at the source's
//     offset modulo kCopyAlign (same_offset_as);
//   - copy_bytes checks the distance and, when it is a slow one, copies with
//     vector loads and aligned stores instead of memcpy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace weft {

inline constexpr size_t kCopyAlign = 64;

// Whether dst - src is not a multiple of kCopyAlign.
inline bool mutually_misaligned(const void* dst, const void* src) {
  return (reinterpret_cast<uintptr_t>(dst) - reinterpret_cast<uintptr_t>(src)) % kCopyAlign != 0;
}

// The address in [base, base + kCopyAlign) at `like`'s offset modulo
// kCopyAlign (base must be kCopyAlign-aligned and have that much slack).
inline char* same_offset_as(char* base, uint64_t like) {
  return base + like % kCopyAlign;
}

// glibc's memcpy uses `rep movsb` from about this size up to about 1 MiB
// (above, its vector loop and non-temporal stores do not care about the
// distance; measured equal at 1-4 MiB).
inline constexpr size_t kRepMovsbMinBytes = 2048;
inline constexpr size_t kRepMovsbMaxBytes = size_t{1} << 20;

namespace detail {
// Vector loads and aligned stores (copy.cc).
void copy_misaligned(void* dst, const void* src, size_t bytes);
}  // namespace detail

// memcpy for buffers that do not overlap; null pointers are fine for 0 bytes.
// Inline: the small copies of the tiniest collectives stay a memcpy call.
inline void copy_bytes(void* dst, const void* src, size_t bytes) {
  if (bytes >= kRepMovsbMinBytes && bytes <= kRepMovsbMaxBytes && mutually_misaligned(dst, src))
    return detail::copy_misaligned(dst, src, bytes);
  if (bytes) std::memcpy(dst, src, bytes);
}

// The same for a destination that will not be read again soon (the user's
// output of a large collective): non-temporal stores skip the read for
// ownership of every destination line and leave the caches to the data
// the peers are about to read.
void stream_copy(void* dst, const void* src, size_t bytes);

// A page-aligned heap buffer that grows and never shrinks (contents are not
// kept across growth).
class AlignedBuffer {
 public:
  // The buffer, grown to at least `bytes` first.
  char* get(size_t bytes);
  char* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, Free> data_;
  size_t size_ = 0;
};

}  // namespace weft
