// Communicator and Work. Every collective takes buffer-protocol objects
// (numpy arrays, ...), derives the dtype from the buffer format (or dtype=),
// checks sizes against the communicator's size, and returns a Work that keeps
// the buffers alive. async_op=False (the default) waits before returning.
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

// Shared arguments of every operation.
struct Call {
  std::string op;
  OptDtype dtype;
  bool async_op;
  OpOptions options;
  Buffers buffers;

  Buffer& buffer(Obj obj, bool writable, const char* role) {
    buffers.push_back(std::make_unique<Buffer>(obj, writable, op, role, dtype));
    return *buffers.back();
  }
  void require(bool ok, const std::string& message) const {
    if (!ok) throw Error(ErrorCode::InvalidArgument, op + ": " + message);
  }
  void same_dtype(const Buffer& a, const Buffer& b, const char* a_role, const char* b_role) {
    require(a.dtype() == b.dtype(), str(b_role, " is ", to_string(b.dtype()), " but ", a_role,
                                        " is ", to_string(a.dtype())));
  }
  // Starts the operation with the GIL released and wraps its Work.
  template <typename F>
  std::shared_ptr<PyWork> start(F&& f) {
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

Call call(const char* op, OptDtype dtype, bool async_op, std::optional<double> timeout) {
  Call c{op, dtype, async_op, {}, {}};
  c.options.timeout = to_ms(timeout);
  return c;
}

std::vector<size_t> displacements(const std::vector<size_t>& counts) {
  std::vector<size_t> d(counts.size(), 0);
  for (size_t i = 1; i < counts.size(); ++i) d[i] = d[i - 1] + counts[i - 1];
  return d;
}

// Keyword arguments common to every operation.
#define WEFT_COMMON_ARGS                                                       \
  ::py::kw_only(), ::py::arg("dtype") = ::py::none(), ::py::arg("async_op") = false, \
      ::py::arg("timeout") = ::py::none()

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
                             const std::string& name) {
             CommOptions o;
             o.timeout = to_ms(timeout);
             o.init_timeout = to_ms(init_timeout);
             o.name = name;
             ::py::gil_scoped_release release;
             return std::make_shared<Communicator>(Communicator::init(*store, rank, size, o));
           }, ::py::arg("store"), ::py::arg("rank"), ::py::arg("size"), ::py::kw_only(),
           ::py::arg("timeout") = ::py::none(), ::py::arg("init_timeout") = ::py::none(),
           ::py::arg("name") = "weft", ::py::keep_alive<0, 1>(),
           "Collective over `size` ranks that share `store`")
      .def_static("init_from_env", [](std::optional<double> timeout, const std::string& name) {
             CommOptions o;
             o.timeout = to_ms(timeout);
             o.name = name;
             ::py::gil_scoped_release release;
             return std::make_shared<Communicator>(Communicator::init_from_env(o));
           }, ::py::kw_only(), ::py::arg("timeout") = ::py::none(), ::py::arg("name") = "weft",
           "RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (what weftrun and torchrun set)")
      .def_property_readonly("rank", &Communicator::rank)
      .def_property_readonly("size", &Communicator::size)
      .def("allreduce", [](Comm c, Obj send, Obj recv, ReduceOp op, OptDtype dt, bool a,
                           std::optional<double> t) {
             Call k = call("allreduce", dt, a, t);
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
                        std::optional<double> t) {
             Call k = call("reduce", dt, a, t);
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
                           std::optional<double> t) {
             Call k = call("broadcast", dt, a, t);
             Buffer& b = k.buffer(buf, c->rank() != root, "buf");
             return k.start([&] {
               return c->broadcast(b.data(), b.count(), b.dtype(), root, k.options);
             });
           }, ::py::arg("buf"), ::py::arg("root") = 0, WEFT_COMMON_ARGS)
      .def("allgather", [](Comm c, Obj send, Obj recv, OptDtype dt, bool a,
                           std::optional<double> t) {
             Call k = call("allgather", dt, a, t);
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
                            std::optional<double> t) {
             Call k = call("allgatherv", dt, a, t);
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
                                std::optional<double> t) {
             Call k = call("reduce_scatter", dt, a, t);
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
                          std::optional<double> t) {
             Call k = call("alltoall", dt, a, t);
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
                           std::optional<double> t) {
             Call k = call("alltoallv", dt, a, t);
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
                        std::optional<double> t) {
             Call k = call("gather", dt, a, t);
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
                         std::optional<double> t) {
             Call k = call("scatter", dt, a, t);
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
             Call k = call("barrier", std::nullopt, a, t);
             return k.start([&] { return c->barrier(k.options); });
           }, ::py::kw_only(), ::py::arg("async_op") = false, ::py::arg("timeout") = ::py::none())
      .def("send", [](Comm c, Obj buf, int peer, uint32_t tag, OptDtype dt, bool a,
                      std::optional<double> t) {
             Call k = call("send", dt, a, t);
             Buffer& b = k.buffer(buf, false, "buf");
             return k.start([&] {
               return c->send(b.data(), b.count(), b.dtype(), peer, tag, k.options);
             });
           }, ::py::arg("buf"), ::py::arg("peer"), ::py::arg("tag") = 0, WEFT_COMMON_ARGS)
      .def("recv", [](Comm c, Obj buf, int peer, uint32_t tag, OptDtype dt, bool a,
                      std::optional<double> t) {
             Call k = call("recv", dt, a, t);
             Buffer& b = k.buffer(buf, true, "buf");
             return k.start([&] {
               return c->recv(b.data(), b.count(), b.dtype(), peer, tag, k.options);
             });
           }, ::py::arg("buf"), ::py::arg("peer"), ::py::arg("tag") = 0, WEFT_COMMON_ARGS)
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
