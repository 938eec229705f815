// weft::Error -> the Python exception class for its code (weft/errors.py):
// weft.MismatchError, weft.TimeoutError, ..., all subclasses of weft.Error,
// each carrying .code and .message.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "weft/error.h"

namespace py = pybind11;

namespace weft::py {

void bind_errors(::py::module_& m) {
  (void)m;
  ::py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      ::py::object make = ::py::module_::import("weft.errors").attr("_from_code");
      ::py::object exc = make(e.code(), e.message());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    }
  });
}

}  // namespace weft::py
