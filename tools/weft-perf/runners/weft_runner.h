// weft itself: one rank of a weft::Communicator on host memory, the
// operations launched back to back and waited for together (as nccl-tests
// launches its iterations), rank and world from the environment that
// weft-perf --np, weftrun or torchrun set.
#pragma once

#include <vector>

#include "runner.h"
#include "weft/communicator.h"

namespace weft::perf {

class WeftRunner final : public Runner {
 public:
  explicit WeftRunner(Communicator comm) : comm_(std::move(comm)) {}

  std::string library() const override { return "weft"; }
  int rank() const override { return comm_.rank(); }
  int nranks() const override { return comm_.size(); }
  void barrier() override { comm_.barrier().wait(); }
  double sum_all(double value) override;
  std::vector<std::string> algorithms(Collective c, bool in_place) override;
  Prepared prepare(const OpSpec& spec) override;
  std::string describe() const override;

 private:
  Communicator comm_;
};

}  // namespace weft::perf
