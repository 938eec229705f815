// weft._c10d: the Python face of WeftBackend (backend.h).
//
// Built with torch's own pybind11 headers so that torch's registered c10d
// types (Store, Backend, Work) convert both ways: the creator receives the
// group's c10d::Store and returns a c10d::Backend that torch registers for
// the CPU device. weft/torch_cpp.py calls register_backend with it.
#include <pybind11/chrono.h>
#include <torch/csrc/utils/pybind.h>

#include "backend.h"

// libweft and this module must agree on std::string (CMake checks it too).
static_assert(_GLIBCXX_USE_CXX11_ABI == 1, "weft._c10d needs torch's C++11 ABI build");

namespace py = pybind11;
using weft::c10d_ext::WeftBackend;

PYBIND11_MODULE(_c10d, m) {
  m.doc() = "weft's c10d::Backend for torch.distributed (backend 'weft_cpp')";
  py::module_::import("torch.distributed");  // registers c10d's types (the Backend base)

  py::class_<WeftBackend, ::c10d::Backend, c10::intrusive_ptr<WeftBackend>>(m, "WeftBackend")
      .def(py::init([](const c10::intrusive_ptr<::c10d::Store>& store, int rank, int size,
                       std::chrono::milliseconds timeout, const std::string& group) {
             return c10::make_intrusive<WeftBackend>(store, rank, size, timeout, group);
           }),
           py::arg("store"), py::arg("rank"), py::arg("size"), py::arg("timeout"),
           py::arg("group") = "0",
           // init is a rendezvous: other threads (and ranks in threads) go on.
           py::call_guard<py::gil_scoped_release>(),
           "Collective: every rank of the group constructs it with the same store.");
  m.attr("BACKEND_NAME") = WeftBackend::kName;
  // The torch it was compiled against: weft/torch_cpp.py refuses another one.
  m.attr("TORCH_VERSION") = WEFT_C10D_TORCH_VERSION;
}
