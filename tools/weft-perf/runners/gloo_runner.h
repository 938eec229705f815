// The Gloo side of the comparison: Debian's libgloo, TCP transport, one
// process per rank, rendezvous through a gloo FileStore directory.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "sweep.h"

namespace gloo {
class Context;
}

namespace weft::perf {

struct GlooConfig {
  int rank = 0;
  int nranks = 1;
  std::string store_dir;  // shared directory for gloo's FileStore (must be fresh per run)
  std::string prefix = "weft-perf-gloo";
  std::string iface;      // bind the TCP device to this interface (e.g. a veth)...
  std::string hostname = "127.0.0.1";  // ...or to this address (when iface is empty)
  std::chrono::milliseconds timeout{60000};
};

class GlooRunner final : public Runner {
 public:
  explicit GlooRunner(const GlooConfig& config);  // collective: connects the full mesh
  ~GlooRunner() override;

  std::string library() const override { return "gloo"; }
  int rank() const override { return rank_; }
  int nranks() const override { return nranks_; }
  void barrier() override;
  double sum_all(double value) override;
  std::vector<std::string> algorithms(Collective c, bool in_place) override;
  Prepared prepare(const OpSpec& spec) override;
  void warm_up(std::size_t max_bytes) override;
  std::string describe() const override;

 private:
  std::shared_ptr<gloo::Context> context_;
  int rank_;
  int nranks_;
  std::string bound_to_;
};

}  // namespace weft::perf
