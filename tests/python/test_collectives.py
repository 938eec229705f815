"""Every collective across real processes on numpy arrays, checked exactly
against references computed here from every rank's inputs."""
import array

import numpy as np
import pytest

import weft
from ranks import run, values

DTYPES = [np.float32, np.float64, np.float16, np.int8, np.uint8, np.int32, np.int64,
          np.uint32, np.uint64]


def data(rank, count, dtype, salt=0):
    """Small integers, exact in every dtype (and their sums over <= 4 ranks)."""
    return ((np.arange(count) * 7 + rank * 3 + salt) % 25).astype(dtype)


def _allreduce_all_dtypes(comm, count):
    out = {}
    for dt in DTYPES:
        for op in (weft.ReduceOp.sum, weft.ReduceOp.max, weft.ReduceOp.min):
            x = data(comm.rank, count, dt)
            y = np.empty_like(x)
            comm.allreduce(x, y, op=op)           # out of place
            comm.allreduce(x, op=op)              # in place
            assert np.array_equal(x, y)
            out[(np.dtype(dt).name, op.name)] = y
    return out


@pytest.mark.parametrize("n", [2, 3])
def test_allreduce_every_dtype_exact(n):
    count = 37
    results = values(run(n, _allreduce_all_dtypes, count))
    for dt in DTYPES:
        inputs = np.stack([data(r, count, dt) for r in range(n)]).astype(np.float64)
        for op, ref in (("sum", inputs.sum(0)), ("max", inputs.max(0)), ("min", inputs.min(0))):
            for r in range(n):
                got = results[r][(np.dtype(dt).name, op)]
                assert got.dtype == np.dtype(dt)
                np.testing.assert_array_equal(got.astype(np.float64), ref, err_msg=f"{dt} {op}")


def _avg_and_bf16(comm):
    x = (np.arange(12, dtype=np.float32) + comm.rank * 4)   # sum over 2 ranks: 2*i + 4
    comm.allreduce(x, op=weft.ReduceOp.avg)
    # bf16 bits in a uint16 array: the upper half of the float32 pattern.
    b = (np.arange(8, dtype=np.float32) * (comm.rank + 1)).view(np.uint32) >> 16
    b = b.astype(np.uint16)
    comm.allreduce(b, dtype=weft.DataType.bf16)
    return x, (b.astype(np.uint32) << 16).view(np.float32)


def test_avg_and_bf16_through_dtype_override():
    for x, bf in values(run(2, _avg_and_bf16)):
        np.testing.assert_array_equal(x, np.arange(12, dtype=np.float32) + 2)
        np.testing.assert_array_equal(bf, np.arange(8, dtype=np.float32) * 3)


def _rooted_and_gathers(comm):
    n, r = comm.size, comm.rank
    res = {}
    x = data(r, 10, np.int32)
    red = np.zeros(10, np.int32)
    comm.reduce(x, red, op=weft.ReduceOp.sum, root=1)
    res["reduce"] = red
    b = np.arange(6, dtype=np.float64) * 10 if r == 2 else np.zeros(6)
    comm.broadcast(b, root=2)
    res["broadcast"] = b
    g = np.zeros(5 * n, np.int64)
    comm.allgather(data(r, 5, np.int64), g)
    res["allgather"] = g
    counts = [k + 1 for k in range(n)]
    gv = np.zeros(sum(counts), np.float32)
    comm.allgatherv(np.full(r + 1, r, np.float32), gv, counts)
    res["allgatherv"] = gv
    rs = np.zeros(4, np.int32)
    comm.reduce_scatter(data(r, 4 * n, np.int32), rs)
    res["reduce_scatter"] = rs
    a = np.zeros(3 * n, np.int32)
    comm.alltoall(np.arange(3 * n, dtype=np.int32) + 100 * r, a)
    res["alltoall"] = a
    # alltoallv: rank r sends j+1 copies of (10*r + j) to rank j.
    send = np.concatenate([np.full(j + 1, 10 * r + j, np.int32) for j in range(n)])
    recv = np.zeros(n * (r + 1), np.int32)
    comm.alltoallv(send, [j + 1 for j in range(n)], recv, [r + 1] * n)
    res["alltoallv"] = recv
    ga = np.zeros(2 * n, np.uint8) if r == 0 else None
    comm.gather(np.array([r, r + 1], np.uint8), ga, root=0)
    res["gather"] = ga
    sc = np.zeros(2, np.float64)
    comm.scatter(np.arange(2 * n, dtype=np.float64) if r == n - 1 else None, sc, root=n - 1)
    res["scatter"] = sc
    # send/recv around the ring, async, with buffer-protocol objects other than numpy.
    out = array.array("i", [r] * 4)
    into = array.array("i", [0] * 4)
    w1 = comm.recv(into, (r - 1) % n, tag=7, async_op=True)
    w2 = comm.send(out, (r + 1) % n, tag=7, async_op=True)
    w2.wait()
    w1.wait(timeout=30)
    assert w1.completed() and w1.test()
    res["ring"] = list(into)
    res["describe"] = w1.describe()
    comm.barrier()
    return res


