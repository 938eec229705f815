#!/usr/bin/env python3
"""Single-stream TCP throughput between two network namespaces (a stand-in for
iperf, which the machine lacks): bench/compare/tcp_throughput.py NS_SRC NS_DST DST_ADDR [MiB]"""
import socket, subprocess, sys, time

if len(sys.argv) >= 2 and sys.argv[1] == "--serve":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 5301)); s.listen(1); print("ready", flush=True)
    c, _ = s.accept(); buf = bytearray(4 << 20); total = 0
    while True:
        n = c.recv_into(buf)
        if n == 0: break
        total += n
    print(total, flush=True); sys.exit(0)
if len(sys.argv) >= 2 and sys.argv[1] == "--send":
    mib = int(sys.argv[3]); data = b"\0" * (4 << 20)
    c = socket.create_connection((sys.argv[2], 5301)); t0 = time.perf_counter()
    for _ in range(mib // 4): c.sendall(data)
    c.shutdown(socket.SHUT_WR); c.recv(1); dt = time.perf_counter() - t0
    print(f"{mib / 1024 / dt:.2f} GiB/s ({mib} MiB in {dt:.3f} s)"); sys.exit(0)
src, dst, addr = sys.argv[1:4]; mib = int(sys.argv[4]) if len(sys.argv) > 4 else 2048
srv = subprocess.Popen(["ip", "netns", "exec", dst, sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
srv.stdout.readline()
out = subprocess.run(["ip", "netns", "exec", src, sys.executable, __file__, "--send", addr, str(mib)], capture_output=True, text=True)
srv.wait(); print(out.stdout.strip() or out.stderr.strip())
