// Communicator and Work. Every collective takes buffer-protocol objects
// (numpy arrays, ...) on a host communicator and CUDA memory (objects with
// __cuda_array_interface__, or (pointer, count, dtype) tuples) on a CUDA one,
// derives the dtype from the buffer format (or dtype=), checks sizes against
// the communicator's size, and returns a Work that keeps the buffers alive.
// async_op=False (the default) waits before returning. CUDA operations are
// enqueued on stream= (an int cudaStream_t; default: the buffers' stream,
// e.g. torch's current stream, else the legacy default stream).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <numeric>

#include "bindings.h"
#include "buffer.h"
#include "weft/communicator.h"
#include "weft/error.h"
#include "weft/store.h"

namespace py = pybind11;

namespace weft::py {
namespace {

using Comm = std::shared_ptr<Communicator>;
using Obj = ::py::object;
using OptDtype = std::optional<DataType>;

using OptStream = std::optional<uintptr_t>;

// Shared arguments of every operation.
struct Call {
  std::string op;
  OptDtype dtype;
  bool async_op;
  OpOptions options;
  Buffers buffers;
  Device device;     // the communicator's
  OptStream stream;  // stream= (None: the buffers' own stream, else the legacy default stream)

  Buffer& buffer(Obj obj, bool writable, const char* role) {
    buffers.push_back(std::make_unique<Buffer>(obj, writable, op, role, dtype));
    check_memory(*buffers.back(), role);
    return *buffers.back();
  }
  // Host buffers on a CUDA communicator and device buffers on a host one are
  // refused here, before any of them reaches weft's threads or kernels.
  void check_memory(const Buffer& b, const char* role) const {
    const bool cuda_comm = device.kind == Device::Kind::cuda;
    if (cuda_comm && b.memory() == Memory::host)
      throw Error(ErrorCode::InvalidArgument,
                  str(op, ": ", role, " is ", b.describe(), ", but this communicator runs on ",
                      device_str(device), ": pass device memory of that GPU (an object with "
                      "__cuda_array_interface__ such as a torch CUDA tensor or a cupy array, "
                      "or a (pointer, count, dtype) tuple)"));
    if (!cuda_comm && b.memory() == Memory::cuda)
      throw Error(ErrorCode::InvalidArgument,
                  str(op, ": ", role, " is ", b.describe(), ", but this communicator works on "
                      "host memory: create it with device=\"cuda:N\" to pass device buffers"));
  }
  void require(bool ok, const std::string& message) const {
    if (!ok) throw Error(ErrorCode::InvalidArgument, op + ": " + message);
  }
  void same_dtype(const Buffer& a, const Buffer& b, const char* a_role, const char* b_role) {
    require(a.dtype() == b.dtype(), str(b_role, " is ", to_string(b.dtype()), " but ", a_role,
                                        " is ", to_string(a.dtype())));
  }
  // CUDA communicators enqueue on stream=, else on the stream the first
  // buffer's producer names (a torch tensor: torch's current stream), else on
  // the legacy default stream.
  void* cuda_stream() const {
    if (stream) return reinterpret_cast<void*>(*stream);
    for (const auto& b : buffers)
      if (b->stream()) return reinterpret_cast<void*>(*b->stream());
    return nullptr;
  }
  // Starts the operation with the GIL released and wraps its Work.
  // async_op=False waits for it: on a CUDA communicator, until the device
  // finished it.
  template <typename F>
  std::shared_ptr<PyWork> start(F&& f) {
    if (device.kind == Device::Kind::cuda) options.stream = cuda_stream();
    auto w = std::make_shared<PyWork>();
    w->buffers = std::move(buffers);
    {
      ::py::gil_scoped_release release;
      w->work = f();
      if (!async_op) w->work.wait();
    }
    return w;
  }
};

Call call(const Communicator& c, const char* op, OptDtype dtype, bool async_op,
          std::optional<double> timeout, OptStream stream) {
  Call k{op, dtype, async_op, {}, {}, c.device(), stream};
  k.options.timeout = to_ms(timeout);
  // Waited for anyway: host collectives take their blocking form, which
  // runs at once on this thread when nothing is queued before it.
  k.options.blocking = !async_op;
  return k;
}

std::vector<size_t> displacements(const std::vector<size_t>& counts) {
  std::vector<size_t> d(counts.size(), 0);
  for (size_t i = 1; i < counts.size(); ++i) d[i] = d[i - 1] + counts[i - 1];
  return d;
}

// Keyword arguments common to every operation.
#define WEFT_COMMON_ARGS                                                       \
  ::py::kw_only(), ::py::arg("dtype") = ::py::none(), ::py::arg("async_op") = false, \
      ::py::arg("timeout") = ::py::none(), ::py::arg("stream") = ::py::none()

}  // namespace

void bind_communicator(::py::module_& m) {
  ::py::class_<PyWork, std::shared_ptr<PyWork>>(m, "Work", "The handle of an operation")
      .def("wait", [](PyWork& w, std::optional<double> timeout) {
             ::py::gil_scoped_release release;
             if (timeout) w.work.wait(*to_ms(timeout));
             else w.work.wait();
           }, ::py::arg("timeout") = ::py::none(),
           "Blocks until done (at most `timeout` seconds); raises the operation's error")
      .def("test", [](PyWork& w) { return w.work.test(); },
           "True when done; raises the error of a failed operation")
      .def("completed", [](PyWork& w) { return w.work.completed(); }, "Done, never raises")
      .def("describe", [](PyWork& w) { return w.work.describe(); })
      .def("__repr__", [](PyWork& w) {
        return str("<weft.Work ", w.work.describe(), w.work.completed() ? " completed>" : " running>");
      });

  ::py::class_<Communicator, Comm>(m, "Communicator", "A group of ranks running collectives")
      .def_static("init", [](std::shared_ptr<Store> store, int rank, int size,
                             std::optional<double> timeout, std::optional<double> init_timeout,
                             const std::string& name, Obj device) {
             CommOptions o;
             o.timeout = to_ms(timeout);
             o.init_timeout = to_ms(init_timeout);
             o.name = name;
             o.device = to_device(device);
             ::py::gil_scoped_release release;
             return std::make_shared<Communicator>(Communicator::init(*store, rank, size, o));
           }, ::py::arg("store"), ::py::arg("rank"), ::py::arg("size"), ::py::kw_only(),
           ::py::arg("timeout") = ::py::none(), ::py::arg("init_timeout") = ::py::none(),
           ::py::arg("name") = "weft", ::py::arg("device") = ::py::none(), ::py::keep_alive<0, 1>(),
           "Collective over `size` ranks that share `store`; device=\"cuda:N\" (or N, or a "
           "weft.Device) runs the collectives on device memory of GPU N")
      .def_static("init_from_env", [](std::optional<double> timeout, const std::string& name,
                                      Obj device) {
             CommOptions o;
             o.timeout = to_ms(timeout);
             o.name = name;
             o.device = to_device(device);
             ::py::gil_scoped_release release;
             return std::make_shared<Communicator>(Communicator::init_from_env(o));
           }, ::py::kw_only(), ::py::arg("timeout") = ::py::none(), ::py::arg("name") = "weft",
           ::py::arg("device") = ::py::none(),
           "RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (what weftrun and torchrun set)")
      .def_property_readonly("rank", &Communicator::rank)
      .def_property_readonly("size", &Communicator::size)
      .def_property_readonly("device", &Communicator::device)
      .def("allreduce", [](Comm c, Obj send, Obj recv, ReduceOp op, OptDtype dt, bool a,
                           std::optional<double> t, OptStream st) {
             Call k = call(*c, "allreduce", dt, a, t, st);
             Buffer& s = k.buffer(send, recv.is_none(), "send");
             Buffer& r = recv.is_none() ? s : k.buffer(recv, true, "recv");
             k.same_dtype(s, r, "send", "recv");
             k.require(r.count() == s.count(), str("recv has ", r.count(), " elements, send has ",
                                                   s.count()));
             return k.start([&] {
               return c->allreduce(s.data(), r.data(), s.count(), s.dtype(), op, k.options);
             });
           }, ::py::arg("send"), ::py::arg("recv") = ::py::none(),
           ::py::arg("op") = ReduceOp::sum, WEFT_COMMON_ARGS,
           "recv=None reduces in place into send")
      .def("reduce", [](Comm c, Obj send, Obj recv, ReduceOp op, int root, OptDtype dt, bool a,
                        std::optional<double> t, OptStream st) {
             Call k = call(*c, "reduce", dt, a, t, st);
             const bool here = c->rank() == root;
             Buffer& s = k.buffer(send, here && recv.is_none(), "send");
             void* out = nullptr;
             if (here) {
               Buffer& r = recv.is_none() ? s : k.buffer(recv, true, "recv");
               k.same_dtype(s, r, "send", "recv");
               k.require(r.count() == s.count(),
                         str("recv has ", r.count(), " elements, send has ", s.count()));
               out = r.data();
             }
             return k.start([&] {
               return c->reduce(s.data(), out, s.count(), s.dtype(), op, root, k.options);
             });
           }, ::py::arg("send"), ::py::arg("recv") = ::py::none(),
           ::py::arg("op") = ReduceOp::sum, ::py::arg("root") = 0, WEFT_COMMON_ARGS,
           "recv is used on root only (None: in place into send)")
      .def("broadcast", [](Comm c, Obj buf, int root, OptDtype dt, bool a,
                           std::optional<double> t, OptStream st) {
             Call k = call(*c, "broadcast", dt, a, t, st);
             Buffer& b = k.buffer(buf, c->rank() != root, "buf");
             return k.start([&] {
               return c->broadcast(b.data(), b.count(), b.dtype(), root, k.options);
             });
           }, ::py::arg("buf"), ::py::arg("root") = 0, WEFT_COMMON_ARGS)
      .def("allgather", [](Comm c, Obj send, Obj recv, OptDtype dt, bool a,
                           std::optional<double> t, OptStream st) {
             Call k = call(*c, "allgather", dt, a, t, st);
             Buffer& s = k.buffer(send, false, "send");
             Buffer& r = k.buffer(recv, true, "recv");
             k.same_dtype(s, r, "send", "recv");
             k.require(r.count() == s.count() * c->size(),
                       str("recv has ", r.count(), " elements, expected ", s.count() * c->size(),
                           " (size ", c->size(), " x ", s.count(), ")"));
             return k.start([&] {
               return c->allgather(s.data(), r.data(), s.count(), s.dtype(), k.options);
             });
           }, ::py::arg("send"), ::py::arg("recv"), WEFT_COMMON_ARGS)
      .def("allgatherv", [](Comm c, Obj send, Obj recv, std::vector<size_t> counts,
                            std::optional<std::vector<size_t>> displs, OptDtype dt, bool a,
                            std::optional<double> t, OptStream st) {
             Call k = call(*c, "allgatherv", dt, a, t, st);
             Buffer& s = k.buffer(send, false, "send");
             Buffer& r = k.buffer(recv, true, "recv");
             k.same_dtype(s, r, "send", "recv");
             k.require(counts.size() == static_cast<size_t>(c->size()),
                       str("counts has ", counts.size(), " entries for ", c->size(), " ranks"));
             auto d = displs ? *displs : displacements(counts);
             k.require(d.size() == counts.size(),
                       str("displs has ", d.size(), " entries for ", c->size(), " ranks"));
             k.require(s.count() == counts[c->rank()],
                       str("send has ", s.count(), " elements but counts[", c->rank(), "] is ",
                           counts[c->rank()]));
             for (size_t i = 0; i < counts.size(); ++i)
               k.require(d[i] + counts[i] <= r.count(),
                         str("rank ", i, "'s block ends at element ", d[i] + counts[i],
                             ", beyond recv (", r.count(), " elements)"));
             return k.start([&] {
               return c->allgatherv(s.data(), r.data(), counts, d, s.dtype(), k.options);
             });
           }, ::py::arg("send"), ::py::arg("recv"), ::py::arg("counts"),
           ::py::arg("displs") = ::py::none(), WEFT_COMMON_ARGS)
      .def("reduce_scatter", [](Comm c, Obj send, Obj recv, ReduceOp op, OptDtype dt, bool a,
                                std::optional<double> t, OptStream st) {
             Call k = call(*c, "reduce_scatter", dt, a, t, st);
             Buffer& s = k.buffer(send, false, "send");
             Buffer& r = k.buffer(recv, true, "recv");
             k.same_dtype(s, r, "send", "recv");
             k.require(s.count() == r.count() * c->size(),
                       str("send has ", s.count(), " elements, expected ", r.count() * c->size(),
                           " (size ", c->size(), " x ", r.count(), ")"));
             return k.start([&] {
               return c->reduce_scatter(s.data(), r.data(), r.count(), s.dtype(), op, k.options);
             });
           }, ::py::arg("send"), ::py::arg("recv"), ::py::arg("op") = ReduceOp::sum,
           WEFT_COMMON_ARGS)
      .def("alltoall", [](Comm c, Obj send, Obj recv, OptDtype dt, bool a,
                          std::optional<double> t, OptStream st) {
             Call k = call(*c, "alltoall", dt, a, t, st);
             Buffer& s = k.buffer(send, false, "send");
             Buffer& r = k.buffer(recv, true, "recv");
             k.same_dtype(s, r, "send", "recv");
             const size_t n = static_cast<size_t>(c->size());
             k.require(s.count() % n == 0,
                       str("send has ", s.count(), " elements, not a multiple of size ", n));
             k.require(r.count() == s.count(),
                       str("recv has ", r.count(), " elements, send has ", s.count()));
             return k.start([&] {
               return c->alltoall(s.data(), r.data(), s.count() / n, s.dtype(), k.options);
             });
           }, ::py::arg("send"), ::py::arg("recv"), WEFT_COMMON_ARGS)
      .def("alltoallv", [](Comm c, Obj send, std::vector<size_t> send_counts, Obj recv,
                           std::vector<size_t> recv_counts,
                           std::optional<std::vector<size_t>> send_displs,
                           std::optional<std::vector<size_t>> recv_displs, OptDtype dt, bool a,
                           std::optional<double> t, OptStream st) {
             Call k = call(*c, "alltoallv", dt, a, t, st);
             Buffer& s = k.buffer(send, false, "send");
             Buffer& r = k.buffer(recv, true, "recv");
             k.same_dtype(s, r, "send", "recv");
             const size_t n = static_cast<size_t>(c->size());
             auto sd = send_displs ? *send_displs : displacements(send_counts);
             auto rd = recv_displs ? *recv_displs : displacements(recv_counts);
             k.require(send_counts.size() == n && recv_counts.size() == n && sd.size() == n &&
                           rd.size() == n,
                       str("counts and displacements need one entry per rank (", n, ")"));
             for (size_t i = 0; i < n; ++i) {
               k.require(sd[i] + send_counts[i] <= s.count(),
                         str("block for rank ", i, " ends beyond send (", s.count(), " elements)"));
               k.require(rd[i] + recv_counts[i] <= r.count(),
                         str("block from rank ", i, " ends beyond recv (", r.count(), " elements)"));
             }
             return k.start([&] {
               return c->alltoallv(s.data(), send_counts, sd, r.data(), recv_counts, rd,
                                   s.dtype(), k.options);
             });
           }, ::py::arg("send"), ::py::arg("send_counts"), ::py::arg("recv"),
           ::py::arg("recv_counts"), ::py::arg("send_displs") = ::py::none(),
           ::py::arg("recv_displs") = ::py::none(), WEFT_COMMON_ARGS)
      .def("gather", [](Comm c, Obj send, Obj recv, int root, OptDtype dt, bool a,
                        std::optional<double> t, OptStream st) {
             Call k = call(*c, "gather", dt, a, t, st);
             Buffer& s = k.buffer(send, false, "send");
             void* out = nullptr;
             if (c->rank() == root) {
               Buffer& r = k.buffer(recv, true, "recv");
               k.same_dtype(s, r, "send", "recv");
               k.require(r.count() == s.count() * c->size(),
                         str("recv has ", r.count(), " elements, expected ",
                             s.count() * c->size(), " (size ", c->size(), " x ", s.count(), ")"));
               out = r.data();
             }
             return k.start([&] {
               return c->gather(s.data(), out, s.count(), s.dtype(), root, k.options);
             });
           }, ::py::arg("send"), ::py::arg("recv") = ::py::none(), ::py::arg("root") = 0,
           WEFT_COMMON_ARGS, "recv is used on root only")
      .def("scatter", [](Comm c, Obj send, Obj recv, int root, OptDtype dt, bool a,
                         std::optional<double> t, OptStream st) {
             Call k = call(*c, "scatter", dt, a, t, st);
             Buffer& r = k.buffer(recv, true, "recv");
             const void* in = nullptr;
             if (c->rank() == root) {
               Buffer& s = k.buffer(send, false, "send");
               k.same_dtype(s, r, "send", "recv");
               k.require(s.count() == r.count() * c->size(),
                         str("send has ", s.count(), " elements, expected ",
                             r.count() * c->size(), " (size ", c->size(), " x ", r.count(), ")"));
               in = s.data();
             }
             return k.start([&] {
               return c->scatter(in, r.data(), r.count(), r.dtype(), root, k.options);
             });
           }, ::py::arg("send"), ::py::arg("recv"), ::py::arg("root") = 0, WEFT_COMMON_ARGS,
           "send is used on root only")
      .def("barrier", [](Comm c, bool a, std::optional<double> t) {
             Call k = call(*c, "barrier", std::nullopt, a, t, std::nullopt);
             return k.start([&] { return c->barrier(k.options); });
           }, ::py::kw_only(), ::py::arg("async_op") = false, ::py::arg("timeout") = ::py::none())
      .def("send", [](Comm c, Obj buf, int peer, uint32_t tag, OptDtype dt, bool a,
                      std::optional<double> t, OptStream st) {
             Call k = call(*c, "send", dt, a, t, st);
             Buffer& b = k.buffer(buf, false, "buf");
             return k.start([&] {
               return c->send(b.data(), b.count(), b.dtype(), peer, tag, k.options);
             });
           }, ::py::arg("buf"), ::py::arg("peer"), ::py::arg("tag") = 0, WEFT_COMMON_ARGS)
      .def("recv", [](Comm c, Obj buf, int peer, uint32_t tag, OptDtype dt, bool a,
                      std::optional<double> t, OptStream st) {
             Call k = call(*c, "recv", dt, a, t, st);
             Buffer& b = k.buffer(buf, true, "buf");
             return k.start([&] {
               return c->recv(b.data(), b.count(), b.dtype(), peer, tag, k.options);
             });
           }, ::py::arg("buf"), ::py::arg("peer"), ::py::arg("tag") = 0, WEFT_COMMON_ARGS)
      .def("register_buffer", [](Comm c, Obj buf) {
             // The CUDA interface gives the bytes; a raw pointer comes as (ptr, bytes).
             uintptr_t ptr = 0;
             size_t bytes = 0;
             if (PyTuple_Check(buf.ptr())) {
               auto t = buf.cast<::py::tuple>();
               if (t.size() != 2)
                 throw Error(ErrorCode::InvalidArgument,
                             "register_buffer: pass an object with __cuda_array_interface__ or "
                             "a (pointer, bytes) tuple");
               ptr = t[0].cast<uintptr_t>();
               bytes = t[1].cast<size_t>();
             } else {
               Buffer b(buf, false, "register_buffer", "buf", std::nullopt);
               ptr = reinterpret_cast<uintptr_t>(b.data());
               bytes = b.count() * size_of(b.dtype());
             }
             ::py::gil_scoped_release release;
             return c->register_buffer(reinterpret_cast<const void*>(ptr), bytes).id;
           }, ::py::arg("buf"),
           "CUDA communicators: lets peers map this device memory (collectives on buffers "
           "registered on every rank run zero-copy); returns a handle for deregister()")
      .def("deregister", [](Comm c, uint64_t handle) { c->deregister(BufferHandle{handle}); },
           ::py::arg("handle"), ::py::call_guard<::py::gil_scoped_release>())
      .def("split", [](Comm c, int color, int key) -> std::optional<Comm> {
             Comm sub;
             {
               ::py::gil_scoped_release release;
               sub = std::make_shared<Communicator>(c->split(color, key));
             }
             if (!sub->valid()) return std::nullopt;
             return sub;
           }, ::py::arg("color"), ::py::arg("key"),
           "Collective; ranks with the same color form a new communicator (color < 0: None)")
      .def("abort", &Communicator::abort, ::py::call_guard<::py::gil_scoped_release>(),
           "Fails every pending and later operation with Aborted, on every rank");
}

}  // namespace weft::py
