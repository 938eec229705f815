"""Runs a function on N real processes inside torch.distributed.

Like ranks.py, but each spawned rank calls
``torch.distributed.init_process_group(backend)`` the way a launcher's workers
do. Two ways to meet:

- "env": the parent hosts a weft StoreServer (TCPStore protocol) and the ranks
  connect as clients (MASTER_ADDR/MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE,
  as weftrun sets them), so torch's TCPStore client talks to weft's server and
  weft.torch's own client joins the same server;
- "file": a torch FileStore, where weft.torch falls back to a StoreServer on
  rank 0 published through the torch store.

fn(*args) runs after init; its return value must pickle (lists, not tensors).
backend "weft" (weft.torch), "weft_cpp" (weft.torch_cpp) or any torch backend.
cuda=True: rank r uses GPU r (LOCAL_RANK=r, torch.cuda.set_device(r)).
Returns one (status, value) per rank like ranks.run.

A rank whose fn returns ``DIE`` reports ("ok", "died") and then exits at once,
without destroying its group: a peer process that dies mid-run.
"""
import os
import tempfile
import traceback

import weft
from ranks import spawn_and_collect


DIE = "torch_ranks: exit now"


def _rank_main(fn, rank, n, backend, init, args, cuda, results):
    try:
        import torch
        import torch.distributed as dist

        import weft.torch  # noqa: F401  (registers "weft")
        if backend == "weft_cpp":
            import weft.torch_cpp  # noqa: F401  (registers "weft_cpp", the C++ backend)

        torch.set_num_threads(1)
        if cuda:  # one GPU per rank, as launchers arrange it
            os.environ["LOCAL_RANK"] = str(rank)
            torch.cuda.set_device(rank)
        if init[0] == "env":
            os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(init[1]),
                              TORCHELASTIC_USE_AGENT_STORE="True",
                              TORCHELASTIC_RESTART_COUNT="0")
            dist.init_process_group(backend, rank=rank, world_size=n)
        else:
            dist.init_process_group(backend, init_method=f"file://{init[1]}", rank=rank,
                                    world_size=n)
        value = fn(*args)
        if value == DIE:
            results.put((rank, "ok", "died"))
            results.close()
            results.join_thread()  # the report is out of this process
            os._exit(0)
        dist.destroy_process_group()
        results.put((rank, "ok", value))
    except weft.Error as e:
        results.put((rank, type(e).__name__, e.message))
    except BaseException:
        results.put((rank, "exception", traceback.format_exc()))


def run(n, backend, fn, *args, init="env", timeout=120, cuda=False):
    server = None
    tmp = None
    if init == "env":
        server = weft.StoreServer.start("127.0.0.1", 0)
        spec = ("env", server.port)
    else:
        tmp = tempfile.TemporaryDirectory()
        spec = ("file", os.path.join(tmp.name, "store"))
    try:
        return spawn_and_collect(n, _rank_main, lambda r: (fn, r, n, backend, spec, args, cuda),
                                 timeout)
    finally:
        if server is not None:
            server.stop()
        if tmp is not None:
            tmp.cleanup()
