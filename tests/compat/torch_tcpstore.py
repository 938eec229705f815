#!/usr/bin/env python3
"""Drives a `weft-store serve` server with torch.distributed.TCPStore clients.

    python3 tests/compat/torch_tcpstore.py [path/to/weft-store]

(or set WEFT_STORE_BIN). Starts the server on a free loopback port, connects
torch clients with is_master=False (libuv and classic client flavours), runs
every store operation, and cross-checks keys with weft's own client (the
`weft-store get/set` subcommands). Prints PASS/FAIL per operation and exits
non-zero on any failure. Exits 0 with a SKIP line where torch (>= 2.4) is not
importable.
"""
import datetime
import os
import re
import subprocess
import sys
import threading
import time


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(0)


try:
    import torch
    import torch.distributed as dist
except Exception as e:  # ImportError, or a broken install
    skip(f"torch is not importable here ({type(e).__name__}: {e})")

version = tuple(int(x) for x in re.findall(r"\d+", torch.__version__)[:2])
if version < (2, 4):
    skip(f"torch {torch.__version__} is older than 2.4 (the libuv-era protocol)")

weft_store = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("WEFT_STORE_BIN", "")
if not weft_store or not os.access(weft_store, os.X_OK):
    print(f"FAIL: weft-store binary not found (argv[1] or WEFT_STORE_BIN): {weft_store!r}")
    sys.exit(1)

results = []


def check(name, fn):
    try:
        fn()
        results.append((name, True, ""))
        print(f"PASS {name}")
    except Exception as e:  # report every op, keep going
        results.append((name, False, repr(e)))
        print(f"FAIL {name}: {e!r}")


def expect(got, want):
    if got != want:
        raise AssertionError(f"got {got!r}, want {want!r}")


