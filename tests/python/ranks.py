"""Runs a function on N real processes, each with a weft.Communicator.

The parent hosts the store (weft.StoreServer on a free port); every rank is a
spawned process (not forked: the parent runs weft threads) that connects a
TcpStore, initializes the communicator and calls ``fn(comm, *args)``. Returns
one (status, value) per rank: ("ok", fn's return value) or (exception class
name, message).
"""
import multiprocessing as mp
import queue
import traceback

import weft


def _rank_main(fn, rank, n, port, args, cuda, results):
    try:
        store = weft.TcpStore("127.0.0.1", port, timeout=30)
        device = f"cuda:{rank}" if cuda else None   # one GPU per rank
        comm = weft.Communicator.init(store, rank, n, timeout=30, device=device)
        results.put((rank, "ok", fn(comm, *args)))
    except weft.Error as e:
        results.put((rank, type(e).__name__, e.message))
    except BaseException:  # an assertion in fn: report it, never hang the parent
        results.put((rank, "exception", traceback.format_exc()))


def spawn_and_collect(n, target, make_args, timeout):
    """Starts ``target(*make_args(rank), results)`` in n spawned processes and
    collects one (status, value) per rank; a rank that reports nothing within
    ``timeout`` is ("hung", None) and is killed."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*make_args(r), results)) for r in range(n)]
    for p in procs:
        p.start()
    out = {}
    try:
        for _ in range(n):
            rank, status, value = results.get(timeout=timeout)
            out[rank] = (status, value)
    except queue.Empty:
        pass
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
            p.join()
    return [out.get(r, ("hung", None)) for r in range(n)]


def run(n, fn, *args, timeout=90, cuda=False):
    """cuda=True: rank r's communicator runs on GPU r."""
    server = weft.StoreServer.start("127.0.0.1", 0)
    try:
        return spawn_and_collect(n, _rank_main, lambda r: (fn, r, n, server.port, args, cuda),
                                 timeout)
    finally:
        server.stop()


def values(results):
    """fn's return values, failing the test with every rank's error otherwise."""
    bad = [(r, s, v) for r, (s, v) in enumerate(results) if s != "ok"]
    assert not bad, "\n".join(f"rank {r}: {s}: {v}" for r, s, v in bad)
    return [v for _, v in results]
