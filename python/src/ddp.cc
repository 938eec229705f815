// weft.ddp.Reducer over numpy gradients (copy mode: each gradient array is
// read at mark_ready and overwritten with the average at finalize).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "buffer.h"
#include "weft/ddp.h"
#include "weft/error.h"

namespace py = pybind11;

namespace weft::py {
namespace {

// The reducer plus the gradient buffers it reads and writes.
struct PyReducer {
  std::shared_ptr<Communicator> comm;  // outlives the reducer (declared first)
  Buffers grads;
  std::unique_ptr<ddp::Reducer> reducer;
};

std::shared_ptr<ddp::CommHook> hook_named(const std::string& name) {
  if (name == "allreduce") return ddp::allreduce_hook();
  if (name == "fp16" || name == "f16") return ddp::compress_hook(DataType::f16);
  if (name == "bf16") return ddp::compress_hook(DataType::bf16);
  throw Error(ErrorCode::InvalidArgument,
              str("ddp.Reducer: unknown comm_hook '", name, "' (allreduce, fp16 or bf16)"));
}

}  // namespace

void bind_ddp(::py::module_& m) {
  auto ddp = m.def_submodule("ddp", "Gradient bucketing reducer");
  ::py::class_<PyReducer, std::shared_ptr<PyReducer>>(ddp, "Reducer")
      .def(::py::init([](std::shared_ptr<Communicator> comm, ::py::list grads,
                         size_t first_bucket_bytes, size_t bucket_bytes,
                         bool find_unused_parameters, const std::string& comm_hook) {
             auto r = std::make_shared<PyReducer>();
             r->comm = comm;
             std::vector<ddp::Param> params;
             for (size_t i = 0; i < grads.size(); ++i) {
               auto role = str("grads[", i, "]");
               r->grads.push_back(
                   std::make_unique<Buffer>(grads[i], true, "ddp.Reducer", role, std::nullopt));
               const Buffer& b = *r->grads.back();
               params.push_back({.numel = b.count(), .dtype = b.dtype(), .grad = b.data()});
             }
             ddp::ReducerOptions o;
             o.first_bucket_bytes = first_bucket_bytes;
             o.bucket_bytes = bucket_bytes;
             o.find_unused_parameters = find_unused_parameters;
             o.comm_hook = hook_named(comm_hook);
             ::py::gil_scoped_release release;
             r->reducer = std::make_unique<ddp::Reducer>(*comm, std::move(params), o);
             return r;
           }),
           ::py::arg("comm"), ::py::arg("grads"), ::py::kw_only(),
           ::py::arg("first_bucket_bytes") = size_t{1} << 20,
           ::py::arg("bucket_bytes") = size_t{25} << 20,
           ::py::arg("find_unused_parameters") = false, ::py::arg("comm_hook") = "allreduce",
           "Collective; grads are writable contiguous arrays, in registration order")
      .def("mark_ready", [](PyReducer& r, size_t i) { r.reducer->mark_ready(i); },
           ::py::arg("index"), ::py::call_guard<::py::gil_scoped_release>())
      .def("finalize", [](PyReducer& r) { r.reducer->finalize(); },
           ::py::call_guard<::py::gil_scoped_release>())
      .def("used", [](PyReducer& r, size_t i) { return r.reducer->used(i); }, ::py::arg("index"))
      .def_property_readonly("buckets", [](PyReducer& r) { return r.reducer->buckets(); })
      .def_property_readonly("iteration", [](PyReducer& r) { return r.reducer->iteration(); })
      .def_property_readonly("rebuilt", [](PyReducer& r) { return r.reducer->rebuilt(); });
}

}  // namespace weft::py
