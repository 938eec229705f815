// The pieces of the weft._weft extension module, one function per file.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <optional>
#include <string>

#include "weft/communicator.h"

namespace weft::py {

void bind_types(pybind11::module_& m);  // module.cc: DataType, ReduceOp, ErrorCode
void bind_errors(pybind11::module_& m);
void bind_device(pybind11::module_& m);  // device.cc: weft.Device
void bind_store(pybind11::module_& m);
void bind_communicator(pybind11::module_& m);
void bind_ddp(pybind11::module_& m);

// "cpu", "cuda:N", an int N, a weft.Device or a torch.device (None: cpu).
Device to_device(pybind11::handle obj);
std::string device_str(const Device& device);

// Python timeouts are float seconds (None = the default).
inline std::optional<std::chrono::milliseconds> to_ms(std::optional<double> seconds) {
  if (!seconds) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(*seconds * 1000.0));
}

}  // namespace weft::py
