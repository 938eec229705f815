"""weft.torch_cpp: backend "weft_cpp" (a C++ c10d::Backend), across real processes.

Skipped with the reason printed (pytest -rs) where torch is not importable or
where weft._c10d was not built (weft configured without a Python that imports
torch: -DWEFT_TORCH_PYTHON=...). Every collective is checked against values
computed here from every rank's inputs, on 3 ranks; errors must name the
operation; DDP on weft_cpp must reproduce gloo's losses and weights.

To run here:
  PYTHONPATH=build/python /work/torchvenv211/bin/python -m pytest -q -rs \
      tests/python/test_torch_cpp.py
"""
import pytest

torch = pytest.importorskip("torch", reason="torch is not importable here: backend weft_cpp "
                                              "tests need torch and weft._c10d built for it")
try:
    import weft.torch_cpp  # noqa: F401
except ImportError as e:
    pytest.skip(f"weft._c10d is not usable here: {e}", allow_module_level=True)

import torch.distributed as dist  # noqa: E402

import weft  # noqa: E402
from torch_ranks import run  # noqa: E402

BACKEND = "weft_cpp"


# ---- rank harness: torch_ranks.run (it imports weft.torch_cpp for weft_cpp) ----------

def values(results):
    bad = [(r, s, v) for r, (s, v) in enumerate(results) if s != "ok"]
    assert not bad, "\n".join(f"rank {r}: {s}: {v}" for r, s, v in bad)
    return [v for _, v in results]


def base(rank, n=6, dtype=torch.float32):
    """Small integers: exact in every dtype, sums and products included."""
    return (torch.arange(n) * 3 + rank * 10).to(dtype)


# ---- every collective ---------------------------------------------------------------

N = 3
SPLITS = [[1, 2, 0], [3, 1, 1], [0, 2, 2]]  # SPLITS[src][dst] rows of 2 elements


