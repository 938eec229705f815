// weft.Device: where a communicator's buffers live. Python callers may name
// it as "cpu", "cuda:N", an int N (GPU N), a weft.Device, or anything with
// torch.device's .type and .index.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "weft/communicator.h"
#include "weft/error.h"

namespace py = pybind11;

namespace weft::py {
namespace {

[[noreturn]] void bad_device(const std::string& what) {
  throw Error(ErrorCode::InvalidArgument,
              str("device ", what, " is not a device: use \"cpu\", \"cuda:N\", an int N (GPU N) "
                  "or a weft.Device"));
}

Device parse(const std::string& s) {
  if (s == "cpu") return Device::cpu();
  if (s == "cuda")
    throw Error(ErrorCode::InvalidArgument,
                "device \"cuda\" names no GPU: a communicator runs on one GPU, say which "
                "(\"cuda:N\", e.g. the process's LOCAL_RANK)");
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() < 12 &&
      s.find_first_not_of("0123456789", 5) == std::string::npos)
    return Device::cuda(std::stoi(s.substr(5)));
  bad_device("'" + s + "'");
}

Device cuda_index(long long index) {
  if (index < 0) bad_device(str(index));
  return Device::cuda(static_cast<int>(index));
}

}  // namespace

std::string device_str(const Device& d) {
  return d.kind == Device::Kind::cuda ? str("cuda:", d.index) : std::string("cpu");
}

Device to_device(::py::handle obj) {
  if (obj.is_none()) return Device::cpu();
  if (::py::isinstance<Device>(obj)) return obj.cast<Device>();
  if (::py::isinstance<::py::bool_>(obj)) bad_device(::py::repr(obj).cast<std::string>());
  if (::py::isinstance<::py::int_>(obj)) return cuda_index(obj.cast<long long>());
  if (::py::isinstance<::py::str>(obj)) return parse(obj.cast<std::string>());
  if (::py::hasattr(obj, "type") && ::py::hasattr(obj, "index")) {  // torch.device
    const auto type = ::py::str(obj.attr("type")).cast<std::string>();
    ::py::object index = obj.attr("index");
    if (type == "cuda" && !index.is_none()) return cuda_index(index.cast<long long>());
    return parse(type);
  }
  bad_device(::py::repr(obj).cast<std::string>());
}

void bind_device(::py::module_& m) {
  ::py::class_<Device>(m, "Device", "Where a communicator's buffers live: cpu or cuda:N")
      .def(::py::init([](::py::object spec) { return to_device(spec); }), ::py::arg("spec"),
           "Device(\"cpu\"), Device(\"cuda:1\"), Device(1) (GPU 1), Device(torch.device(...))")
      .def_static("cpu", &Device::cpu)
      .def_static("cuda", [](int index) { return cuda_index(index); }, ::py::arg("index"))
      .def_property_readonly("type", [](const Device& d) {
        return d.kind == Device::Kind::cuda ? "cuda" : "cpu";
      })
      .def_property_readonly("index", [](const Device& d) -> std::optional<int> {
        if (d.kind == Device::Kind::cuda) return d.index;
        return std::nullopt;
      })
      .def("__str__", &device_str)
      .def("__repr__", [](const Device& d) { return str("weft.Device('", device_str(d), "')"); })
      .def("__eq__", [](const Device& a, ::py::object b) {
        if (!::py::isinstance<Device>(b)) return false;
        const auto o = b.cast<Device>();
        return a.kind == o.kind && (a.kind == Device::Kind::cpu || a.index == o.index);
      })
      .def("__hash__", [](const Device& d) {
        return std::hash<std::string>{}(device_str(d));
      });
}

}  // namespace weft::py