def start_server():
    proc = subprocess.Popen([weft_store, "serve", "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"port (\d+)", line)
    if not m:
        proc.kill()
        print(f"FAIL: weft-store serve printed {line!r}; stderr: {proc.stderr.read()}")
        sys.exit(1)
    return proc, int(m.group(1))


def weft_cli(*args):
    return subprocess.run([weft_store, *args], capture_output=True, text=True, timeout=30)


def run(use_libuv, port):
    flavour = "libuv" if use_libuv else "classic"
    timeout = datetime.timedelta(seconds=10)
    s = dist.TCPStore("127.0.0.1", port, is_master=False, timeout=timeout, use_libuv=use_libuv)
    other = dist.TCPStore("127.0.0.1", port, is_master=False, timeout=timeout, use_libuv=use_libuv)
    p = f"{flavour}/"

    check(f"{flavour}: connect (VALIDATE + PING)", lambda: None)

    def set_get():
        s.set(p + "k", "value")
        expect(s.get(p + "k"), b"value")
        s.set(p + "bin", bytes(range(256)))
        expect(other.get(p + "bin"), bytes(range(256)))
    check(f"{flavour}: set/get", set_get)

    def get_blocks():
        out = {}
        t = threading.Thread(target=lambda: out.update(v=s.get(p + "late")))
        t.start()
        time.sleep(0.2)
        other.set(p + "late", "now")
        t.join(10)
        expect(out.get("v"), b"now")
    check(f"{flavour}: get waits for the key", get_blocks)

    def add():
        expect(s.add(p + "n", 5), 5)
        expect(other.add(p + "n", -2), 3)
        expect(s.get(p + "n"), b"3")
    check(f"{flavour}: add (decimal ASCII)", add)

    def compare_set():
        expect(s.compare_set(p + "cas", "", "first"), b"first")
        expect(s.compare_set(p + "cas", "wrong", "second"), b"first")
        expect(s.compare_set(p + "cas", "first", "second"), b"second")
        expect(s.compare_set(p + "cas-missing", "x", "y"), b"x")
    check(f"{flavour}: compare_set", compare_set)

    def check_op():
        expect(s.check([p + "k"]), True)
        expect(s.check([p + "k", p + "absent"]), False)
    check(f"{flavour}: check", check_op)

    def wait_op():
        s.wait([p + "k", p + "n"])
        start = time.time()
        try:
            s.wait([p + "absent"], datetime.timedelta(milliseconds=300))
        except Exception as e:  # DistStoreError
            if "absent" not in str(e) and "timeout" not in str(e).lower():
                raise AssertionError(f"unexpected wait error {e!r}")
        else:
            raise AssertionError("wait on a missing key returned")
        if time.time() - start > 5:
            raise AssertionError("wait timeout took too long")
        # The connection is still usable after CANCEL_WAIT.
        expect(s.get(p + "k"), b"value")
    check(f"{flavour}: wait (+ timeout via CANCEL_WAIT)", wait_op)

    def delete_and_num_keys():
        before = s.num_keys()
        s.set(p + "tmp", "x")
        expect(s.num_keys(), before + 1)
        expect(s.delete_key(p + "tmp"), True)
        expect(s.delete_key(p + "tmp"), False)
        expect(s.num_keys(), before)
    check(f"{flavour}: delete_key / num_keys", delete_and_num_keys)

    def append():
        s.append(p + "log", "a")
        s.append(p + "log", "bc")
        expect(other.get(p + "log"), b"abc")
    check(f"{flavour}: append", append)

    def multi():
        s.multi_set([p + "m1", p + "m2"], ["one", "two"])
        expect(s.multi_get([p + "m1", p + "m2"]), [b"one", b"two"])
    check(f"{flavour}: multi_set / multi_get", multi)

    if use_libuv:  # torch's client allows queues only in the libuv flavour
        def queues():
            s.queue_push(p + "q", "1")
            s.queue_push(p + "q", "2")
            expect(s.queue_len(p + "q"), 2)
            expect(other.queue_pop(p + "q"), b"1")
            expect(s.queue_pop(p + "q", block=False), b"2")
            expect(s.queue_len(p + "q"), 0)
            out = {}
            t = threading.Thread(target=lambda: out.update(v=s.queue_pop(p + "q")))
            t.start()
            time.sleep(0.2)
            other.queue_push(p + "q", "late")
            t.join(10)
            expect(out.get("v"), b"late")
        check(f"{flavour}: queue_push / queue_pop / queue_len", queues)

    if hasattr(s, "list_keys"):  # torch 2.11+
        def list_keys():
            keys = s.list_keys()
            for k in (p + "k", p + "n", p + "log"):
                if k not in keys:
                    raise AssertionError(f"{k!r} missing from list_keys() = {keys!r}")
        check(f"{flavour}: list_keys", list_keys)

    def interop():
        ep = f"127.0.0.1:{port}"
        r = weft_cli("set", "--endpoint", ep, p + "from-weft", "hello torch")
        expect(r.returncode, 0)
        expect(s.get(p + "from-weft"), b"hello torch")
        s.set(p + "from-torch", "hello weft")
        r = weft_cli("get", "--endpoint", ep, p + "from-torch")
        expect((r.returncode, r.stdout), (0, "hello weft\n"))
        r = weft_cli("add", "--endpoint", ep, p + "n", "10")
        expect(r.stdout, "13\n")
        expect(s.add(p + "n", 0), 13)
    check(f"{flavour}: keys shared with weft's client", interop)


def main():
    print(f"torch {torch.__version__}, weft-store at {weft_store}")
    proc, port = start_server()
    try:
        for use_libuv in (True, False):
            try:
                run(use_libuv, port)
            except Exception as e:
                results.append((f"use_libuv={use_libuv}", False, repr(e)))
                print(f"FAIL use_libuv={use_libuv}: {e!r}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        warnings = [l for l in proc.stderr.read().splitlines() if "WARN" in l]
    for line in warnings:
        print(f"server: {line}")
    failed = [r for r in results if not r[1]]
    print(f"{len(results) - len(failed)}/{len(results)} passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
