// A POSIX shared-memory segment mapped into this process.
//
// Lifetime, so that a killed process never leaves a segment behind: one
// process creates the name exclusively, the others open it, and the name is
// unlinked as soon as every member has it mapped (see shm/group.h). From then
// on the memory lives exactly as long as some process maps it; the kernel
// frees it when the last one exits, however it exits.
#pragma once

#include <cstddef>
#include <string>

namespace weft::shm {

class Segment {
 public:
  // Creates `name` ("/weft-...") with O_EXCL, sizes it to `bytes`, maps it.
  static Segment create(const std::string& name, size_t bytes, bool populate);
  // Opens a segment another process created; an empty Segment (data() null)
  // while it does not exist yet or is not sized yet (the creator sizes it
  // right after creating it). InvalidArgument for a segment of another size.
  static Segment try_open(const std::string& name, size_t bytes, bool populate);

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
