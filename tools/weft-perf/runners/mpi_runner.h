// The Open MPI side of the comparison: MPI_Allreduce, MPI_Allgather,
// MPI_Reduce_scatter_block, MPI_Bcast under mpirun (shared memory within a
// host; TCP when mpirun is given --mca btl tcp,self).
#pragma once

#include <string>

#include "sweep.h"

namespace weft::perf {

class MpiRunner final : public Runner {
 public:
  // MPI_Init must have been called.
  MpiRunner();

  std::string library() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int nranks() const override { return nranks_; }
  void barrier() override;
  double sum_all(double value) override;
  std::vector<std::string> algorithms(Collective c, bool in_place) override;
  Prepared prepare(const OpSpec& spec) override;
  std::string describe() const override;

  // Set when main() tuned glibc's malloc (see mpi_main.cc), for the header.
  std::string malloc_note;

 private:
  int rank_ = 0;
  int nranks_ = 1;
};

}  // namespace weft::perf
