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

// memcpy for buffers that do not overlap; null pointers are fine for 0 bytes.
void copy_bytes(void* dst, const void* src, size_t bytes);

// The same for a destination that will not be read again soon (the user's
// output of a large collective): non-temporal stores skip the read for
// ownership of every destination line and leave the caches to the data
// the peers are about to read.
void stream_copy(void* dst, const void* src, size_t bytes);

// A page-aligned heap buffer that grows and never shrinks (contents are not
// kept across growth).
class AlignedBuffer {
 public:
  char* get(size_t bytes);
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, Free> data_;
  size_t size_ = 0;
};

}  // namespace weft
