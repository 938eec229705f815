// RecyclingAllocator: an allocator for objects made and dropped at a high
// rate on the same threads (a Work's state: one per collective), for
// std::allocate_shared. Single objects freed on a thread are kept on that
// thread's list of blocks of their size and handed out again there, up to
// kKeep blocks; everything else goes to operator new/delete.
//
// Why: weft-perf (like nccl-tests) queues thousands of small collectives
// before it waits on them. Their states, freed together, came back to malloc
// as one large free area that glibc returned to the kernel, so the next
// batch faulted fresh zeroed pages in again: malloc, free and those page
// faults were ~15 % of an 8-byte allreduce's samples on the 2-core VM.
//
// A block freed on another thread than the one that made it joins the
// freeing thread's list; lists are per thread, so no lock. A thread's list
// is released when the thread exits; blocks freed after that (during the
// thread's own teardown) go to operator delete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace weft {

namespace detail {

template <size_t Size, size_t Align>
class BlockList {
 public:
  // Enough for the batches benchmarks queue (weft-perf -n 20000); at most
  // 64 Ki blocks a thread stay allocated (10 MiB of a Work's 160 bytes).
  static constexpr uint32_t kKeep = 1u << 16;

  static void* take() {
    Node* node = head_;
    if (node == nullptr) return ::operator new(Size, std::align_val_t(Align));
    head_ = node->next;
    --count_;
    return node;
  }

  static void give(void* block) {
    if (closed_ || count_ >= kKeep) {
      ::operator delete(block, std::align_val_t(Align));
      return;
    }
    static thread_local Releaser releaser;  // constructed on first give: frees at thread exit
    auto* node = static_cast<Node*>(block);
    node->next = head_;
    head_ = node;
    ++count_;
  }

 private:
  struct Node {
    Node* next;
  };
  static_assert(Size >= sizeof(Node));

  struct Releaser {
    ~Releaser() {
      closed_ = true;
      while (Node* node = head_) {
        head_ = node->next;
        ::operator delete(node, std::align_val_t(Align));
      }
      count_ = 0;
    }
  };

  // Trivially destructible: still readable while other thread_local objects
  // are destroyed at thread exit.
  static inline thread_local Node* head_ = nullptr;
  static inline thread_local uint32_t count_ = 0;
  static inline thread_local bool closed_ = false;
};

}  // namespace detail

template <class T>
class RecyclingAllocator {
 public:
  using value_type = T;

  RecyclingAllocator() = default;
  template <class U>
  RecyclingAllocator(const RecyclingAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    if (n == 1) return static_cast<T*>(List::take());
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(alignof(T))));
  }

  void deallocate(T* p, size_t n) noexcept {
    if (n == 1) return List::give(p);
    ::operator delete(p, std::align_val_t(alignof(T)));
  }

  template <class U>
  bool operator==(const RecyclingAllocator<U>&) const noexcept {
    return true;
  }

 private:
  using List = detail::BlockList<(sizeof(T) > sizeof(void*) ? sizeof(T) : sizeof(void*)), alignof(T)>;
};

}  // namespace weft