def _collectives():
    r, n = dist.get_rank(), dist.get_world_size()
    out = {}

    for name, dtype, op in [("sum_f32", torch.float32, dist.ReduceOp.SUM),
                            ("max_i64", torch.int64, dist.ReduceOp.MAX),
                            ("min_i8", torch.int8, dist.ReduceOp.MIN),
                            ("avg_f64", torch.float64, dist.ReduceOp.AVG),
                            ("sum_bf16", torch.bfloat16, dist.ReduceOp.SUM),
                            ("sum_f16", torch.float16, dist.ReduceOp.SUM),
                            ("prod_i32", torch.int32, dist.ReduceOp.PRODUCT),
                            ("sum_u8", torch.uint8, dist.ReduceOp.SUM)]:
        t = base(r, dtype=dtype) if dtype != torch.int32 else torch.arange(6, dtype=dtype) + r
        dist.all_reduce(t, op=op)
        out[f"allreduce_{name}"] = t.tolist()
    t = base(r, 12).reshape(3, 4).t()          # not contiguous: staged and written back
    dist.all_reduce(t)
    out["allreduce_noncontig"] = t.tolist()
    a, b = base(r, 5), base(r, 3).reshape(3, 1)
    dist.group.WORLD.allreduce_coalesced([a, b]).wait()   # the backend's method itself
    out["allreduce_coalesced"] = [a.tolist(), b.tolist()]

    t = base(r)
    dist.broadcast(t, src=1)
    out["broadcast"] = t.tolist()

    outs = [torch.empty(4) for _ in range(n)]
    dist.all_gather(outs, base(r, 4))
    out["all_gather"] = [o.tolist() for o in outs]
    outs = [torch.empty(k + 1) for k in range(n)]        # rank k sends k + 1 elements
    dist.all_gather(outs, base(r, r + 1))
    out["all_gather_uneven"] = [o.tolist() for o in outs]
    big = torch.empty(4 * n, dtype=torch.int32)
    dist.all_gather_into_tensor(big, base(r, 4, torch.int32))
    out["all_gather_into_tensor"] = big.tolist()

    o = torch.empty(3)
    dist.reduce_scatter(o, [base(r, 3) + k for k in range(n)])
    out["reduce_scatter"] = o.tolist()
    o = torch.empty(3)
    dist.reduce_scatter_tensor(o, base(r, 3 * n))
    out["reduce_scatter_tensor"] = o.tolist()
    o = torch.empty(3, dtype=torch.float64)
    dist.reduce_scatter_tensor(o, base(r, 3 * n, torch.float64), op=dist.ReduceOp.MAX)
    out["reduce_scatter_tensor_max"] = o.tolist()

    # torch's fast-path coalescing: allgather_into_tensor_coalesced and
    # reduce_scatter_tensor_coalesced of the backend, one Work each
    gathered = [torch.empty(2 * n), torch.empty(3 * n, dtype=torch.float64)]
    with dist._coalescing_manager(async_ops=True) as cm:
        dist.all_gather_into_tensor(gathered[0], base(r, 2))
        dist.all_gather_into_tensor(gathered[1], base(r, 3, torch.float64))
    cm.wait()
    out["all_gather_coalesced"] = [g.tolist() for g in gathered]
    scattered = [torch.empty(2), torch.empty(1)]
    with dist._coalescing_manager(async_ops=True) as cm:
        dist.reduce_scatter_tensor(scattered[0], base(r, 2 * n))
        dist.reduce_scatter_tensor(scattered[1], base(r, n))
    cm.wait()
    out["reduce_scatter_coalesced"] = [g.tolist() for g in scattered]

    o = torch.empty(2 * n)
    dist.all_to_all_single(o, base(r, 2 * n))
    out["all_to_all_single"] = o.tolist()
    inp = base(r, 2 * sum(SPLITS[r])).reshape(-1, 2)
    o = torch.empty(sum(SPLITS[s][r] for s in range(n)), 2)
    dist.all_to_all_single(o, inp, output_split_sizes=[SPLITS[s][r] for s in range(n)],
                           input_split_sizes=SPLITS[r])
    out["all_to_all_single_splits"] = o.tolist()
    outs = [torch.empty(k + 1) for k in range(n)]     # from rank k: k + 1 elements
    dist.all_to_all(outs, [base(r, r + 1) + 100 * d for d in range(n)])
    out["all_to_all"] = [x.tolist() for x in outs]

    t = base(r)
    dist.reduce(t, dst=2)
    if r == 2:
        out["reduce"] = t.tolist()
    gathered = [torch.empty(3) for _ in range(n)] if r == 1 else None
    dist.gather(base(r, 3), gathered, dst=1)
    if r == 1:
        out["gather"] = [g.tolist() for g in gathered]
    o = torch.empty(3)
    dist.scatter(o, [base(0, 3) + 7 * k for k in range(n)] if r == 0 else None, src=0)
    out["scatter"] = o.tolist()

    # a ring of sends: receive from the left, send to the right (isend first)
    t = torch.empty(6)
    send = dist.isend(base(r) * 2, dst=(r + 1) % n, tag=3)
    dist.recv(t, src=(r - 1) % n, tag=3)
    send.wait()
    out["send_recv"] = t.tolist()
    t = torch.empty(2, dtype=torch.int64)
    for w in dist.batch_isend_irecv([dist.P2POp(dist.isend, base(r, 2, torch.int64), (r - 1) % n),
                                     dist.P2POp(dist.irecv, t, (r + 1) % n)]):
        w.wait()
    out["batch_isend_irecv"] = t.tolist()

    dist.barrier()
    objs = [None] * n
    dist.all_gather_object(objs, {"rank": r, "s": "x" * (r + 1)})
    out["all_gather_object"] = objs
    return out


