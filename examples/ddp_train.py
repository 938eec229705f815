"""A small transformer language model trained with DistributedDataParallel.

    weftrun --nproc-per-node 2 examples/ddp_train.py --backend weft --steps 50
    weftrun --nproc-per-node 2 examples/ddp_train.py --backend gloo --steps 50
    weftrun --nproc-per-node 8 examples/ddp_train.py --backend weft --device cuda
    weftrun --nproc-per-node 8 examples/ddp_train.py --backend nccl   # implies --device cuda

With --device cuda each rank trains on GPU LOCAL_RANK (set by weftrun and
torchrun); on backend weft the gradients are then averaged by weft's CUDA
communicator on torch's current stream.

The data is generated: token sequences from a fixed random "grammar" (each
token has a few likely successors), so the loss falls quickly from ln(vocab).
Everything is seeded from --seed, rank and step alone, so two runs with
different backends see the same model and the same batches, and their losses
can be compared step by step (examples/compare_ddp.sh does).

Rank 0 prints one line per step:  step 7 loss 4.812345 time_ms 35.2
and at the end:  summary backend weft steps 50 median_ms 34.9 tokens_per_s 58600
"""
import argparse
import math
import os
import statistics
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP


class TinyLM(nn.Module):
    def __init__(self, vocab, d_model, layers, heads, seq):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(seq, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=4 * d_model,
                                           dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(seq),
                             persistent=False)

    def forward(self, x):
        h = self.tok(x) + self.pos(torch.arange(x.shape[1], device=x.device))
        h = self.blocks(h, mask=self.mask[: x.shape[1], : x.shape[1]], is_causal=True)
        return self.head(self.norm(h))


class Grammar:
    """A random first-order Markov chain: each token has `fanout` successors."""

    def __init__(self, vocab, fanout, seed):
        g = torch.Generator().manual_seed(seed)
        self.next = torch.randint(0, vocab, (vocab, fanout), generator=g)
        self.vocab, self.fanout = vocab, fanout

    def batch(self, batch, seq, seed):
        g = torch.Generator().manual_seed(seed)
        out = torch.empty(batch, seq + 1, dtype=torch.long)
        out[:, 0] = torch.randint(0, self.vocab, (batch,), generator=g)
        choice = torch.randint(0, self.fanout, (batch, seq), generator=g)
        for i in range(seq):
            out[:, i + 1] = self.next[out[:, i], choice[:, i]]
        return out[:, :-1], out[:, 1:]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="weft", help="weft, weft_cpp, gloo (or nccl)")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="cpu, or cuda: GPU LOCAL_RANK (default: cuda for nccl, else cpu)")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, default=16, help="sequences per rank per step")
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per rank")
    args = p.parse_args()

    if args.backend == "weft":
        import weft.torch  # noqa: F401  (registers the backend)
    elif args.backend == "weft_cpp":
        import weft.torch_cpp  # noqa: F401  (the C++ c10d backend, where built)
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    if (args.device or ("cuda" if args.backend == "nccl" else "cpu")) == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)  # before init: the group's GPU is this one
    dist.init_process_group(args.backend)
    rank, world = dist.get_rank(), dist.get_world_size()

    torch.manual_seed(args.seed)  # identical initial weights (DDP also broadcasts rank 0's)
    model = TinyLM(args.vocab, args.d_model, args.layers, args.heads, args.seq).to(device)
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.AdamW(ddp.parameters(), lr=args.lr)
    grammar = Grammar(args.vocab, fanout=4, seed=args.seed)
    if rank == 0:
        params = sum(p.numel() for p in model.parameters())
        print(f"backend {args.backend} device {device.type} world {world} params {params} "
              f"start_loss~{math.log(args.vocab):.3f} floor~{math.log(4):.3f}", flush=True)

    times = []
    for step in range(args.steps):
        x, y = grammar.batch(args.batch, args.seq, seed=args.seed * 1_000_003 + step * 1009 + rank)
        x, y = x.to(device), y.to(device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        logits = ddp(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, args.vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        # the loss of the global batch: mean over ranks (a separate allreduce, not timed)
        if device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        times.append(dt)
        global_loss = loss.detach().clone()
        dist.all_reduce(global_loss, op=dist.ReduceOp.SUM)
        if rank == 0:
            print(f"step {step} loss {global_loss.item() / world:.6f} time_ms {dt * 1e3:.2f}",
                  flush=True)

    steady = times[min(5, len(times) - 1):]
    med = statistics.median(steady)
    if rank == 0:
        tokens = args.batch * args.seq * world
        print(f"summary backend {args.backend} device {device.type} world {world} steps {args.steps} "
              f"median_ms {med * 1e3:.2f} tokens_per_s {tokens / med:.0f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
