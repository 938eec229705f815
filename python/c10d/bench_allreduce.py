"""Per-operation time of torch.distributed.all_reduce on CPU tensors, for
comparing backends weft_cpp, weft and gloo through torch's own API (what a
training loop pays per call, backend overhead included).

    weftrun --standalone --nproc-per-node 2 python/c10d/bench_allreduce.py \
        --backends weft_cpp,weft,gloo

Each backend gets its own process group in the same processes (new_group),
every connection is warmed with the largest message first (Gloo sizes its
buffers from the first message), and the backends alternate per size so that
machine noise hits them alike. Rank 0 prints one line per size: the median
over --reps repetitions of the mean time of --iters back-to-back allreduces.
"""
import argparse
import statistics
import time

import torch
import torch.distributed as dist


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", default="weft_cpp,weft,gloo")
    p.add_argument("--sizes", default="1024,65536,1048576,16777216", help="bytes (f32)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--budget-s", type=float, default=0.2, help="time per repetition")
    args = p.parse_args()
    backends = args.backends.split(",")
    if "weft" in backends:
        import weft.torch  # noqa: F401
    if "weft_cpp" in backends:
        import weft.torch_cpp  # noqa: F401
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    groups = {b: dist.new_group(backend=b) for b in backends}
    sizes = [int(s) for s in args.sizes.split(",")]
    rank = dist.get_rank()
    warm = torch.ones(max(sizes) // 4)
    for g in groups.values():
        for _ in range(3):
            dist.all_reduce(warm, group=g)
    if rank == 0:
        print(f"{'bytes':>10} " + " ".join(f"{b + ' us':>12}" for b in backends), flush=True)
    for size in sizes:
        t = torch.ones(size // 4)
        # iterations per repetition from a probe on the first backend, the same for all
        probe = time.perf_counter()
        dist.all_reduce(t, group=groups[backends[0]])
        one = time.perf_counter() - probe
        iters = torch.tensor([max(3, min(2000, int(args.budget_s / max(one, 1e-6))))])
        dist.all_reduce(iters, op=dist.ReduceOp.MIN, group=groups["gloo"] if "gloo" in groups
                        else None)
        iters = int(iters.item())
        results = {b: [] for b in backends}
        for _ in range(args.reps):
            for b in backends:
                g = groups[b]
                dist.barrier(group=g)
                start = time.perf_counter()
                for _ in range(iters):
                    dist.all_reduce(t, group=g)
                results[b].append((time.perf_counter() - start) / iters)
        if rank == 0:
            print(f"{size:>10} " + " ".join(f"{statistics.median(results[b]) * 1e6:>12.1f}"
                                            for b in backends), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
