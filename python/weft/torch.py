"""weft.torch: backend "weft" for torch.distributed (torch >= 2.4).

    import torch.distributed as dist
    import weft.torch                      # registers the backend
    dist.init_process_group("weft")        # under weftrun or torchrun (env://)
    model = torch.nn.parallel.DistributedDataParallel(model)

The backend is a Python subclass of ``torch.distributed.ProcessGroup`` (the
extension point torch's own tests use, PythonProcessGroupExtensionTest) on
top of the ``weft`` package. CPU tensors reach weft's host communicator as
zero-copy numpy views; CUDA tensors reach a CUDA weft communicator (made by
the group's first operation on CUDA tensors, on that tensor's GPU) through
``__cuda_array_interface__`` and run on torch's current stream. Results are
written in place. Every operation is issued at once, on the caller's thread,
and returns a Work wrapping a real ``torch.futures.Future`` that a per-group
thread completes when weft's Work finishes (CUDA: a CUDA-aware future
completed at enqueue on the op's stream, as NCCL's, see
_torch_support.Completer), so DDP's reducer overlaps its bucket allreduces
with backward.

Not supported (clear ``weft.UnsupportedError``): bitwise and PREMUL_SUM
reductions, ``recv`` from any source, sparse tensors, and on CUDA tensors
gather, scatter and the uneven forms (all_gather of different sizes,
all_to_all with split sizes), which weft's CUDA communicator lacks.
"""
import os
import socket

import torch
import torch.distributed as dist

from . import _weft
from ._torch_support import Completer, Staged, check_tensor, flat_like, unflatten_into, weft_op
from .errors import InvalidArgumentError, UnsupportedError

BACKEND = "weft"

try:  # torch's C++ Work around a future: wait()/get_future() without Python overrides
    from torch._C._distributed_c10d import _create_work_from_future
except ImportError:  # pragma: no cover (older torch)
    _create_work_from_future = None


class _FutureWork(getattr(dist, "Work", None) or dist._Work):
    """Fallback Work for a torch without _create_work_from_future."""

    def __init__(self, future):
        super().__init__()
        self._future = future

    def wait(self, timeout=None):
        self._future.wait()
        return True

    def is_completed(self):
        return self._future.done()

    def get_future(self):
        return self._future

    def result(self):
        return self._future.value()


def _work(future):
    return _create_work_from_future(future) if _create_work_from_future else _FutureWork(future)


def _tcp_store_of(store):
    """The torch TCPStore under a chain of PrefixStores, or None."""
    for _ in range(16):
        if isinstance(store, dist.TCPStore):
            return store
        store = getattr(store, "underlying_store", None)
        if store is None:
            return None
    return None


def _rendezvous(store, rank, size, timeout_s, group_id):
    """A weft communicator for the ranks of a torch process group.

    torch hands the backend its own Store object, which weft's C++ code cannot
    call. When it is a TCPStore (env:// under weftrun or torchrun, tcp://), weft
    connects its own client to the same server: weft's store speaks TCPStore's
    protocol. Otherwise (FileStore, HashStore, ...) rank 0 starts a weft
    StoreServer and publishes its address through the torch store. A
    generation counter keeps a group name reused after destroy_process_group()
    from meeting stale keys.
    """
    base = f"weft/{group_id}"
    generation = (store.add(f"{base}/generation", 1) - 1) // size
    prefix = f"{base}/{generation}"
    server = None
    tcp = _tcp_store_of(store)
    if tcp is not None:
        host, port = tcp.host, tcp.port
    else:
        key = f"{prefix}/address"
        if rank == 0:
            server = _weft.StoreServer.start("0.0.0.0", 0)
            here = os.environ.get("MASTER_ADDR") or socket.gethostname()
            store.set(key, f"{here}:{server.port}")
        host, port = store.get(key).decode().rsplit(":", 1)
    wstore = _weft.PrefixStore(prefix + "/",
                               _weft.TcpStore(host, int(port), timeout=timeout_s))
    comm = _weft.Communicator.init(wstore, rank, size, timeout=timeout_s,
                                   name=f"torch-{group_id}")
    return comm, wstore, server