def test_every_collective_matches_reference():
    res = values(run(N, BACKEND, _collectives))
    n = N
    f = [base(k) for k in range(n)]
    total = sum(f).tolist()
    for r, out in enumerate(res):
        assert out["allreduce_sum_f32"] == total
        assert out["allreduce_max_i64"] == base(n - 1).tolist()
        assert out["allreduce_min_i8"] == base(0).tolist()
        assert out["allreduce_avg_f64"] == (sum(f) / n).tolist()
        assert out["allreduce_sum_bf16"] == total
        assert out["allreduce_sum_f16"] == total
        prod = torch.ones(6, dtype=torch.int64)
        for k in range(n):
            prod *= torch.arange(6) + k
        assert out["allreduce_prod_i32"] == prod.tolist()
        assert out["allreduce_sum_u8"] == total
        assert out["allreduce_noncontig"] == sum(base(k, 12) for k in range(n)).reshape(3, 4).t().tolist()
        assert out["allreduce_coalesced"] == [sum(base(k, 5) for k in range(n)).tolist(),
                                              sum(base(k, 3) for k in range(n)).reshape(3, 1).tolist()]
        assert out["broadcast"] == base(1).tolist()
        assert out["all_gather"] == [base(k, 4).tolist() for k in range(n)]
        assert out["all_gather_uneven"] == [base(k, k + 1).tolist() for k in range(n)]
        assert out["all_gather_into_tensor"] == torch.cat([base(k, 4) for k in range(n)]).int().tolist()
        assert out["reduce_scatter"] == sum(base(k, 3) + r for k in range(n)).tolist()
        assert out["reduce_scatter_tensor"] == sum(base(k, 3 * n) for k in range(n))[3 * r:3 * r + 3].tolist()
        assert out["reduce_scatter_tensor_max"] == base(n - 1, 3 * n)[3 * r:3 * r + 3].tolist()
        assert out["all_gather_coalesced"] == [
            torch.cat([base(k, 2) for k in range(n)]).tolist(),
            torch.cat([base(k, 3, torch.float64) for k in range(n)]).tolist()]
        assert out["reduce_scatter_coalesced"] == [
            sum(base(k, 2 * n) for k in range(n))[2 * r:2 * r + 2].tolist(),
            sum(base(k, n) for k in range(n))[r:r + 1].tolist()]
        assert out["all_to_all_single"] == torch.cat([base(s, 2 * n)[2 * r:2 * r + 2] for s in range(n)]).tolist()
        expect = []
        for s in range(n):
            rows = base(s, 2 * sum(SPLITS[s])).reshape(-1, 2)
            start = sum(SPLITS[s][:r])
            expect += rows[start:start + SPLITS[s][r]].tolist()
        assert out["all_to_all_single_splits"] == expect
        assert out["all_to_all"] == [(base(s, s + 1) + 100 * r).tolist() for s in range(n)]
        if r == 2:
            assert out["reduce"] == total
        if r == 1:
            assert out["gather"] == [base(k, 3).tolist() for k in range(n)]
        assert out["scatter"] == (base(0, 3) + 7 * r).tolist()
        assert out["send_recv"] == (base((r - 1) % n) * 2).tolist()
        assert out["batch_isend_irecv"] == base((r + 1) % n, 2, torch.int64).tolist()
        assert out["all_gather_object"] == [{"rank": k, "s": "x" * (k + 1)} for k in range(n)]


# ---- futures --------------------------------------------------------------------------

def _futures():
    r = dist.get_rank()
    backend = dist.group.WORLD._get_backend(torch.device("cpu"))
    t = base(r)
    work = dist.all_reduce(t, async_op=True)
    doubled = work.get_future().then(lambda fut: fut.value()[0] * 2)
    chained = doubled.wait()
    work.wait()
    # a Work whose future holds what allgather gathered
    outs = [torch.empty(2) for _ in range(dist.get_world_size())]
    w2 = dist.all_gather(outs, base(r, 2), async_op=True)
    value = w2.get_future().wait()
    # a second group of this backend in the same processes: its own communicator
    sub = dist.new_group([0, 1], backend=BACKEND)
    s = torch.ones(3) * (r + 1)
    dist.all_reduce(s, group=sub)
    return (type(backend).__name__, chained.tolist(), t.tolist(), work.is_completed(),
            work.is_success(), [v.tolist() for v in value], s.tolist())


def test_work_future_then_and_values():
    res = values(run(2, BACKEND, _futures))
    total = (base(0) + base(1)).tolist()
    for name, chained, t, completed, success, gathered, sub in res:
        assert sub == [3.0, 3.0, 3.0]
        assert name == "WeftBackend"
        assert chained == [2 * x for x in total]
        assert t == total
        assert completed and success
        assert gathered == [base(0, 2).tolist(), base(1, 2).tolist()]


def _wait_timeout():
    """wait(timeout) on a receive whose send comes late: a timeout error
    naming the op, then the same Work completes once the data arrives."""
    import datetime

    r = dist.get_rank()
    if r == 1:
        dist.barrier()              # rank 0 has timed out once
        dist.send(base(3), dst=0)
        return None
    t = torch.empty(6)
    work = dist.irecv(t, src=1)
    try:
        work.wait(timeout=datetime.timedelta(milliseconds=300))
        message = None
    except dist.DistBackendError as e:
        message = str(e).splitlines()[0]
    dist.barrier()
    work.wait()
    return message, t.tolist()


def test_wait_timeout_then_completion():
    res = values(run(2, BACKEND, _wait_timeout))
    message, received = res[0]
    assert message.startswith("weft_cpp: recv: still running after the wait's timeout of "
                              "300 ms ("), message
    assert received == base(3).tolist()


def _allreduce_only():
    t = base(dist.get_rank())
    dist.all_reduce(t)
    return t.tolist()


def test_file_store_rendezvous():
    # the rendezvous goes through the torch FileStore itself: no server anywhere
    res = values(run(2, BACKEND, _allreduce_only, init="file"))
    assert res == [(base(0) + base(1)).tolist()] * 2


