#include "buffer.h"

#include <bit>

#include "weft/error.h"

namespace weft::py {

std::optional<DataType> dtype_from_format(const std::string& format, size_t itemsize) {
  std::string f = format;
  // Native or little-endian byte order only; '>' and '!' are big-endian.
  if (!f.empty() && (f[0] == '@' || f[0] == '=' ||
                     (f[0] == '<' && std::endian::native == std::endian::little)))
    f.erase(0, 1);
  if (f.size() != 1) return std::nullopt;
  switch (f[0]) {
    case 'f': return itemsize == 4 ? std::optional(DataType::f32) : std::nullopt;
    case 'd': return itemsize == 8 ? std::optional(DataType::f64) : std::nullopt;
    case 'e': return itemsize == 2 ? std::optional(DataType::f16) : std::nullopt;
    case 'b': return DataType::i8;
    case 'B': return DataType::u8;
    case 'i': case 'l': case 'q':
      if (itemsize == 4) return DataType::i32;
      if (itemsize == 8) return DataType::i64;
      return std::nullopt;
    case 'I': case 'L': case 'Q':
      if (itemsize == 4) return DataType::u32;
      if (itemsize == 8) return DataType::u64;
      return std::nullopt;
    default: return std::nullopt;
  }
}

namespace {

// "numpy.ndarray", "torch.Tensor": classes defined in Python (heap types) have
// only their bare name in tp_name, so their module is added.
std::string type_name(pybind11::handle obj) {
  PyTypeObject* type = Py_TYPE(obj.ptr());
  std::string name = type->tp_name;
  if (!PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE)) return name;
  PyObject* module = PyObject_GetAttrString(reinterpret_cast<PyObject*>(type), "__module__");
  if (module == nullptr) {
    PyErr_Clear();
    return name;
  }
  if (PyUnicode_Check(module)) {
    const char* m = PyUnicode_AsUTF8(module);
    if (m == nullptr) PyErr_Clear();
    else if (std::string(m) != "builtins") name = std::string(m) + "." + name;
  }
  Py_DECREF(module);
  return name;
}

}  // namespace

Buffer::Buffer(pybind11::handle obj, bool writable, const std::string& op,
               const std::string& role, std::optional<DataType> dtype) {
  const std::string where = op + ": " + role;
  if (obj.is_none()) throw Error(ErrorCode::InvalidArgument, where + " is required here");
  type_name_ = type_name(obj);
  if (PyTuple_Check(obj.ptr())) {
    from_pointer_tuple(obj, where, dtype);
    return;
  }
  // Host objects first (numpy arrays have no CUDA interface: asking costs an
  // AttributeError per call).
  if (PyObject_CheckBuffer(obj.ptr())) {
    from_buffer_protocol(obj, writable, where, dtype);
    return;
  }
  if (auto cai = cuda_array_interface(obj)) {
    CudaArray a = parse_cuda_array(obj, *cai, where, dtype);
    if (writable && a.readonly) throw Error(ErrorCode::InvalidArgument, where + " is read-only");
    owner_ = pybind11::reinterpret_borrow<pybind11::object>(obj);
    data_ = reinterpret_cast<void*>(a.ptr);
    count_ = a.count;
    dtype_ = a.dtype;
    memory_ = Memory::cuda;
    stream_ = a.stream;
    return;
  }
  from_buffer_protocol(obj, writable, where, dtype);
}

