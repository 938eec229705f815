"""Run under weftrun: torch's env:// init must join the store the agent hosts.

    weftrun --standalone --nproc-per-node 4 tests/launcher/torch_env_check.py

With TORCHELASTIC_USE_AGENT_STORE=True (set by weftrun), torch connects to
MASTER_ADDR:MASTER_PORT as a client instead of starting its own store; if it
tried to host one there, the port (the agent's) would be taken and init would
fail. Each rank checks its rank and world size, runs a gloo allreduce, and reads
the agent's own rendezvous key from that store. Skips (exit 0) without torch.
"""
import os
import sys
from datetime import timedelta

try:
    import torch
    import torch.distributed as dist
except ImportError as e:
    print(f"SKIP: torch is not importable here ({e})")
    sys.exit(0)

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
dist.init_process_group("gloo", init_method="env://", timeout=timedelta(seconds=60))
assert dist.get_rank() == rank and dist.get_world_size() == world, (dist.get_rank(), dist.get_world_size())

t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
assert t.item() == world * (world + 1) / 2, t.item()

# The same store as the agents: their node key of this round is there.
store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                      timeout=timedelta(seconds=10))
key = f"weftrun/{os.environ['WEFT_RUN_ID']}/r{os.environ['WEFT_RESTART_COUNT']}/node/0"
node0 = store.get(key).decode()
print(f"rank {rank}/{world}: torch {torch.__version__}, allreduce sum {t.item():g}, agent key {key} = {node0}")
dist.barrier()
dist.destroy_process_group()
