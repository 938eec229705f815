// core/recycling_allocator.h: blocks come back on the thread that freed them,
// up to the cap; other sizes and arrays bypass the lists; a thread's list is
// released at its exit; allocate_shared objects are constructed and destroyed
// as usual.
#include "core/recycling_allocator.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace weft {
namespace {

struct Probe {
  static inline int alive = 0;
  explicit Probe(int v) : value(v) { ++alive; }
  ~Probe() { --alive; }
  int value;
  char pad[200];
};

TEST(RecyclingAllocator, AFreedBlockIsHandedOutAgainOnItsThread) {
  RecyclingAllocator<Probe> alloc;
  Probe* first = alloc.allocate(1);
  alloc.deallocate(first, 1);
  Probe* second = alloc.allocate(1);
  EXPECT_EQ(second, first);
  alloc.deallocate(second, 1);
}

TEST(RecyclingAllocator, KeepsAtMostTheCapPerThread) {
  using List = detail::BlockList<sizeof(Probe), alignof(Probe)>;
  std::thread([] {
    RecyclingAllocator<Probe> alloc;
    std::vector<Probe*> blocks;
    for (uint32_t i = 0; i < List::kKeep + 10; ++i) blocks.push_back(alloc.allocate(1));
    for (Probe* p : blocks) alloc.deallocate(p, 1);
    // The first kKeep freed are kept (the last of them comes back first);
    // the 10 freed after the list was full went to operator delete.
    std::set<Probe*> kept(blocks.begin(), blocks.begin() + List::kKeep);
    std::vector<Probe*> again;
    for (uint32_t i = 0; i < List::kKeep; ++i) again.push_back(alloc.allocate(1));
    EXPECT_EQ(again.front(), blocks[List::kKeep - 1]);
    EXPECT_EQ(std::set<Probe*>(again.begin(), again.end()), kept);
    for (Probe* p : again) alloc.deallocate(p, 1);
  }).join();
}

TEST(RecyclingAllocator, ABlockFreedOnAnotherThreadJoinsThatThreadsList) {
  RecyclingAllocator<Probe> alloc;
  Probe* made_here = alloc.allocate(1);
  Probe* reused_there = nullptr;
  std::thread([&] {
    alloc.deallocate(made_here, 1);
    reused_there = alloc.allocate(1);
    alloc.deallocate(reused_there, 1);
  }).join();
  EXPECT_EQ(reused_there, made_here);
}

TEST(RecyclingAllocator, ArraysBypassTheList) {
  RecyclingAllocator<Probe> alloc;
  Probe* one = alloc.allocate(1);
  alloc.deallocate(one, 1);
  Probe* many = alloc.allocate(3);
  EXPECT_NE(many, one);
  alloc.deallocate(many, 3);
  EXPECT_EQ(alloc.allocate(1), one);  // the single block is still there
  alloc.deallocate(one, 1);
}

TEST(RecyclingAllocator, AllocateSharedConstructsAndDestroys) {
  int before = Probe::alive;
  std::vector<std::shared_ptr<Probe>> live;
  for (int i = 0; i < 100; ++i) live.push_back(std::allocate_shared<Probe>(RecyclingAllocator<Probe>(), i));
  EXPECT_EQ(Probe::alive, before + 100);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(live[i]->value, i);
  live.clear();
  EXPECT_EQ(Probe::alive, before);
  auto again = std::allocate_shared<Probe>(RecyclingAllocator<Probe>(), 7);
  EXPECT_EQ(again->value, 7);
}

}  // namespace
}  // namespace weft
