"""weft in a process where torch was imported (the GPU machine's crash:
with torch 2.11+cu130 on Python 3.12, weft.StoreServer.start() segfaulted once
torch had been imported, and worked without torch; its libweft.so carried a
static C++ runtime, see cmake/WeftSharedRuntime.cmake).

The torch cases run in a fresh interpreter each, so a crash is a failed test
that names the signal and shows the child's faulthandler trace and the C++/CUDA
runtimes mapped in it, instead of killing pytest. They run wherever torch is
importable; the runtime check runs everywhere.
"""
import os
import struct
import subprocess
import sys
import textwrap

import pytest

import weft


def _needed(path):
    """The DT_NEEDED entries of a 64-bit little-endian ELF shared object."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, path
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    for _, kind, _, _, offset, size, link, _, _, _ in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        strings = sections[link][4]
        out = []
        for at in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, at)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                start = strings + value
                out.append(data[start:data.index(b"\0", start)].decode())
        return out
    return []


def test_weft_uses_the_shared_cxx_runtime():
    ext = weft._weft.__file__
    lib = next(line.split()[-1] for line in open("/proc/self/maps")
               if os.path.basename(line.split()[-1]).startswith("libweft.so"))
    for path in (ext, lib):
        needed = _needed(path)
        assert "libstdc++.so.6" in needed and "libgcc_s.so.1" in needed, (path, needed)


torch_only = pytest.mark.skipif(
    __import__("importlib").util.find_spec("torch") is None,
    reason="torch is not importable here: these tests check weft in a process that "
           "imported torch")

# What the child does once both packages are imported: a store server and a
# client, then a 2-rank communicator (one rank per thread: init and the
# collectives release the GIL) with an allreduce checked exactly.
WORK = """
import threading
import numpy as np
server = weft.StoreServer.start("127.0.0.1", 0)
store = weft.TcpStore("127.0.0.1", server.port, timeout=30)
store.set("k", b"v")
assert store.get("k") == b"v"
results, errors = {}, []
def rank(r):
    try:
        comm = weft.Communicator.init(weft.TcpStore("127.0.0.1", server.port, timeout=30),
                                      r, 2, timeout=30, name="torch-first")
        x = np.arange(1000, dtype=np.float32) * (r + 1)
        comm.allreduce(x)
        results[r] = x
    except BaseException as e:
        errors.append(repr(e))
threads = [threading.Thread(target=rank, args=(r,)) for r in range(2)]
for t in threads: t.start()
for t in threads: t.join(60)
assert not errors, errors
for r in range(2):
    np.testing.assert_array_equal(results[r], np.arange(1000, dtype=np.float32) * 3)
server.stop()
"""

# The shared objects of the C++ and CUDA runtimes mapped in the child: two
# different libstdc++ (or libgcc_s) files in one process would mean two C++
# runtimes, the first suspect for a crash that needs torch to happen.
RUNTIMES = """
libs = {}
for line in open("/proc/self/maps"):
    path = line.split()[-1]
    name = os.path.basename(path)
    for key in ("libstdc++", "libgcc_s", "libcudart", "libgomp", "libweft", "_weft"):
        if name.startswith(key):
            libs.setdefault(key, set()).add(os.path.realpath(path))
for key, paths in sorted(libs.items()):
    print("mapped", key, " ".join(sorted(paths)))
"""


def _child(imports):
    code = "import os, sys, faulthandler\nfaulthandler.enable()\n" + imports + WORK + RUNTIMES
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=240, env=env)
    how = f"killed by signal {-p.returncode}" if p.returncode < 0 else f"exit {p.returncode}"
    assert p.returncode == 0, f"child {how}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
    mapped = {line.split()[1]: line.split()[2:] for line in p.stdout.splitlines()
              if line.startswith("mapped ")}
    for runtime in ("libstdc++", "libgcc_s"):
        assert len(mapped.get(runtime, [])) <= 1, f"two {runtime} in one process: {p.stdout}"
    return p.stdout


@torch_only
def test_torch_imported_first():
    _child("import torch\nimport torch.distributed\nimport weft\n")


@torch_only
def test_torch_imported_between_weft_uses():
    # The pytest order on the GPU machine: weft used, then torch imported, then
    # weft again (where StoreServer.start crashed).
    _child(textwrap.dedent("""
        import weft
        weft.StoreServer.start("127.0.0.1", 0).stop()
        import torch
        import torch.distributed
    """))
