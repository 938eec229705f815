// A POSIX shared-memory segment mapped into this process.
//
// Lifetime, so that a killed process never leaves a segment behind: one
// process creates the name exclusively, the others open it, and the name is
// unlinked as soon as every member has it mapped (see shm/group.h). From then
// on the memory lives exactly as long as some process maps it; the kernel
// frees it when the last one exits, however it exits.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace weft::shm {

class Segment {
 public:
  using Clock = std::chrono::steady_clock;

  // Creates `name` ("/weft-...") with O_EXCL, sizes it to `bytes`, maps it.
  static Segment create(const std::string& name, size_t bytes, bool populate);
  // Opens a segment another process creates, retrying until it exists with
  // `bytes` bytes (the creator sizes it after creating it); Timeout after
  // `deadline`.
  static Segment open(const std::string& name, size_t bytes, bool populate,
                      Clock::time_point deadline);

  Segment() = default;
  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  ~Segment();

  char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }
  // Removes the name (idempotent; the mapping stays valid).
  void unlink();

 private:
  Segment(std::string name, char* data, size_t size) : name_(std::move(name)), data_(data), size_(size) {}
  void release() noexcept;
  std::string name_;
  char* data_ = nullptr;
  size_t size_ = 0;
  bool unlinked_ = false;
};

}  // namespace weft::shm