def _timeout_s(opts):
    """A per-call timeout from torch's options (unset: weft's own)."""
    t = getattr(opts, "timeout", None)
    if t is None:
        return None
    s = t.total_seconds()
    return s if s > 0 else None


def _not_on_cuda(staged, what):
    """weft's CUDA communicator has no allgatherv, alltoallv, gather or scatter
    yet: say so before a CUDA communicator is made for nothing."""
    if staged.cuda:
        raise UnsupportedError(
            f"weft.torch: {what} on CUDA tensors is not supported: weft's CUDA communicator "
            "runs allreduce, reduce, broadcast, allgather and reduce_scatter with equal blocks, "
            "all_to_all_single without split sizes, send, recv and barrier "
            "(allgatherv, alltoallv, gather and scatter are not implemented on GPUs yet)")


def _as_list(tensors):
    return [tensors] if isinstance(tensors, torch.Tensor) else list(tensors)


class ProcessGroupWeft(dist.ProcessGroup):
    """torch.distributed.ProcessGroup on weft communicators: a host one for CPU
    tensors, a CUDA one (made on first use) for CUDA tensors."""

    def __init__(self, store, rank, size, timeout, group_id="0"):
        super().__init__(rank, size)
        self._timeout_s = timeout.total_seconds() if timeout is not None else None
        self._group_id = group_id
        self._comm, self._wstore, self._server = _rendezvous(store, rank, size, self._timeout_s,
                                                             group_id)
        self._cuda = None  # (GPU index, weft CUDA communicator), made on first use
        self._completer = Completer(f"weft.torch[{group_id}]")

    def getBackendName(self):  # noqa: N802 (torch's name)
        return BACKEND

    # ---- plumbing -------------------------------------------------------

    def _cuda_comm(self, device):
        """The group's CUDA communicator, created by the first operation on
        CUDA tensors (creating one is collective: every rank gets there at the
        same operation, because ranks issue the same operations in the same
        order and NCCL-style code passes CUDA tensors to an op on every rank).
        One process drives one GPU: the device of that first tensor."""
        if self._cuda is None:
            comm = _weft.Communicator.init(self._wstore, self.rank(), self.size(),
                                           timeout=self._timeout_s,
                                           name=f"torch-{self._group_id}-cuda",
                                           device=f"cuda:{device.index}")
            self._cuda = (device.index, comm)
        index, comm = self._cuda
        if device.index != index:
            raise InvalidArgumentError(
                f"weft.torch: a tensor on {device}, but this process's group runs on cuda:{index} "
                "(one GPU per process: the device of the first CUDA tensor)")
        return comm

    def _launch(self, staged, starts, result):
        """Issues the weft operations (callables taking the communicator and
        returning a weft.Work) now and returns a torch Work whose future holds
        `result` once all finished (see Completer for CUDA tensors)."""
        if staged is None or not staged.cuda:
            works = [start(self._comm) for start in starts]
            future = torch.futures.Future()
            self._completer.submit(works, staged, future, result)
            return _work(future)
        comm = self._cuda_comm(staged.device)
        stream = torch.cuda.current_stream(staged.device)
        works = [start(comm) for start in starts]
        staged.finish()  # copies out of staging, after the operation on the same stream
        future = torch.futures.Future(devices=[staged.device])
        Completer.complete_cuda(future, result, stream)
        self._completer.submit(works, staged, None, result, stream)
        return _work(future)

    def _kw(self, staged, opts=None):
        """weft keywords for the array just staged: its dtype override and, for
        CUDA tensors, torch's current stream (where weft enqueues the op)."""
        kw = dict(dtype=staged.dtype, async_op=True)
        if opts is not None:
            kw["timeout"] = _timeout_s(opts)
        if staged.cuda:
            kw["stream"] = torch.cuda.current_stream(staged.device).cuda_stream
        return kw

    @staticmethod
    def _same_dtype(op, tensors):
        dtypes = {t.dtype for t in tensors}
        if len(dtypes) > 1:
            raise InvalidArgumentError(f"weft.torch: {op}: tensors of different dtypes "
                                       f"({', '.join(sorted(map(str, dtypes)))})")

    # ---- reductions -----------------------------------------------------

    def allreduce(self, tensors, opts=None):
        tensors = _as_list(tensors)
        op = weft_op("allreduce", getattr(opts, "reduceOp", dist.ReduceOp.SUM))
        s = Staged("allreduce")
        starts = []
        for t in tensors:
            a = s.array(t, write=True)
            kw = self._kw(s, opts)
            starts.append(lambda c, a=a, kw=kw: c.allreduce(a, op=op, **kw))
        return self._launch(s, starts, tensors)

    def allreduce_coalesced(self, tensors, opts=None):
        """One allreduce over the tensors concatenated, then copied back."""
        tensors = _as_list(tensors)
        for t in tensors:
            check_tensor("allreduce_coalesced", t)
        self._same_dtype("allreduce_coalesced", tensors)
        op = weft_op("allreduce_coalesced", getattr(opts, "reduceOp", dist.ReduceOp.SUM))
        s = Staged("allreduce_coalesced")
        flat = flat_like(tensors)
        a = s.array(flat, write=True)
        s.later(lambda: unflatten_into(flat, tensors))
        kw = self._kw(s, opts)
        return self._launch(s, [lambda c: c.allreduce(a, op=op, **kw)], tensors)

    def reduce(self, tensors, opts=None):
        tensors = _as_list(tensors)
        root = getattr(opts, "rootRank", 0)
        op = weft_op("reduce", getattr(opts, "reduceOp", dist.ReduceOp.SUM))
        s = Staged("reduce")
        starts = []
        for t in tensors:
            a = s.array(t, write=self.rank() == root)
            kw = self._kw(s, opts)
            starts.append(lambda c, a=a, kw=kw: c.reduce(a, op=op, root=root, **kw))
        return self._launch(s, starts, tensors)

    def _reduce_scatter_base(self, output, input, opts=None):  # noqa: A002 (torch's name)
        op = weft_op("reduce_scatter", getattr(opts, "reduceOp", dist.ReduceOp.SUM))
        self._same_dtype("reduce_scatter", [output, input])
        s = Staged("reduce_scatter")
        src = s.array(input, "input")
        dst = s.array(output, "output", write=True)
        kw = self._kw(s, opts)
        return self._launch(s, [lambda c: c.reduce_scatter(src, dst, op=op, **kw)],
                            [output])

    reduce_scatter_single = _reduce_scatter_base  # the name in torch >= 2.11

    def reduce_scatter(self, output_tensors, input_lists, opts=None):
        """reduce_scatter([out], [[in_0, ..., in_{n-1}]]): in_r's sum lands on rank r."""
        works = []
        for out, ins in zip(_as_list(output_tensors), input_lists):
            for t in ins:
                check_tensor("reduce_scatter", t, "input")
                if t.numel() != out.numel():
                    raise InvalidArgumentError(
                        f"weft.torch: reduce_scatter: input of {t.numel()} elements for an "
                        f"output of {out.numel()} (weft needs equal blocks)")
            works.append(self._reduce_scatter_base(out, flat_like(ins), opts))
        return self._all_of(works, output_tensors)

    def reduce_scatter_tensor_coalesced(self, outputs, inputs, opts=None):
        works = [self._reduce_scatter_base(o, i, opts) for o, i in zip(outputs, inputs)]
        return self._all_of(works, outputs)

    reduce_scatter_single_coalesced = reduce_scatter_tensor_coalesced

    # ---- data movement --------------------------------------------------

    def broadcast(self, tensors, opts=None):
        tensors = _as_list(tensors)
        root = getattr(opts, "rootRank", 0)
        s = Staged("broadcast")
        starts = []
        for t in tensors:
            a = s.array(t, write=True)
            kw = self._kw(s, opts)
            starts.append(lambda c, a=a, kw=kw: c.broadcast(a, root=root, **kw))
        return self._launch(s, starts, tensors)

    def _allgather_base(self, output, input, opts=None):  # noqa: A002
        self._same_dtype("allgather", [output, input])
        s = Staged("allgather")
        src = s.array(input, "input")
        dst = s.array(output, "output", write=True)
        kw = self._kw(s, opts)
        return self._launch(s, [lambda c: c.allgather(src, dst, **kw)], [output])

    all_gather_single = _allgather_base  # the name in torch >= 2.11

    def allgather(self, output_lists, input_tensors, opts=None):
        """allgather([[out_0, ..., out_{n-1}]], [in]): rank r's in lands in out_r.
        Blocks of different sizes go through allgatherv."""
        input_tensors = _as_list(input_tensors)
        s = Staged("allgather")
        starts, copies = [], []
        for outs, inp in zip(output_lists, input_tensors):
            self._same_dtype("allgather", list(outs) + [inp])
            counts = [o.numel() for o in outs]
            if len(counts) != self.size():
                raise InvalidArgumentError(f"weft.torch: allgather: {len(counts)} outputs for "
                                           f"{self.size()} ranks")
            if counts[self.rank()] != inp.numel():
                raise InvalidArgumentError(
                    f"weft.torch: allgather: output {self.rank()} has {counts[self.rank()]} "
                    f"elements but this rank's input has {inp.numel()}")
            flat = flat_like([inp], sum(counts))
            src = s.array(inp, "input")
            dst = s.array(flat, "output", write=True)
            kw = self._kw(s, opts)
            if len(set(counts)) == 1:
                starts.append(lambda c, src=src, dst=dst, kw=kw: c.allgather(src, dst, **kw))
            else:
                _not_on_cuda(s, "all_gather with outputs of different sizes")
                starts.append(lambda c, src=src, dst=dst, kw=kw, counts=counts:
                              c.allgatherv(src, dst, counts, **kw))
            copies.append((flat, list(outs)))
        s.later(lambda: [unflatten_into(f, outs) for f, outs in copies])
        return self._launch(s, starts, list(output_lists))

    def allgather_coalesced(self, output_lists, input_tensors, opts=None):
        return self.allgather(output_lists, input_tensors, opts)

    def allgather_into_tensor_coalesced(self, outputs, inputs, opts=None):
        works = [self._allgather_base(o, i, opts) for o, i in zip(outputs, inputs)]
        return self._all_of(works, outputs)

    all_gather_single_coalesced = allgather_into_tensor_coalesced

    def gather(self, output_lists, input_tensors, opts=None):
        """gather([[out_0..out_{n-1}]] on root, [] elsewhere, [in])."""
        root = getattr(opts, "rootRank", 0)
        inp = _as_list(input_tensors)[0]
        s = Staged("gather")
        src = s.array(inp, "input")
        _not_on_cuda(s, "gather")
        dst = None
        if self.rank() == root:
            outs = list(output_lists[0])
            self._same_dtype("gather", outs + [inp])
            if len(outs) != self.size() or any(o.numel() != inp.numel() for o in outs):
                raise InvalidArgumentError(
                    f"weft.torch: gather: root needs {self.size()} outputs of {inp.numel()} "
                    "elements each")
            flat = flat_like([inp], inp.numel() * self.size())
            dst = s.array(flat, "output", write=True)
            s.later(lambda: unflatten_into(flat, outs))
        kw = self._kw(s, opts)
        return self._launch(s, [lambda c: c.gather(src, dst, root=root, **kw)],
                            list(output_lists))

    def scatter(self, output_tensors, input_lists, opts=None):
        """scatter([out], [[in_0..in_{n-1}]] on root, [] elsewhere)."""
        root = getattr(opts, "rootRank", 0)
        out = _as_list(output_tensors)[0]
        s = Staged("scatter")
        _not_on_cuda(Staged("scatter").with_tensor(out), "scatter")
        src = None
        if self.rank() == root:
            ins = list(input_lists[0])
            self._same_dtype("scatter", ins + [out])
            if len(ins) != self.size() or any(t.numel() != out.numel() for t in ins):
                raise InvalidArgumentError(
                    f"weft.torch: scatter: root needs {self.size()} inputs of {out.numel()} "
                    "elements each")
            src = s.array(flat_like(ins), "input")
        dst = s.array(out, "output", write=True)
        kw = self._kw(s, opts)
        return self._launch(s, [lambda c: c.scatter(src, dst, root=root, **kw)], [out])

    def alltoall_base(self, output, input, output_split_sizes, input_split_sizes,  # noqa: A002
                      opts=None):
        """all_to_all_single: splits count rows of dim 0 (empty: equal splits)."""
        self._same_dtype("alltoall", [output, input])
        s = Staged("alltoall")
        src = s.array(input, "input")
        dst = s.array(output, "output", write=True)
        kw = self._kw(s, opts)
        if not output_split_sizes and not input_split_sizes:
            return self._launch(s, [lambda c: c.alltoall(src, dst, **kw)], [output])

        def counts(t, splits):
            row = t.numel() // t.shape[0] if t.dim() > 0 and t.shape[0] else 1
            if not splits:
                return [t.numel() // self.size()] * self.size()
            return [int(k) * row for k in splits]

        sc, rc = counts(input, input_split_sizes), counts(output, output_split_sizes)
        if s.cuda and sc == rc == [input.numel() // self.size()] * self.size():
            return self._launch(s, [lambda c: c.alltoall(src, dst, **kw)], [output])
        _not_on_cuda(s, "all_to_all_single with uneven split sizes")
        return self._launch(s, [lambda c: c.alltoallv(src, sc, dst, rc, **kw)], [output])

    all_to_all_single = alltoall_base  # the name in torch >= 2.11

    def alltoall(self, output_tensors, input_tensors, opts=None):
        """all_to_all(list, list): input_tensors[r] goes to rank r."""
        outs, ins = list(output_tensors), list(input_tensors)
        self._same_dtype("alltoall", outs + ins)
        s = Staged("alltoall")
        if s.with_tensor(ins[0]).cuda and len({t.numel() for t in ins + outs}) > 1:
            _not_on_cuda(s, "all_to_all with tensors of different sizes")
        flat_in = flat_like(ins)
        flat_out = flat_like(outs, sum(o.numel() for o in outs))
        src = s.array(flat_in, "input")
        dst = s.array(flat_out, "output", write=True)
        s.later(lambda: unflatten_into(flat_out, outs))
        sc, rc = [t.numel() for t in ins], [t.numel() for t in outs]
        kw = self._kw(s, opts)
        if s.cuda:  # equal blocks (checked above)
            return self._launch(s, [lambda c: c.alltoall(src, dst, **kw)], outs)
        return self._launch(s, [lambda c: c.alltoallv(src, sc, dst, rc, **kw)], outs)

    def send(self, tensors, dstRank, tag=0):  # noqa: N803 (torch's names)
        s = Staged("send")
        starts = []
        for t in _as_list(tensors):
            a = s.array(t)
            kw = self._kw(s)
            starts.append(lambda c, a=a, kw=kw: c.send(a, dstRank, tag=tag, **kw))
        return self._launch(s, starts, _as_list(tensors))

    def recv(self, tensors, srcRank, tag=0):  # noqa: N803
        s = Staged("recv")
        starts = []
        for t in _as_list(tensors):
            a = s.array(t, write=True)
            kw = self._kw(s)
            starts.append(lambda c, a=a, kw=kw: c.recv(a, srcRank, tag=tag, **kw))
        return self._launch(s, starts, _as_list(tensors))

    def recv_anysource(self, tensors, tag=0):
        raise UnsupportedError("weft.torch: recv from any source is not supported "
                               "(weft's recv names its peer): pass src=")

    def barrier(self, opts=None):
        return self._launch(None, [lambda c: c.barrier(async_op=True,
                                                       timeout=_timeout_s(opts))], [])

    # ---- lifetime -------------------------------------------------------

    def _all_of(self, works, result):
        """One Work for several already-issued ones."""
        def done(collected):
            for f in collected.value():
                f.value()  # raises the error of a failed part
            return list(result)

        futures = [w.get_future() for w in works]
        return _work(torch.futures.collect_all(futures).then(done))

    def abort(self):
        if self._cuda is not None:
            self._cuda[1].abort()
        self._comm.abort()

    def shutdown(self):
        self._completer.stop()


def _create(backend_options, _pg_options=None):
    """The creator torch calls (extended_api=True) for each new group."""
    o = backend_options
    return ProcessGroupWeft(o.store, o.group_rank, o.group_size, o.timeout, str(o.group_id))


def _register():
    if hasattr(dist.Backend, BACKEND.upper()):
        return  # registered before (a reload)
    dist.Backend.register_backend(BACKEND, _create, extended_api=True, devices=["cpu", "cuda"])


_register()