# ---- errors ---------------------------------------------------------------------------

def _bad_requests():
    messages = []
    for call in (lambda: dist.all_reduce(torch.ones(4, dtype=torch.int16)),
                 lambda: dist.all_reduce(torch.ones(4, dtype=torch.int32),
                                         op=dist.ReduceOp.BAND),
                 lambda: dist.all_gather_into_tensor(torch.empty(5), torch.ones(2)),
                 lambda: dist.recv(torch.empty(2))):
        try:
            call()
            messages.append(None)
        except (RuntimeError, NotImplementedError, ValueError) as e:
            messages.append((type(e).__name__, str(e).splitlines()[0]))
    t = base(dist.get_rank())  # the group still works afterwards
    dist.all_reduce(t)
    return messages, t.tolist()


def test_bad_requests_name_the_problem_and_leave_the_group_usable():
    for (dtype, op, size, anysource), after in values(run(2, BACKEND, _bad_requests)):
        assert after == (base(0) + base(1)).tolist()
        assert dtype == ("NotImplementedError",
                         "weft_cpp: allreduce: tensor has dtype Short, which weft does "
                         "not support (float16/32/64, bfloat16, int8/32/64, uint8/32/64, bool)")
        assert op[0] == "NotImplementedError"
        assert op[1].startswith("weft_cpp: allreduce: reduce op ")
        assert op[1].endswith(" is not supported (weft has SUM, PRODUCT, MIN, MAX and AVG)")
        assert size == ("ValueError", "weft_cpp: allgather: output of 5 elements for an input "
                        "of 2 on a group of 2")
        assert anysource[0] == "NotImplementedError"
        assert anysource[1].startswith("weft_cpp: recv from any source is not supported")


def _mismatched_count():
    r = dist.get_rank()
    t = torch.ones(4 + r)
    try:
        dist.all_reduce(t)
        return None
    except dist.DistBackendError as e:
        return str(e)


def test_mismatched_sizes_surface_weft_mismatch_at_wait():
    res = values(run(2, BACKEND, _mismatched_count))
    for r, msg in enumerate(res):
        assert msg is not None, f"rank {r}: the mismatched allreduce succeeded"
        assert msg.startswith("weft_cpp: allreduce: [Mismatch] "), msg
        assert "allreduce #0 (4 x f32 sum" in msg and "allreduce #0 (5 x f32 sum" in msg, msg


# ---- DDP -------------------------------------------------------------------------------

def _ddp(steps, hook):
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
    from torch.nn.parallel import DistributedDataParallel as DDP

    r = dist.get_rank()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    if r == 1:  # DDP must broadcast rank 0's weights at construction
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
    # tiny buckets: several allreduces per step, overlapping backward
    ddp = DDP(model, bucket_cap_mb=0.001, gradient_as_bucket_view=hook)
    if hook:  # a Python hook chaining .then() on the backend's future
        ddp.register_comm_hook(None, default_hooks.fp16_compress_hook)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(100 + r)
    losses = []
    for _ in range(steps):
        x, y = torch.randn(16, 8, generator=g), torch.randn(16, 4, generator=g)
        loss = torch.nn.functional.mse_loss(ddp(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().flatten().tolist() for p in model.parameters()]


@pytest.mark.parametrize("hook", [False, True], ids=["default", "fp16_hook"])
def test_ddp_matches_gloo(hook):
    steps = 6
    cpp = values(run(2, BACKEND, _ddp, steps, hook))
    gloo = values(run(2, "gloo", _ddp, steps, hook))
    for r in range(2):
        # 2 ranks: each gradient sum has one order, so weft and gloo agree
        assert cpp[r][0] == pytest.approx(gloo[r][0], rel=1e-6, abs=1e-7)
        for pc, pg in zip(cpp[r][1], gloo[r][1]):
            assert pc == pytest.approx(pg, rel=1e-6, abs=1e-7)
    assert cpp[0][1] == cpp[1][1]          # the replicas stayed identical
    assert cpp[0][0][-1] < cpp[0][0][0]    # and the model learned something


def test_extension_uses_the_shared_cxx_runtime():
    # libweft's rule (cmake/WeftSharedRuntime.cmake) holds for weft._c10d too
    from test_torch_first import _needed

    import weft._c10d

    needed = _needed(weft._c10d.__file__)
    assert "libstdc++.so.6" in needed and "libgcc_s.so.1" in needed, needed
    assert any(n.startswith("libweft.so") for n in needed), needed
