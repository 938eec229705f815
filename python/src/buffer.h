// Buffers handed to weft from Python: any object with the buffer protocol
// (numpy arrays, bytearray, memoryview, array.array, ...), held as a
// C-contiguous view for as long as an operation may touch it.
#pragma once

#include <Python.h>

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

  void* data() const { return view_.buf; }
  size_t count() const { return count_; }
  DataType dtype() const { return dtype_; }

 private:
  Py_buffer view_{};
  size_t count_ = 0;
  DataType dtype_ = DataType::f32;
};

using Buffers = std::vector<std::unique_ptr<Buffer>>;

// What a Python call gets back: the Work plus the buffers it must keep alive.
// Dropping an unfinished PyWork waits for it (with the GIL released): the
// operation still writes into the buffers.
struct PyWork {
  Work work;
  Buffers buffers;
  PyWork() = default;
  PyWork(const PyWork&) = delete;
  ~PyWork();
};

}  // namespace weft::py
