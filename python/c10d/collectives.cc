// WeftBackend's collectives: each checks its tensors, stages them (tensors.h)
// and issues weft's asynchronous operations into one WeftWork.
//
// List forms go through one flat buffer: allreduce_coalesced concatenates,
// allgather / gather / alltoall receive into a buffer whose slices are copied
// into the output tensors at completion, reduce_scatter / scatter send from
// the concatenated inputs.
#include <c10/util/Exception.h>

#include <numeric>

#include "backend.h"
#include "tensors.h"

namespace weft::c10d_ext {
namespace {

size_t elements(const at::Tensor& t) { return static_cast<size_t>(t.numel()); }

std::vector<size_t> displacements(const std::vector<size_t>& counts) {
  std::vector<size_t> displs(counts.size(), 0);
  std::exclusive_scan(counts.begin(), counts.end(), displs.begin(), size_t{0});
  return displs;
}

// The tensors of an operation's list forms, as one list (for target()).
std::vector<at::Tensor> joined(std::vector<at::Tensor> first,
                               const std::vector<std::vector<at::Tensor>>& lists) {
  for (const auto& list : lists) {
    first.insert(first.end(), list.begin(), list.end());
  }
  return first;
}

// Every block the same size: weft's alltoall, which CUDA communicators have
// too (they lack alltoallv).
bool equal_blocks(const std::vector<size_t>& send, const std::vector<size_t>& recv) {
  return std::all_of(send.begin(), send.end(), [&](size_t c) { return c == send[0]; }) &&
         recv == send;
}

void check_list_size(const char* op, const char* role, size_t got, int size) {
  TORCH_CHECK_VALUE(got == static_cast<size_t>(size), "weft_cpp: ", op, ": ", got, " ", role,
                    " for a group of ", size);
}

}  // namespace

// --- reductions ------------------------------------------------------------------

c10::intrusive_ptr<::c10d::Work> WeftBackend::allreduce(std::vector<at::Tensor>& tensors,
                                                        const ::c10d::AllreduceOptions& opts) {
  return issuing("allreduce", [&] {
    const ReduceOp op = reduce_op("allreduce", opts.reduceOp);
    const Target where = target("allreduce", tensors, opts.timeout);
    auto work = make_work(::c10d::OpType::ALLREDUCE, "allreduce", tensors, where);
    for (const auto& t : tensors) {
      const DataType type = check_tensor("allreduce", t);
      at::Tensor buf = stage(*work, t, true);
      work->add(where.comm->allreduce(buf.data_ptr(), buf.data_ptr(), elements(buf), type, op,
                                      where.options));
    }
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::allreduce_coalesced(
    std::vector<at::Tensor>& tensors, const ::c10d::AllreduceCoalescedOptions& opts) {
  return issuing("allreduce_coalesced", [&] {
    const ReduceOp op = reduce_op("allreduce_coalesced", opts.reduceOp);
    const DataType type = check_same_dtype("allreduce_coalesced", tensors);
    const Target where = target("allreduce_coalesced", tensors, opts.timeout);
    auto work =
        make_work(::c10d::OpType::ALLREDUCE_COALESCED, "allreduce_coalesced", tensors, where);
    at::Tensor flat = flatten(*work, tensors);
    work->later([flat, tensors] {
      int64_t offset = 0;
      for (const auto& t : tensors) {
        t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
        offset += t.numel();
      }
    });
    work->add(where.comm->allreduce(flat.data_ptr(), flat.data_ptr(), elements(flat), type, op,
                                    where.options));
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::reduce(std::vector<at::Tensor>& tensors,
                                                     const ::c10d::ReduceOptions& opts) {
  return issuing("reduce", [&] {
    const ReduceOp op = reduce_op("reduce", opts.reduceOp);
    const int root = static_cast<int>(opts.rootRank);
    const Target where = target("reduce", tensors, opts.timeout);
    auto work = make_work(::c10d::OpType::REDUCE, "reduce", tensors, where);
    for (const auto& t : tensors) {
      const DataType type = check_tensor("reduce", t);
      at::Tensor buf = stage(*work, t, getRank() == root);
      work->add(where.comm->reduce(buf.data_ptr(), buf.data_ptr(), elements(buf), type, op, root,
                                   where.options));
    }
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::_reduce_scatter_base(
    at::Tensor& output, at::Tensor& input, const ::c10d::ReduceScatterOptions& opts) {
  return issuing("reduce_scatter", [&] {
    const ReduceOp op = reduce_op("reduce_scatter", opts.reduceOp);
    const DataType type = check_same_dtype("reduce_scatter", {output, input});
    TORCH_CHECK_VALUE(elements(input) == elements(output) * getSize(), "weft_cpp: reduce_scatter: "
                      "input of ", input.numel(), " elements for an output of ",
                      output.numel(), " on a group of ", getSize());
    const Target where = target("reduce_scatter", {output, input}, opts.timeout);
    auto work = make_work(::c10d::OpType::_REDUCE_SCATTER_BASE, "reduce_scatter", {output}, where);
    at::Tensor src = stage(*work, input, false);
    at::Tensor dst = stage(*work, output, true);
    work->add(where.comm->reduce_scatter(src.data_ptr(), dst.data_ptr(), elements(dst), type, op,
                                         where.options));
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::reduce_scatter(
    std::vector<at::Tensor>& outputs, std::vector<std::vector<at::Tensor>>& inputs,
    const ::c10d::ReduceScatterOptions& opts) {
  return issuing("reduce_scatter", [&] {
    const ReduceOp op = reduce_op("reduce_scatter", opts.reduceOp);
    check_list_size("reduce_scatter", "input lists", inputs.size(),
                    static_cast<int>(outputs.size()));
    const Target where = target("reduce_scatter", joined(outputs, inputs), opts.timeout);
    auto work = make_work(::c10d::OpType::REDUCE_SCATTER, "reduce_scatter", outputs, where);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const at::Tensor& out = outputs[i];
      check_list_size("reduce_scatter", "inputs", inputs[i].size(), getSize());
      std::vector<at::Tensor> all = inputs[i];
      all.push_back(out);
      const DataType type = check_same_dtype("reduce_scatter", all);
      for (const auto& t : inputs[i]) {
        TORCH_CHECK_VALUE(t.numel() == out.numel(), "weft_cpp: reduce_scatter: input of ",
                          t.numel(), " elements for an output of ", out.numel(),
                          " (weft needs equal blocks)");
      }
      at::Tensor src = flatten(*work, inputs[i]);
      at::Tensor dst = stage(*work, out, true);
      work->add(where.comm->reduce_scatter(src.data_ptr(), dst.data_ptr(), elements(dst), type, op,
                                           where.options));
    }
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::reduce_scatter_tensor_coalesced(
    std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
    const ::c10d::ReduceScatterOptions& opts) {
  return issuing("reduce_scatter", [&] {
    const ReduceOp op = reduce_op("reduce_scatter", opts.reduceOp);
    check_list_size("reduce_scatter", "inputs", inputs.size(), static_cast<int>(outputs.size()));
    const Target where = target("reduce_scatter", joined(outputs, {inputs}), opts.timeout);
    auto work = make_work(::c10d::OpType::COALESCED, "reduce_scatter", outputs, where);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const DataType type = check_same_dtype("reduce_scatter", {outputs[i], inputs[i]});
      TORCH_CHECK_VALUE(elements(inputs[i]) == elements(outputs[i]) * getSize(),
                        "weft_cpp: reduce_scatter: input of ", inputs[i].numel(),
                        " elements for an output of ", outputs[i].numel(), " on a group of ",
                        getSize());
      at::Tensor src = stage(*work, inputs[i], false);
      at::Tensor dst = stage(*work, outputs[i], true);
      work->add(where.comm->reduce_scatter(src.data_ptr(), dst.data_ptr(), elements(dst), type, op,
                                           where.options));
    }
    return launch(work);
  });
}

// --- data movement ---------------------------------------------------------------

c10::intrusive_ptr<::c10d::Work> WeftBackend::broadcast(std::vector<at::Tensor>& tensors,
                                                        const ::c10d::BroadcastOptions& opts) {
  return issuing("broadcast", [&] {
    const int root = static_cast<int>(opts.rootRank);
    const Target where = target("broadcast", tensors, opts.timeout);
    auto work = make_work(::c10d::OpType::BROADCAST, "broadcast", tensors, where);
    for (const auto& t : tensors) {
      const DataType type = check_tensor("broadcast", t);
      at::Tensor buf = stage(*work, t, getRank() != root);
      work->add(where.comm->broadcast(buf.data_ptr(), elements(buf), type, root, where.options));
    }
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::_allgather_base(
    at::Tensor& output, at::Tensor& input, const ::c10d::AllgatherOptions& opts) {
  return issuing("allgather", [&] {
    const DataType type = check_same_dtype("allgather", {output, input});
    TORCH_CHECK_VALUE(elements(output) == elements(input) * getSize(), "weft_cpp: allgather: output "
                      "of ", output.numel(), " elements for an input of ", input.numel(),
                      " on a group of ", getSize());
    const Target where = target("allgather", {output, input}, opts.timeout);
    auto work = make_work(::c10d::OpType::_ALLGATHER_BASE, "allgather", {output}, where);
    at::Tensor src = stage(*work, input, false);
    at::Tensor dst = stage(*work, output, true);
    work->add(where.comm->allgather(src.data_ptr(), dst.data_ptr(), elements(src), type,
                                    where.options));
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::allgather(
    std::vector<std::vector<at::Tensor>>& outputs, std::vector<at::Tensor>& inputs,
    const ::c10d::AllgatherOptions& opts) {
  return issuing("allgather", [&] {
    check_list_size("allgather", "output lists", outputs.size(),
                    static_cast<int>(inputs.size()));
    std::vector<at::Tensor> all_outputs;
    for (const auto& outs : outputs) {
      all_outputs.insert(all_outputs.end(), outs.begin(), outs.end());
    }
    const Target where = target("allgather", joined(inputs, outputs), opts.timeout);
    auto work = make_work(::c10d::OpType::ALLGATHER, "allgather", all_outputs, where);
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::vector<at::Tensor>& outs = outputs[i];
      check_list_size("allgather", "outputs", outs.size(), getSize());
      std::vector<at::Tensor> all = outs;
      all.push_back(inputs[i]);
      const DataType type = check_same_dtype("allgather", all);
      std::vector<size_t> counts;
      for (const auto& o : outs) {
        counts.push_back(elements(o));
      }
      TORCH_CHECK_VALUE(counts[getRank()] == elements(inputs[i]), "weft_cpp: allgather: output ",
                        getRank(), " has ", counts[getRank()], " elements but this rank's "
                        "input has ", inputs[i].numel());
      const size_t total = std::accumulate(counts.begin(), counts.end(), size_t{0});
      at::Tensor src = stage(*work, inputs[i], false);
      at::Tensor dst = gather_buffer(*work, inputs[i], total, outs);
      const bool equal = std::all_of(counts.begin(), counts.end(),
                                     [&](size_t c) { return c == counts[0]; });
      if (equal) {
        work->add(where.comm->allgather(src.data_ptr(), dst.data_ptr(), counts[0], type,
                                        where.options));
      } else {  // blocks of different sizes: allgatherv
        host_only(where, "all_gather with outputs of different sizes");
        const std::vector<size_t> displs = displacements(counts);
        work->add(where.comm->allgatherv(src.data_ptr(), dst.data_ptr(), counts, displs, type,
                                         where.options));
      }
    }
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::allgather_coalesced(
    std::vector<std::vector<at::Tensor>>& outputs, std::vector<at::Tensor>& inputs,
    const ::c10d::AllgatherOptions& opts) {
  return allgather(outputs, inputs, opts);
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::allgather_into_tensor_coalesced(
    std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
    const ::c10d::AllgatherOptions& opts) {
  return issuing("allgather", [&] {
    check_list_size("allgather", "inputs", inputs.size(), static_cast<int>(outputs.size()));
    const Target where = target("allgather", joined(outputs, {inputs}), opts.timeout);
    auto work = make_work(::c10d::OpType::COALESCED, "allgather", outputs, where);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const DataType type = check_same_dtype("allgather", {outputs[i], inputs[i]});
      TORCH_CHECK_VALUE(elements(outputs[i]) == elements(inputs[i]) * getSize(),
                        "weft_cpp: allgather: output of ", outputs[i].numel(),
                        " elements for an input of ", inputs[i].numel(), " on a group of ",
                        getSize());
      at::Tensor src = stage(*work, inputs[i], false);
      at::Tensor dst = stage(*work, outputs[i], true);
      work->add(where.comm->allgather(src.data_ptr(), dst.data_ptr(), elements(src), type,
                                      where.options));
    }
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::gather(
    std::vector<std::vector<at::Tensor>>& outputs, std::vector<at::Tensor>& inputs,
    const ::c10d::GatherOptions& opts) {
  return issuing("gather", [&] {
    const int root = static_cast<int>(opts.rootRank);
    check_list_size("gather", "inputs", inputs.size(), 1);
    const at::Tensor& in = inputs[0];
    const DataType type = check_tensor("gather", in, "input");
    std::vector<at::Tensor> outs;
    if (getRank() == root) {
      check_list_size("gather", "output lists", outputs.size(), 1);
      outs = outputs[0];
      check_list_size("gather", "outputs", outs.size(), getSize());
      std::vector<at::Tensor> all = outs;
      all.push_back(in);
      check_same_dtype("gather", all);
      for (const auto& o : outs) {
        TORCH_CHECK_VALUE(o.numel() == in.numel(), "weft_cpp: gather: output of ", o.numel(),
                          " elements for inputs of ", in.numel());
      }
    }
    const Target where = target("gather", joined({in}, {outs}), opts.timeout);
    host_only(where, "gather");
    auto work = make_work(::c10d::OpType::GATHER, "gather", outs, where);
    at::Tensor src = stage(*work, in, false);
    void* dst = nullptr;
    if (getRank() == root) {
      dst = gather_buffer(*work, in, elements(in) * getSize(), outs).data_ptr();
    }
    work->add(where.comm->gather(src.data_ptr(), dst, elements(in), type, root, where.options));
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::scatter(
    std::vector<at::Tensor>& outputs, std::vector<std::vector<at::Tensor>>& inputs,
    const ::c10d::ScatterOptions& opts) {
  return issuing("scatter", [&] {
    const int root = static_cast<int>(opts.rootRank);
    check_list_size("scatter", "outputs", outputs.size(), 1);
    const at::Tensor& out = outputs[0];
    const DataType type = check_tensor("scatter", out, "output");
    const Target where = target("scatter", joined(outputs, inputs), opts.timeout);
    host_only(where, "scatter");
    auto work = make_work(::c10d::OpType::SCATTER, "scatter", outputs, where);
    const void* src = nullptr;
    if (getRank() == root) {
      check_list_size("scatter", "input lists", inputs.size(), 1);
      check_list_size("scatter", "inputs", inputs[0].size(), getSize());
      std::vector<at::Tensor> all = inputs[0];
      all.push_back(out);
      check_same_dtype("scatter", all);
      for (const auto& t : inputs[0]) {
        TORCH_CHECK_VALUE(t.numel() == out.numel(), "weft_cpp: scatter: input of ", t.numel(),
                          " elements for an output of ", out.numel());
      }
      src = flatten(*work, inputs[0]).data_ptr();
    }
    at::Tensor dst = stage(*work, out, true);
    work->add(where.comm->scatter(src, dst.data_ptr(), elements(dst), type, root, where.options));
    return launch(work);
  });
}

void WeftBackend::add_alltoall(WeftWork& work, const Target& where, const at::Tensor& src,
                               const at::Tensor& dst, const std::vector<size_t>& send_counts,
                               const std::vector<size_t>& recv_counts, DataType type,
                               const char* uneven_what) {
  if (equal_blocks(send_counts, recv_counts)) {
    work.add(where.comm->alltoall(src.data_ptr(), dst.data_ptr(), send_counts[0], type,
                                  where.options));
    return;
  }
  host_only(where, uneven_what);
  work.add(where.comm->alltoallv(src.data_ptr(), send_counts, displacements(send_counts),
                                 dst.data_ptr(), recv_counts, displacements(recv_counts), type,
                                 where.options));
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::alltoall_base(
    at::Tensor& output, at::Tensor& input, std::vector<int64_t>& output_splits,
    std::vector<int64_t>& input_splits, const ::c10d::AllToAllOptions& opts) {
  return issuing("alltoall", [&] {
    const DataType type = check_same_dtype("alltoall", {output, input});
    const Target where = target("alltoall", {output, input}, opts.timeout);
    auto work = make_work(::c10d::OpType::ALLTOALL_BASE, "alltoall", {output}, where);
    at::Tensor src = stage(*work, input, false);
    at::Tensor dst = stage(*work, output, true);
    const size_t n = static_cast<size_t>(getSize());
    if (output_splits.empty() && input_splits.empty()) {
      TORCH_CHECK_VALUE(elements(input) % n == 0 && elements(input) == elements(output),
                        "weft_cpp: alltoall: input of ", input.numel(), " and output of ",
                        output.numel(), " elements do not split in ", n, " equal blocks");
      work->add(where.comm->alltoall(src.data_ptr(), dst.data_ptr(), elements(input) / n, type,
                                     where.options));
      return launch(work);
    }
    // Splits count rows of dim 0; an empty split list means equal blocks.
    auto counts = [&](const at::Tensor& t, const std::vector<int64_t>& splits, const char* role) {
      const size_t row = t.dim() > 0 && t.size(0) > 0 ? elements(t) / t.size(0) : 1;
      std::vector<size_t> c(n, elements(t) / n);
      if (!splits.empty()) {
        check_list_size("alltoall", role, splits.size(), getSize());
        for (size_t r = 0; r < n; ++r) {
          TORCH_CHECK_VALUE(splits[r] >= 0, "weft_cpp: alltoall: negative split ", splits[r]);
          c[r] = static_cast<size_t>(splits[r]) * row;
        }
      }
      TORCH_CHECK_VALUE(std::accumulate(c.begin(), c.end(), size_t{0}) == elements(t),
                        "weft_cpp: alltoall: ", role, " do not add up to the ", t.numel(),
                        " elements of the tensor");
      return c;
    };
    const std::vector<size_t> send_counts = counts(input, input_splits, "input splits");
    const std::vector<size_t> recv_counts = counts(output, output_splits, "output splits");
    add_alltoall(*work, where, src, dst, send_counts, recv_counts, type,
                 "all_to_all_single with uneven split sizes");
    return launch(work);
  });
}

c10::intrusive_ptr<::c10d::Work> WeftBackend::alltoall(std::vector<at::Tensor>& outputs,
                                                       std::vector<at::Tensor>& inputs,
                                                       const ::c10d::AllToAllOptions& opts) {
  return issuing("alltoall", [&] {
    check_list_size("alltoall", "inputs", inputs.size(), getSize());
    check_list_size("alltoall", "outputs", outputs.size(), getSize());
    std::vector<at::Tensor> all = inputs;
    all.insert(all.end(), outputs.begin(), outputs.end());
    const DataType type = check_same_dtype("alltoall", all);
    std::vector<size_t> send_counts, recv_counts;
    for (const auto& t : inputs) send_counts.push_back(elements(t));
    for (const auto& t : outputs) recv_counts.push_back(elements(t));
    const Target where = target("alltoall", joined(inputs, {outputs}), opts.timeout);
    auto work = make_work(::c10d::OpType::ALLTOALL, "alltoall", outputs, where);
    at::Tensor src = flatten(*work, inputs);
    const size_t total = std::accumulate(recv_counts.begin(), recv_counts.end(), size_t{0});
    at::Tensor dst = gather_buffer(*work, outputs[0], total, outputs);
    add_alltoall(*work, where, src, dst, send_counts, recv_counts, type,
                 "all_to_all with tensors of different sizes");
    return launch(work);
  });
}

}  // namespace weft::c10d_ext
