// __cuda_array_interface__ (Numba's protocol, versions 0-3; what torch CUDA
// tensors, cupy and numba arrays export): a dict with
//   shape (tuple), typestr ("<f4"), data (pointer, readonly), version,
//   strides (None or absent: C-contiguous), mask (None), stream (v3, optional).
// Only the description is read: no CUDA call is made here, so the same code
// (and its error messages) can be tested on machines without a GPU.
#include <pybind11/pybind11.h>

#include "buffer.h"
#include "weft/error.h"

namespace py = pybind11;

namespace weft::py {
namespace {

[[noreturn]] void bad(const std::string& where, const std::string& message) {
  throw Error(ErrorCode::InvalidArgument, where + ": " + message);
}

// torch tensors carry no stream in their interface (version 2); their data is
// produced on torch's current stream of their device, which is therefore the
// natural stream to run on. torch is looked up only when already imported.
std::optional<uintptr_t> torch_current_stream(::py::handle obj) {
  PyObject* torch = PyDict_GetItemString(PyImport_GetModuleDict(), "torch");  // borrowed
  if (torch == nullptr) return std::nullopt;
  auto mod = ::py::reinterpret_borrow<::py::object>(torch);
  if (!::py::hasattr(mod, "Tensor") || !::py::isinstance(obj, mod.attr("Tensor")))
    return std::nullopt;
  ::py::object stream = mod.attr("cuda").attr("current_stream")(obj.attr("device"));
  return stream.attr("cuda_stream").cast<uintptr_t>();
}

}  // namespace

std::optional<DataType> dtype_from_typestr(const std::string& typestr) {
  if (typestr.size() < 3) return std::nullopt;
  const char order = typestr[0];
  const char kind = typestr[1];
  size_t size = 0;
  for (size_t i = 2; i < typestr.size(); ++i) {
    if (typestr[i] < '0' || typestr[i] > '9') return std::nullopt;
    size = size * 10 + static_cast<size_t>(typestr[i] - '0');
  }
  // Little-endian ('<'), native ('=' on the little-endian hosts weft runs on)
  // or not applicable ('|', one-byte items).
  if (order != '<' && order != '=' && !(order == '|' && size == 1)) return std::nullopt;
  switch (kind) {
    case 'f':
      if (size == 2) return DataType::f16;
      if (size == 4) return DataType::f32;
      if (size == 8) return DataType::f64;
      return std::nullopt;
    case 'i':
      if (size == 1) return DataType::i8;
      if (size == 4) return DataType::i32;
      if (size == 8) return DataType::i64;
      return std::nullopt;
    case 'u':
      if (size == 1) return DataType::u8;
      if (size == 4) return DataType::u32;
      if (size == 8) return DataType::u64;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::optional<::py::dict> cuda_array_interface(::py::handle obj) {
  PyObject* attr = PyObject_GetAttrString(obj.ptr(), "__cuda_array_interface__");
  if (attr == nullptr) {
    if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
      PyErr_Clear();
      return std::nullopt;
    }
    throw ::py::error_already_set();  // e.g. torch: "... requires grad. Use var.detach()"
  }
  auto cai = ::py::reinterpret_steal<::py::object>(attr);
  if (!::py::isinstance<::py::dict>(cai))
    throw Error(ErrorCode::InvalidArgument,
                str(Py_TYPE(obj.ptr())->tp_name, ".__cuda_array_interface__ is not a dict"));
  return cai.cast<::py::dict>();
}

CudaArray parse_cuda_array(::py::handle obj, const ::py::dict& cai, const std::string& where,
                           std::optional<DataType> dtype) {
  const std::string w = where + " (__cuda_array_interface__)";
  CudaArray a;
  if (!cai.contains("shape") || !cai.contains("typestr") || !cai.contains("data"))
    bad(w, "needs 'shape', 'typestr' and 'data'");

  // typestr and the optional dtype override (same item size).
  if (!::py::isinstance<::py::str>(cai["typestr"])) bad(w, "typestr is not a str");
  const auto typestr = cai["typestr"].cast<std::string>();
  size_t itemsize = 0;
  for (size_t i = 2; i < typestr.size() && typestr[i] >= '0' && typestr[i] <= '9'; ++i)
    itemsize = itemsize * 10 + static_cast<size_t>(typestr[i] - '0');
  if (dtype) {
    if (size_of(*dtype) != itemsize)
      bad(w, str("has items of ", itemsize, " bytes (typestr '", typestr, "'), but dtype ",
                 to_string(*dtype), " has ", size_of(*dtype)));
    a.dtype = *dtype;
  } else {
    auto derived = dtype_from_typestr(typestr);
    if (!derived)
      bad(w, str("has typestr '", typestr, "', which weft does not support: use float16/32/64, "
                 "int8/32/64 or uint8/32/64 (or pass dtype=DataType.bf16 for bfloat16 bits "
                 "in 2-byte items)"));
    a.dtype = *derived;
  }

  // shape -> count; strides must describe a C-contiguous layout.
  if (!::py::isinstance<::py::tuple>(cai["shape"])) bad(w, "shape is not a tuple");
  auto shape = cai["shape"].cast<::py::tuple>();
  std::vector<size_t> dims;
  size_t count = 1;
  for (auto d : shape) {
    const auto v = d.cast<long long>();
    if (v < 0) bad(w, str("shape has a negative dimension ", v));
    dims.push_back(static_cast<size_t>(v));
    count *= static_cast<size_t>(v);
  }
  a.count = count;
  if (cai.contains("strides") && !cai["strides"].is_none() && count > 0) {
    auto strides = cai["strides"].cast<::py::tuple>();
    if (strides.size() != dims.size())
      bad(w, str("strides has ", strides.size(), " entries for ", dims.size(), " dimensions"));
    size_t expect = itemsize;
    for (size_t i = dims.size(); i-- > 0;) {
      if (dims[i] != 1 && strides[i].cast<long long>() != static_cast<long long>(expect))
        bad(w, "is not C-contiguous (torch: .contiguous(), cupy: cupy.ascontiguousarray)");
      expect *= dims[i];
    }
  }
  if (cai.contains("mask") && !cai["mask"].is_none()) bad(w, "masked arrays are not supported");

  // data = (pointer, readonly)
  if (!::py::isinstance<::py::tuple>(cai["data"])) bad(w, "data is not a (pointer, readonly) tuple");
  auto data = cai["data"].cast<::py::tuple>();
  if (data.size() != 2) bad(w, "data is not a (pointer, readonly) tuple");
  a.ptr = data[0].is_none() ? 0 : data[0].cast<uintptr_t>();
  a.readonly = data[1].cast<bool>();
  if (a.ptr == 0 && count > 0) bad(w, str("has a null pointer for ", count, " elements"));

  // The producer's stream: version 3 names it (0 is not allowed by the
  // protocol; 1 and 2 are CUDA's legacy and per-thread default streams, which
  // are valid cudaStream_t values as they are); torch tensors use torch's.
  if (cai.contains("stream") && !cai["stream"].is_none()) {
    const auto s = cai["stream"].cast<uintptr_t>();
    if (s != 0) a.stream = s;
  }
  if (!a.stream) a.stream = torch_current_stream(obj);
  return a;
}

}  // namespace weft::py
