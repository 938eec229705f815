"""weft.ddp.Reducer over numpy gradients across real processes."""
import numpy as np

import weft
from ranks import run, values


def _train(comm, hook):
    rng = np.random.default_rng(comm.rank)
    grads = [np.zeros(300, np.float32), np.zeros(50, np.float64), np.zeros(20, np.int32)]
    reducer = weft.ddp.Reducer(comm, grads, first_bucket_bytes=256, bucket_bytes=1024,
                               comm_hook=hook)
    out = []
    for it in range(3):
        for i in rng.permutation(len(grads)):
            # a + 2*r*c: the average over ranks is an exact integer
            k = np.arange(grads[i].size)
            grads[i][:] = (k + it) % 17 + 2 * comm.rank * ((k % 3) - 1)
            reducer.mark_ready(int(i))
        reducer.finalize()
        out.append([g.copy() for g in grads])
    return out, reducer.buckets, reducer.rebuilt


def test_reducer_exact_averages_and_identical_buckets():
    n = 3
    results = values(run(n, _train, "allreduce"))
    for out, buckets, rebuilt in results:
        assert rebuilt and buckets == results[0][1]
        for it, grads in enumerate(out):
            for g in grads:
                k = np.arange(g.size)
                np.testing.assert_array_equal(g, (k + it) % 17 + (n - 1) * ((k % 3) - 1))


def test_reducer_fp16_hook_within_tolerance():
    n = 2
    for out, _, _ in values(run(n, _train, "fp16")):
        for it, grads in enumerate(out):
            for g in grads:
                k = np.arange(g.size)
                ref = (k + it) % 17 + (n - 1) * ((k % 3) - 1)
                # |x/W| <= 9: f16 keeps 11 bits -> rounding of at most 2^-8 per step.
                np.testing.assert_allclose(g, ref, atol=0.02, rtol=0)


def _mismatch(comm):
    grads = [np.zeros(4 + comm.rank, np.float32)]
    weft.ddp.Reducer(comm, grads)


def test_reducer_parameter_mismatch():
    for r, (status, msg) in enumerate(run(2, _mismatch)):
        assert status == "MismatchError"
        assert msg == (f"rank {r}: ddp::Reducer: parameter lists differ: parameter 0 is 5 x f32 "
                       "on cpu on rank 1 but 4 x f32 on cpu on rank 0")


def _unused(comm):
    grads = [np.full(10, 100.0, np.float32) for _ in range(4)]
    reducer = weft.ddp.Reducer(comm, grads, find_unused_parameters=True)
    for i in range(4):
        if i == 1 or (i == 2 and comm.rank == 0):   # 1: nobody; 2: only rank 1
            continue
        grads[i][:] = 2 * comm.rank + i
        reducer.mark_ready(i)
    reducer.finalize()
    return [g.tolist() for g in grads], [reducer.used(i) for i in range(4)]


def test_reducer_find_unused_parameters():
    for r, (grads, used) in enumerate(values(run(2, _unused))):
        assert used == [True, False, True, True]
        assert grads[0] == [1.0] * 10          # (0 + 2) / 2
        assert grads[1] == [100.0] * 10        # used by no rank: untouched
        assert grads[2] == [2.0] * 10          # rank 0 counts as zero: (0 + 4) / 2
        assert grads[3] == [4.0] * 10          # (3 + 5) / 2
