"""CUDA communicators from Python, on 2 GPUs (rank r on GPU r): weft.Communicator
on torch CUDA tensors and raw pointers, streams, Work, the exact errors; and
the torch backends "weft" (weft.torch) and "weft_cpp" (weft.torch_cpp, where
built) on CUDA tensors, DDP included, against NCCL.

Skipped, with the reason printed (pytest -rs), unless torch with CUDA, two
GPUs and a weft built with CUDA are all present: it runs on the lent GPU
machine. Every result is checked exactly against references computed here
(small integers, exact in every dtype).
"""
import os

import pytest

import weft

# NCCL is the comparator: never NVLink multicast on the lent machines.
os.environ.setdefault("NCCL_NVLS_ENABLE", "0")

torch = pytest.importorskip("torch", reason="torch is not importable here: the CUDA tests "
                                              "need torch with CUDA (they run on the GPU machine)")
if not weft.built_with_cuda:
    pytest.skip("weft was built without CUDA (WEFT_CUDA=OFF or no nvcc)", allow_module_level=True)
if not torch.cuda.is_available() or torch.cuda.device_count() < 2:
    pytest.skip(f"needs 2 CUDA GPUs; torch {torch.__version__} sees "
                f"{torch.cuda.device_count() if torch.cuda.is_available() else 0}",
                allow_module_level=True)

import ranks  # noqa: E402
import torch_ranks  # noqa: E402

N = 2


def base(rank, n=6, dtype=torch.float32, device="cpu"):
    return (torch.arange(n) * 3 + rank * 10).to(dtype).to(device)


def values(results):
    return ranks.values(results)


# ---- weft.Communicator on GPUs -------------------------------------------------------

def _raw_collectives(comm):
    r, n = comm.rank, comm.size
    dev = torch.device("cuda", r)
    torch.cuda.set_device(dev)
    assert comm.device == weft.Device(r)
    out = {}
    for dt in (torch.float32, torch.float16, torch.int32, torch.int64, torch.uint8):
        t = base(r, 37, dt, dev)
        comm.allreduce(t)                              # in place, torch's current stream
        out[f"allreduce_{dt}"] = t.cpu().tolist()
    t = base(r, 8, torch.bfloat16, dev)
    comm.allreduce(t.view(torch.int16), dtype=weft.DataType.bf16)
    out["allreduce_bf16"] = t.float().cpu().tolist()
    t = base(r, 8, device=dev)
    o = torch.empty_like(t)
    comm.allreduce(t, o, op=weft.ReduceOp.max)       # out of place
    out["allreduce_max"] = o.cpu().tolist()
    t = base(r, 8, device=dev)
    comm.allreduce(t, op=weft.ReduceOp.avg)
    out["allreduce_avg"] = t.cpu().tolist()

    t = base(r, device=dev)
    comm.reduce(t, root=1)
    if r == 1:
        out["reduce"] = t.cpu().tolist()
    t = base(r, device=dev)
    comm.broadcast(t, root=1)
    out["broadcast"] = t.cpu().tolist()
    g = torch.empty(4 * n, device=dev)
    comm.allgather(base(r, 4, device=dev), g)
    out["allgather"] = g.cpu().tolist()
    o = torch.empty(3, device=dev)
    comm.reduce_scatter(base(r, 3 * n, device=dev), o)
    out["reduce_scatter"] = o.cpu().tolist()
    o = torch.empty(2 * n, device=dev)
    comm.alltoall(base(r, 2 * n, device=dev), o)
    out["alltoall"] = o.cpu().tolist()
    t = base(r, device=dev) if r == 0 else torch.empty(6, device=dev)
    if r == 0:
        comm.send(t, 1)
    else:
        comm.recv(t, 0)
    out["send_recv"] = t.cpu().tolist()
    comm.barrier()

    # A side stream: the op runs there (torch's current stream), ordered after
    # the fill on that stream; async Work, then wait().
    s = torch.cuda.Stream(dev)
    with torch.cuda.stream(s):
        t = torch.full((1 << 20,), float(r + 1), device=dev)
        w = comm.allreduce(t, async_op=True)
    w.wait()
    out["side_stream"] = [t[0].item(), t[-1].item(), w.completed()]
    # stream= names the stream explicitly; raw (pointer, count, dtype) form.
    t = base(r, 16, device=dev)
    s.wait_stream(torch.cuda.current_stream(dev))   # t was written on the current stream
    comm.allreduce((t.data_ptr(), t.numel(), weft.DataType.f32), stream=s.cuda_stream)
    s.synchronize()
    out["raw_pointer"] = t.cpu().tolist()
    # The Work keeps the tensor alive after the caller dropped it.
    t = base(r, 1 << 16, device=dev)
    w = comm.allreduce(t, async_op=True)
    ref = t.data_ptr()
    del t
    w.wait()
    out["kept_alive"] = ref != 0
    # Registered buffers (zero-copy path): same results.
    t = base(r, 1 << 18, device=dev)
    h = comm.register_buffer(t)
    comm.allreduce(t)
    out["registered"] = [t[0].item(), t[-1].item()]
    comm.deregister(h)
    return out


