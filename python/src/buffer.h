// Buffers handed to weft from Python, in one of three forms:
//  - host memory: any object with the buffer protocol (numpy arrays,
//    bytearray, memoryview, array.array, ...), held as a C-contiguous view;
//  - CUDA memory: any object with __cuda_array_interface__ (torch CUDA
//    tensors, cupy and numba arrays), held by a reference to the object;
//  - CUDA memory as a raw (pointer, count[, dtype]) tuple of ints, for
//    callers that manage device memory themselves.
// The buffer stays valid for as long as an operation may touch it.
#pragma once

#include <Python.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/pybind11.h>

#include "weft/dtype.h"
#include "weft/work.h"

namespace weft::py {

// The element type of a buffer format string ("f", "<i8", ...) and item size.
std::optional<DataType> dtype_from_format(const std::string& format, size_t itemsize);

// The element type of an array-interface typestr ("<f4", "|u1", ...).
std::optional<DataType> dtype_from_typestr(const std::string& typestr);

enum class Memory { host, cuda };

// A CUDA buffer described by __cuda_array_interface__ (cuda_array.cc).
struct CudaArray {
  uintptr_t ptr = 0;
  size_t count = 0;
  DataType dtype = DataType::f32;
  bool readonly = false;
  // The producer's stream (version 3's "stream"; a torch tensor's current
  // stream): the default stream of an operation on this buffer.
  std::optional<uintptr_t> stream;
};

// The object's __cuda_array_interface__, or nullopt when it has none. An
// interface that cannot be read (a torch tensor that requires grad) raises
// the object's own error.
std::optional<pybind11::dict> cuda_array_interface(pybind11::handle obj);

// Validates and reads an interface: C-contiguous, no mask, a supported
// typestr (or an override of the same item size). `where` prefixes errors.
CudaArray parse_cuda_array(pybind11::handle obj, const pybind11::dict& cai,
                           const std::string& where, std::optional<DataType> dtype);

class Buffer {
 public:
  // `op` and `role` name the call and argument in error messages
  // ("allreduce", "recv"). `dtype` overrides the format (same item size), e.g.
  // DataType.bf16 for an array of uint16 bits.
  Buffer(pybind11::handle obj, bool writable, const std::string& op, const std::string& role,
         std::optional<DataType> dtype);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t count() const { return count_; }
  DataType dtype() const { return dtype_; }
  Memory memory() const { return memory_; }
  // CUDA buffers: the stream their producer names, if any.
  std::optional<uintptr_t> stream() const { return stream_; }
  // "host memory (numpy.ndarray)", "CUDA memory (torch.Tensor)", ...
  std::string describe() const;

 private:
  void from_buffer_protocol(pybind11::handle obj, bool writable, const std::string& where,
                            std::optional<DataType> dtype);
  void from_pointer_tuple(pybind11::handle obj, const std::string& where,
                          std::optional<DataType> dtype);

  Py_buffer view_{};
  bool has_view_ = false;
  pybind11::object owner_;  // CUDA buffers: keeps the object (and its memory) alive
  std::string type_name_;
  void* data_ = nullptr;
  size_t count_ = 0;
  DataType dtype_ = DataType::f32;
  Memory memory_ = Memory::host;
  std::optional<uintptr_t> stream_;
};

using Buffers = std::vector<std::unique_ptr<Buffer>>;

// What a Python call gets back: the Work plus the buffers it must keep alive.
// Dropping an unfinished PyWork waits for it (with the GIL released): the
// operation still writes into the buffers (for CUDA operations: until the
// device finished them).
struct PyWork {
  Work work;
  Buffers buffers;
  PyWork() = default;
  PyWork(const PyWork&) = delete;
  ~PyWork();
};

}  // namespace weft::py
