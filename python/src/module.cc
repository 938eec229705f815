// weft._weft: the compiled half of the `weft` Python package (python/weft/
// re-exports it with the exception classes).
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "weft/dtype.h"
#include "weft/error.h"

namespace py = pybind11;

namespace weft::py {

void bind_types(::py::module_& m) {
  auto dtype = ::py::enum_<DataType>(m, "DataType", "Element types of weft buffers");
  for (DataType t : kAllDataTypes) dtype.value(to_string(t), t);
  dtype.def_property_readonly("itemsize", [](DataType t) { return size_of(t); });
  auto op = ::py::enum_<ReduceOp>(m, "ReduceOp", "Reduction operators (avg = sum / size)");
  for (ReduceOp o : kAllReduceOps) op.value(to_string(o), o);
  ::py::enum_<ErrorCode>(m, "ErrorCode", "The code of a weft error")
      .value("InvalidArgument", ErrorCode::InvalidArgument)
      .value("Timeout", ErrorCode::Timeout)
      .value("PeerLost", ErrorCode::PeerLost)
      .value("Mismatch", ErrorCode::Mismatch)
      .value("Aborted", ErrorCode::Aborted)
      .value("SystemError", ErrorCode::SystemError)
      .value("CudaError", ErrorCode::CudaError)
      .value("Unsupported", ErrorCode::Unsupported)
      .value("Internal", ErrorCode::Internal);
}

}  // namespace weft::py

PYBIND11_MODULE(_weft, m) {
  m.doc() = "weft: collective communication (compiled part)";
#ifdef WEFT_WITH_CUDA
  m.attr("built_with_cuda") = true;
#else
  m.attr("built_with_cuda") = false;
#endif
  weft::py::bind_types(m);
  weft::py::bind_errors(m);
  weft::py::bind_device(m);
  weft::py::bind_store(m);
  weft::py::bind_communicator(m);
  weft::py::bind_ddp(m);
}