void Buffer::from_pointer_tuple(pybind11::handle obj, const std::string& where,
                                std::optional<DataType> dtype) {
  auto t = pybind11::reinterpret_borrow<pybind11::tuple>(obj);
  const std::string usage = " must be (pointer, count) or (pointer, count, dtype): a CUDA "
                            "device pointer (int), an element count (int) and a weft.DataType";
  if (t.size() != 2 && t.size() != 3)
    throw Error(ErrorCode::InvalidArgument, str(where, usage, "; got a tuple of ", t.size()));
  if (!PyLong_Check(t[0].ptr()) || !PyLong_Check(t[1].ptr()))
    throw Error(ErrorCode::InvalidArgument, where + usage);
  std::optional<DataType> type = dtype;
  if (t.size() == 3 && !t[2].is_none()) {
    if (!pybind11::isinstance<DataType>(t[2]))
      throw Error(ErrorCode::InvalidArgument, where + usage);
    const auto given = t[2].cast<DataType>();
    if (dtype && *dtype != given)
      throw Error(ErrorCode::InvalidArgument,
                  str(where, " is a tuple of ", to_string(given), " elements but dtype=",
                      to_string(*dtype)));
    type = given;
  }
  if (!type)
    throw Error(ErrorCode::InvalidArgument,
                where + ": a (pointer, count) tuple needs a dtype (third element or dtype=)");
  const long long count = t[1].cast<long long>();
  if (count < 0)
    throw Error(ErrorCode::InvalidArgument, str(where, ": negative count ", count));
  owner_ = pybind11::reinterpret_borrow<pybind11::object>(obj);
  data_ = reinterpret_cast<void*>(t[0].cast<uintptr_t>());
  count_ = static_cast<size_t>(count);
  dtype_ = *type;
  memory_ = Memory::cuda;
}

void Buffer::from_buffer_protocol(pybind11::handle obj, bool writable, const std::string& where,
                                  std::optional<DataType> dtype) {
  if (!PyObject_CheckBuffer(obj.ptr()))
    throw Error(ErrorCode::InvalidArgument,
                str(where, " must support the buffer protocol (a numpy array, bytearray, ...) "
                    "or __cuda_array_interface__ (a torch CUDA tensor, a cupy array, ...), not ",
                    type_name_));
  const int flags = PyBUF_RECORDS_RO | (writable ? PyBUF_WRITABLE : 0);
  if (PyObject_GetBuffer(obj.ptr(), &view_, flags) != 0) {
    PyErr_Clear();
    if (writable && PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_RECORDS_RO) == 0) {
      PyBuffer_Release(&view_);
      throw Error(ErrorCode::InvalidArgument, where + " is read-only");
    }
    PyErr_Clear();
    throw Error(ErrorCode::InvalidArgument, where + ": the object refused to export a buffer");
  }
  // From here on, view_ is released by the destructor only if construction
  // completes; release it ourselves on the error paths.
  auto fail = [&](const std::string& message) {
    PyBuffer_Release(&view_);
    throw Error(ErrorCode::InvalidArgument, where + message);
  };
  if (!PyBuffer_IsContiguous(&view_, 'C'))
    fail(" is not C-contiguous (numpy.ascontiguousarray makes a contiguous copy)");
  const std::string format = view_.format ? view_.format : "B";
  const auto itemsize = static_cast<size_t>(view_.itemsize);
  if (dtype) {
    if (size_of(*dtype) != itemsize)
      fail(str(" has items of ", itemsize, " bytes, but dtype ", to_string(*dtype), " has ",
               size_of(*dtype)));
    dtype_ = *dtype;
  } else {
    auto derived = dtype_from_format(format, itemsize);
    if (!derived)
      fail(str(" has element format '", format, "' (", itemsize,
               " bytes), which weft does not support: use float16/32/64, int8/32/64 or "
               "uint8/32/64 (or pass dtype=DataType.bf16 for bfloat16 bits in 2-byte items)"));
    dtype_ = *derived;
  }
  has_view_ = true;
  data_ = view_.buf;
  count_ = static_cast<size_t>(view_.len) / itemsize;
}

std::string Buffer::describe() const {
  return str(memory_ == Memory::cuda ? "CUDA memory (" : "host memory (", type_name_, ")");
}

Buffer::~Buffer() {
  if (has_view_) PyBuffer_Release(&view_);
}

PyWork::~PyWork() {
  if (work.completed()) return;
  pybind11::gil_scoped_release release;
  try {
    work.wait();
  } catch (...) {
    // The error was the caller's to see through wait(); dropping the Work drops it.
  }
}

}  // namespace weft::py
