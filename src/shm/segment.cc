#include "shm/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "net/fd.h"
#include "weft/error.h"

namespace weft::shm {
namespace {

char* map(int fd, size_t bytes, bool populate, const std::string& name) {
  int flags = MAP_SHARED | (populate ? MAP_POPULATE : 0);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (p == MAP_FAILED) throw_errno(str("mmap of shared memory segment ", name));
  return static_cast<char*>(p);
}

}  // namespace

Segment Segment::create(const std::string& name, size_t bytes, bool populate) {
  net::Fd fd(::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
  if (!fd) throw_errno(str("shm_open(", name, ", O_CREAT | O_EXCL)"));
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) {
    const int e = errno;
    ::shm_unlink(name.c_str());
    errno = e;
    throw_errno(str("ftruncate of shared memory segment ", name, " to ", bytes, " bytes"));
  }
  try {
    return Segment(name, map(fd.get(), bytes, populate, name), bytes);
  } catch (...) {
    ::shm_unlink(name.c_str());
    throw;
  }
}

Segment Segment::try_open(const std::string& name, size_t bytes, bool populate) {
  net::Fd fd(::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0600));
  if (!fd) {
    if (errno == ENOENT) return Segment();
    throw_errno(str("shm_open(", name, ")"));
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw_errno(str("fstat of ", name));
  if (st.st_size == 0) return Segment();
  WEFT_REQUIRE(static_cast<size_t>(st.st_size) == bytes, "shared memory segment ", name, " has ",
               st.st_size, " bytes, expected ", bytes);
  return Segment(name, map(fd.get(), bytes, populate, name), bytes);
}

Segment::Segment(Segment&& other) noexcept { *this = std::move(other); }

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    release();
    name_ = std::move(other.name_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    unlinked_ = std::exchange(other.unlinked_, true);
  }
  return *this;
}

Segment::~Segment() { release(); }

void Segment::unlink() {
  if (unlinked_ || name_.empty()) return;
  unlinked_ = true;
  ::shm_unlink(name_.c_str());  // ENOENT: another member removed it first
}

void Segment::release() noexcept {
  if (data_) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace weft::shm