def test_raw_communicator_collectives():
    res = values(ranks.run(N, _raw_collectives, cuda=True))
    total = lambda n, dt=torch.float32: sum(base(k, n, dt) for k in range(N))  # noqa: E731
    for r, out in enumerate(res):
        for dt in (torch.float32, torch.float16, torch.int32, torch.int64, torch.uint8):
            assert out[f"allreduce_{dt}"] == total(37, dt).tolist(), dt
        assert out["allreduce_bf16"] == total(8, torch.bfloat16).float().tolist()
        assert out["allreduce_max"] == base(N - 1, 8).tolist()
        assert out["allreduce_avg"] == (total(8) / N).tolist()
        if r == 1:
            assert out["reduce"] == total(6).tolist()
        assert out["broadcast"] == base(1).tolist()
        assert out["allgather"] == torch.cat([base(k, 4) for k in range(N)]).tolist()
        assert out["reduce_scatter"] == total(3 * N)[3 * r:3 * r + 3].tolist()
        assert out["alltoall"] == torch.cat([base(s, 2 * N)[2 * r:2 * r + 2]
                                             for s in range(N)]).tolist()
        assert out["send_recv"] == base(0).tolist()
        assert out["side_stream"] == [3.0, 3.0, True]
        assert out["raw_pointer"] == total(16).tolist()
        assert out["kept_alive"]
        big = total(1 << 18)
        assert out["registered"] == [big[0].item(), big[-1].item()]


def _raw_errors(comm):
    import numpy as np

    r = comm.rank
    dev = torch.device("cuda", r)
    torch.cuda.set_device(dev)
    msgs = []
    for call in (lambda: comm.allreduce(np.ones(4, np.float32)),
                 lambda: comm.allreduce(torch.ones(4)),
                 lambda: comm.gather(torch.ones(4, device=dev), torch.ones(4 * comm.size,
                                                                          device=dev)),
                 lambda: comm.allreduce(torch.ones(4, device=torch.device("cuda", 1 - r)))):
        try:
            call()
            msgs.append(None)
        except weft.Error as e:
            msgs.append((type(e).__name__, e.message))
    t = base(r, device=dev)   # the communicator still works
    comm.allreduce(t)
    return msgs, t.cpu().tolist()


def test_raw_communicator_errors():
    for r, (msgs, after) in enumerate(values(ranks.run(N, _raw_errors, cuda=True))):
        assert after == sum(base(k) for k in range(N)).tolist()
        hint = ("pass device memory of that GPU (an object with __cuda_array_interface__ such as "
                "a torch CUDA tensor or a cupy array, or a (pointer, count, dtype) tuple)")
        assert msgs[0] == ("InvalidArgumentError", "allreduce: send is host memory "
                           f"(numpy.ndarray), but this communicator runs on cuda:{r}: {hint}")
        # a CPU torch tensor has neither the buffer protocol nor a CUDA interface
        assert msgs[1][0] == "InvalidArgumentError"
        assert msgs[1][1].startswith("allreduce: send must support the buffer protocol")
        assert msgs[2][0] == "UnsupportedError"
        assert "gather on a CUDA communicator is not implemented" in msgs[2][1]
        assert msgs[3][0] == "InvalidArgumentError"
        assert f"is on GPU {1 - r}, the communicator uses GPU {r}" in msgs[3][1]


# ---- weft.torch on CUDA tensors ----------------------------------------------------------

