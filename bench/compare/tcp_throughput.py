#!/usr/bin/env python3
"""TCP throughput between network namespaces (a stand-in for iperf, which the
machine lacks).
  bench/compare/tcp_throughput.py NS_SRC NS_DST DST_ADDR [MiB]
      one stream, NS_SRC -> NS_DST
  bench/compare/tcp_throughput.py --ring NS:ADDR NS:ADDR ... [--mib MiB]
      every namespace sends to the next (the last to the first) at once, as a
      ring collective does: each stream's rate, then the slowest. This is what
      the links allow when every host sends and receives together on the
      machine's shared cores."""
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
if len(sys.argv) >= 2 and sys.argv[1] == "--ring":
    args = sys.argv[2:]; mib = 1024
    if "--mib" in args:
        i = args.index("--mib"); mib = int(args[i + 1]); del args[i:i + 2]
    hosts = [a.split(":") for a in args]
    servers = [subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, __file__, "--serve"],
                                stdout=subprocess.PIPE, text=True) for ns, _ in hosts]
    for srv in servers: srv.stdout.readline()
    senders = [subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, __file__, "--send",
                                 hosts[(k + 1) % len(hosts)][1], str(mib)], stdout=subprocess.PIPE, text=True)
               for k, (ns, _) in enumerate(hosts)]
    rates = []
    for k, snd in enumerate(senders):
        line = snd.communicate()[0].strip(); rates.append(float(line.split()[0]))
        print(f"{hosts[k][0]} -> {hosts[(k + 1) % len(hosts)][0]}: {line}")
    for srv in servers: srv.wait()
    print(f"ring of {len(hosts)} streams at once: slowest {min(rates):.2f} GiB/s, "
          f"median {sorted(rates)[len(rates) // 2]:.2f} GiB/s")
    sys.exit(0)
src, dst, addr = sys.argv[1:4]; mib = int(sys.argv[4]) if len(sys.argv) > 4 else 2048
srv = subprocess.Popen(["ip", "netns", "exec", dst, sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
srv.stdout.readline()
out = subprocess.run(["ip", "netns", "exec", src, sys.executable, __file__, "--send", addr, str(mib)], capture_output=True, text=True)
srv.wait(); print(out.stdout.strip() or out.stderr.strip())
