#!/usr/bin/env python3
"""What scraping every second costs the datapath, measured in one run.

Deploys two test hosts joined by a wire of umlvnf's datapath, blasts 64-byte UDP frames from
one to the other, and compares the frames per second the wire forwards with no scraper and with
a scraper fetching /metrics every second, in alternating rounds. Run as root after `make build`:
  python3 bench/metrics_cost.py [--rounds 3] [--seconds 5] [--umlvnf target/release/umlvnf]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOPOLOGY = """name: benchcost
nodes:
  h1: {kind: host, interfaces: {eth0: {ipv4: [10.5.0.1/24]}}}
  h2: {kind: host, interfaces: {eth0: {ipv4: [10.5.0.2/24]}}}
links:
  - endpoints: [h1:eth0, h2:eth0]
    transport: wire
"""

BLASTER = """
import socket, time, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
end = time.monotonic() + float(sys.argv[1])
payload = bytes(18)
while time.monotonic() < end:
    for _ in range(256):
        try:
            s.sendto(payload, ("10.5.0.2", 9))
        except OSError:
            pass
"""


def forwarded(umlvnf):
    out = subprocess.run(
        [umlvnf, "link", "show", "--lab", "benchcost", "--format", "json"],
        capture_output=True,
        check=True,
    ).stdout
    wires = json.loads(out)
    d = next(d for d in wires[0]["directions"] if d["from"] == "h1:eth0")
    return d["sent"]


def scraper(addr, stop):
    host, port = addr.rsplit(":", 1)
    while not stop.is_set():
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            while s.recv(65536):
                pass
        stop.wait(1.0)


def round_pps(umlvnf, seconds, addr):
    stop = threading.Event()
    t = threading.Thread(target=scraper, args=(addr, stop)) if addr else None
    if t:
        t.start()
    before = forwarded(umlvnf)
    t0 = time.monotonic()
    subprocess.run(
        [umlvnf, "exec", "--lab", "benchcost", "h1", "--", "python3", "-c", BLASTER, str(seconds)],
        check=True,
    )
    elapsed = time.monotonic() - t0
    time.sleep(0.3)
    after = forwarded(umlvnf)
    stop.set()
    if t:
        t.join()
    return (after - before) / elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--umlvnf", default="target/release/umlvnf")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("this benchmark deploys a lab: run it as root")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "benchcost.yaml")
        with open(path, "w") as f:
            f.write(TOPOLOGY)
        subprocess.run([args.umlvnf, "down", "--lab", "benchcost"], capture_output=True)
        subprocess.run([args.umlvnf, "up", "-d", path], capture_output=True, check=True)
        try:
            info = json.loads(
                subprocess.run(
                    [args.umlvnf, "inspect", "--lab", "benchcost", "--format", "json"],
                    capture_output=True,
                    check=True,
                ).stdout
            )
            addr = info["metrics"]
            plain, scraped = [], []
            for _ in range(args.rounds):
                plain.append(round_pps(args.umlvnf, args.seconds, None))
                scraped.append(round_pps(args.umlvnf, args.seconds, addr))
            med = lambda xs: sorted(xs)[len(xs) // 2]
            p, s = med(plain), med(scraped)
            print(f"rounds: {args.rounds} x {args.seconds:.0f} s, alternating (median, min, max)")
            print(f"wire forwards, no scraping:       {p:,.0f} fps ({min(plain):,.0f}, {max(plain):,.0f})")
            print(f"wire forwards, scraped every 1 s: {s:,.0f} fps ({min(scraped):,.0f}, {max(scraped):,.0f})")
            print(f"cost of scraping: {100 * (p - s) / p:+.1f} % of forwarded fps")
        finally:
            subprocess.run([args.umlvnf, "down", "--lab", "benchcost"], capture_output=True)


if __name__ == "__main__":
    main()