@pytest.mark.parametrize("n", [3, 4])
def test_rooted_gathers_scatters_and_point_to_point(n):
    results = values(run(n, _rooted_and_gathers))
    for r, res in enumerate(results):
        if r == 1:
            ref = sum(data(k, 10, np.int64) for k in range(n))
            np.testing.assert_array_equal(res["reduce"], ref)
        np.testing.assert_array_equal(res["broadcast"], np.arange(6) * 10.0)
        np.testing.assert_array_equal(res["allgather"],
                                      np.concatenate([data(k, 5, np.int64) for k in range(n)]))
        np.testing.assert_array_equal(res["allgatherv"],
                                      np.concatenate([np.full(k + 1, k) for k in range(n)]))
        total = sum(data(k, 4 * n, np.int64) for k in range(n))
        np.testing.assert_array_equal(res["reduce_scatter"], total[4 * r:4 * r + 4])
        np.testing.assert_array_equal(
            res["alltoall"], np.concatenate([np.arange(3 * r, 3 * r + 3) + 100 * k
                                             for k in range(n)]))
        np.testing.assert_array_equal(
            res["alltoallv"], np.concatenate([np.full(r + 1, 10 * k + r) for k in range(n)]))
        if r == 0:
            np.testing.assert_array_equal(
                res["gather"], np.concatenate([[k, k + 1] for k in range(n)]))
        np.testing.assert_array_equal(res["scatter"], [2 * r, 2 * r + 1])
        assert res["ring"] == [(r - 1) % n] * 4
        assert res["describe"].startswith(f"rank {r}: recv")


def _split(comm):
    sub = comm.split(comm.rank % 2, comm.rank)
    x = np.array([comm.rank], np.int32)
    sub.allreduce(x)
    none = comm.split(-1, 0)
    return sub.rank, sub.size, int(x[0]), none is None


def test_split_by_parity():
    results = values(run(4, _split))
    assert results == [(0, 2, 2, True), (0, 2, 4, True), (1, 2, 2, True), (1, 2, 4, True)]


def _mismatched_dtype(comm):
    x = np.ones(4, np.float32 if comm.rank == 0 else np.int32)
    comm.allreduce(x)


def test_mismatched_dtype_is_a_mismatch_error_naming_both_sides():
    results = run(2, _mismatched_dtype)
    # Whichever rank sees the mismatch first fails the other with its
    # reason, so rank r's message names peer 1 - r either way: as "peer rank
    # 1 - r" (it saw the mismatch) or as "rank 1 - r: ... peer rank r" (the
    # peer did; seen under load).
    for r, (status, msg) in enumerate(results):
        assert status == "MismatchError", msg
        assert msg.startswith(f"rank {r}: allreduce #0"), msg
        assert "(4 x i32 sum" in msg and "(4 x f32 sum" in msg, msg
        assert f"peer rank {1 - r}" in msg or f"rank {1 - r}: allreduce #0" in msg, msg


def _mismatched_count(comm):
    comm.allgather(np.ones(3 + comm.rank, np.float64), np.zeros((3 + comm.rank) * 2))


def test_mismatched_count_is_a_mismatch_error():
    results = run(2, _mismatched_count)
    for status, msg in results:
        assert status == "MismatchError", msg
    assert "3 x f64" in results[1][1] and "4 x f64" in results[1][1], results[1][1]


def _abort(comm):
    if comm.rank == 1:
        comm.abort()
        return None
    comm.allreduce(np.ones(4, np.float32), timeout=20)


def test_abort_unblocks_the_others():
    results = run(3, _abort)
    for r in (0, 2):
        assert results[r][0] in ("AbortedError", "PeerLostError"), results[r]
        assert "rank 1" in results[r][1], results[r]


def test_init_from_env_in_subprocesses():
    """RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT, as weftrun and torchrun set them."""
    import os
    import subprocess
    import sys

    server = weft.StoreServer.start("127.0.0.1", 0)
    code = ("import numpy as np, weft\n"
            "c = weft.Communicator.init_from_env(timeout=30)\n"
            "x = np.full(3, c.rank + 1, np.int64)\n"
            "c.allreduce(x)\n"
            "print('RESULT', c.rank, c.size, x.tolist())\n")
    procs = []
    for r in range(3):
        env = dict(os.environ, RANK=str(r), WORLD_SIZE="3", MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(server.port))
        procs.append(subprocess.Popen([sys.executable, "-c", code], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=60)[0] for p in procs]
    server.stop()
    for r, out in enumerate(outs):
        assert f"RESULT {r} 3 [6, 6, 6]" in out, out