def _torch_collectives():
    import torch.distributed as dist

    r, n = dist.get_rank(), dist.get_world_size()
    dev = torch.device("cuda", r)
    out = {}
    t = base(r, device=dev)
    dist.all_reduce(t)
    out["allreduce"] = t.cpu().tolist()
    t = base(r, dtype=torch.bfloat16, device=dev)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    out["allreduce_bf16_max"] = t.float().cpu().tolist()
    t = base(r, 12, device=dev).reshape(3, 4).t()     # not contiguous: staged, written back
    dist.all_reduce(t)
    out["allreduce_noncontig"] = t.cpu().tolist()
    a, b = base(r, 5, device=dev), base(r, 3, device=dev)
    dist.group.WORLD.allreduce_coalesced([a, b]).wait()
    out["allreduce_coalesced"] = [a.cpu().tolist(), b.cpu().tolist()]
    t = base(r, device=dev)
    dist.broadcast(t, src=1)
    out["broadcast"] = t.cpu().tolist()
    t = base(r, device=dev)
    dist.reduce(t, dst=0)
    if r == 0:
        out["reduce"] = t.cpu().tolist()
    outs = [torch.empty(4, device=dev) for _ in range(n)]
    dist.all_gather(outs, base(r, 4, device=dev))
    out["all_gather"] = [o.cpu().tolist() for o in outs]
    big = torch.empty(4 * n, device=dev)
    dist.all_gather_into_tensor(big, base(r, 4, device=dev))
    out["all_gather_into_tensor"] = big.cpu().tolist()
    o = torch.empty(3, device=dev)
    dist.reduce_scatter_tensor(o, base(r, 3 * n, device=dev))
    out["reduce_scatter_tensor"] = o.cpu().tolist()
    o = torch.empty(3, device=dev)
    dist.reduce_scatter(o, [base(r, 3, device=dev) + k for k in range(n)])
    out["reduce_scatter"] = o.cpu().tolist()
    o = torch.empty(2 * n, device=dev)
    dist.all_to_all_single(o, base(r, 2 * n, device=dev))
    out["all_to_all_single"] = o.cpu().tolist()
    if r == 0:
        dist.send(base(5, device=dev), dst=1)
        t = torch.empty(6, device=dev)
        dist.recv(t, src=1)
    else:
        t = torch.empty(6, device=dev)
        dist.recv(t, src=0)
        dist.send(t * 2, dst=0)
    out["send_recv"] = t.cpu().tolist()
    dist.barrier()
    # async: the future is CUDA-aware (completed at enqueue, as NCCL's): its value is usable on
    # the current stream
    t = base(r, 1 << 20, device=dev)
    work = dist.all_reduce(t, async_op=True)
    value = work.get_future().wait()
    out["async"] = [value[0][0].item(), value[0][-1].item(), work.is_completed()]
    # CPU tensors keep working in the same group
    t = base(r)
    dist.all_reduce(t)
    out["cpu_after_cuda"] = t.tolist()
    # gather and uneven all_to_all have no CUDA path: a clear error (weft's
    # UnsupportedError from backend weft, torch's NotImplementedError from
    # weft_cpp), and the group goes on
    def refused(fn):
        try:
            fn()
            return None
        except weft.UnsupportedError as e:
            return e.message
        except NotImplementedError as e:
            return str(e)
    out["gather"] = refused(lambda: dist.gather(
        base(r, 3, device=dev), [torch.empty(3, device=dev) for _ in range(n)] if r == 0 else None,
        dst=0))
    out["uneven_all_to_all"] = refused(lambda: dist.all_to_all_single(
        torch.empty(3, device=dev), base(r, 3, device=dev),
        output_split_sizes=[1, 2] if r == 0 else [2, 1],
        input_split_sizes=[1, 2] if r == 0 else [2, 1]))
    t = base(r, device=dev)
    dist.all_reduce(t)
    out["allreduce_after_refusals"] = t.cpu().tolist()
    # equal splits given explicitly: weft's alltoall, no alltoallv needed
    o = torch.empty(2 * n, device=dev)
    dist.all_to_all_single(o, base(r, 2 * n, device=dev), [2] * n, [2] * n)
    out["all_to_all_equal_splits"] = o.cpu().tolist()
    return out


def _backend(name):
    """backend "weft" (weft.torch) always; "weft_cpp" where weft._c10d was built
    for this torch (configure with a python that imports it)."""
    if name == "weft_cpp":
        try:
            import weft.torch_cpp  # noqa: F401
        except ImportError as e:
            pytest.skip(f"backend weft_cpp is not usable here: {e}")
    return name


# the prefix of each backend's error messages
PREFIX = {"weft": "weft.torch", "weft_cpp": "weft_cpp"}


@pytest.mark.parametrize("backend", ["weft", "weft_cpp"])
def test_torch_backend_on_cuda_tensors(backend):
    res = values(torch_ranks.run(N, _backend(backend), _torch_collectives, cuda=True))
    total = sum(base(k) for k in range(N)).tolist()
    for r, out in enumerate(res):
        assert out["allreduce"] == total
        assert out["allreduce_bf16_max"] == base(N - 1).tolist()
        assert out["allreduce_noncontig"] == sum(base(k, 12) for k in range(N)).reshape(3, 4).t().tolist()
        assert out["allreduce_coalesced"] == [sum(base(k, 5) for k in range(N)).tolist(),
                                              sum(base(k, 3) for k in range(N)).tolist()]
        assert out["broadcast"] == base(1).tolist()
        if r == 0:
            assert out["reduce"] == total
        assert out["all_gather"] == [base(k, 4).tolist() for k in range(N)]
        assert out["all_gather_into_tensor"] == torch.cat([base(k, 4) for k in range(N)]).tolist()
        assert out["reduce_scatter_tensor"] == sum(base(k, 3 * N) for k in range(N))[3 * r:3 * r + 3].tolist()
        assert out["reduce_scatter"] == sum(base(k, 3) + r for k in range(N)).tolist()
        assert out["all_to_all_single"] == torch.cat([base(s, 2 * N)[2 * r:2 * r + 2]
                                                      for s in range(N)]).tolist()
        assert out["send_recv"] == (base(5) * (2 if r == 0 else 1)).tolist()
        big = sum(base(k, 1 << 20) for k in range(N))
        assert out["async"] == [big[0].item(), big[-1].item(), True]
        assert out["cpu_after_cuda"] == total
        assert out["gather"].startswith(f"{PREFIX[backend]}: gather on CUDA tensors is not "
                                        "supported"), out["gather"]
        assert out["uneven_all_to_all"].startswith(
            f"{PREFIX[backend]}: all_to_all_single with uneven split sizes on CUDA tensors is not "
            "supported"), out["uneven_all_to_all"]
        assert out["allreduce_after_refusals"] == total
        assert out["all_to_all_equal_splits"] == out["all_to_all_single"]


def _peer_dies():
    """Rank 1 dies after one CUDA allreduce; rank 0 keeps issuing CUDA
    allreduces and must get the failure, named, within weft's detection time
    (the IPC connection of a dead process closes): never a hang."""
    import time

    import torch.distributed as dist

    r = dist.get_rank()
    dev = torch.device("cuda", r)
    t = base(r, 1 << 16, device=dev)
    dist.all_reduce(t)
    torch.cuda.synchronize(dev)
    if r == 1:
        return torch_ranks.DIE
    deadline = time.monotonic() + 60
    issued = 0
    while time.monotonic() < deadline:
        try:
            work = dist.all_reduce(t, async_op=True)
            issued += 1
            torch.cuda.synchronize(dev)  # returns: a failed op's kernels are aborted
            work.wait()
        except weft.Error as e:          # backend weft
            return issued, type(e).__name__, e.message
        except RuntimeError as e:        # backend weft_cpp: torch's DistBackendError
            return issued, type(e).__name__, str(e)
    return issued, "no error", ""


@pytest.mark.parametrize("backend", ["weft", "weft_cpp"])
def test_dead_peer_fails_the_cuda_ops_with_its_name(backend):
    res = torch_ranks.run(N, _backend(backend), _peer_dies, cuda=True, timeout=90)
    assert res[1] == ("ok", "died"), res[1]
    status, value = res[0]
    assert status == "ok", value
    issued, kind, message = value
    assert kind in ("PeerLostError", "AbortedError", "DistBackendError"), value
    assert "peer rank 1" in message or "rank 1" in message, message
    assert "PeerLost" in message or "Aborted" in message or kind != "DistBackendError", message
    if backend == "weft_cpp":
        assert message.startswith("weft_cpp: allreduce: ["), message


def _ddp_cuda(steps):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    r = dist.get_rank()
    dev = torch.device("cuda", r)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(),
                                torch.nn.Linear(32, 4)).to(dev)
    if r == 1:  # DDP must broadcast rank 0's weights at construction
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
    ddp = DDP(model, device_ids=[r], bucket_cap_mb=0.001)   # several buckets per step
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(100 + r)
    losses = []
    for _ in range(steps):
        x, y = torch.randn(16, 8, generator=g).to(dev), torch.randn(16, 4, generator=g).to(dev)
        loss = torch.nn.functional.mse_loss(ddp(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().flatten().cpu().tolist() for p in model.parameters()]


@pytest.mark.parametrize("backend", ["weft", "weft_cpp"])
def test_ddp_on_cuda_matches_nccl(backend):
    steps = 6
    weft_res = values(torch_ranks.run(N, _backend(backend), _ddp_cuda, steps, cuda=True))
    nccl_res = values(torch_ranks.run(N, "nccl", _ddp_cuda, steps, cuda=True))
    for r in range(N):
        # 2 ranks: a + b has one order, so the averages agree; the tolerance
        # only allows for GPU kernels that round differently between runs.
        assert weft_res[r][0] == pytest.approx(nccl_res[r][0], rel=1e-5, abs=1e-6)
        for pw, pn in zip(weft_res[r][1], nccl_res[r][1]):
            assert pw == pytest.approx(pn, rel=1e-5, abs=1e-6)
    assert weft_res[0][1] == weft_res[1][1]
    assert weft_res[0][0][-1] < weft_res[0][0][0]
