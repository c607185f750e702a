#!/usr/bin/env python3
"""How long a lab of N UML routers (default 10) takes to answer a Prometheus scrape.

Deploys an N-router chain with `umlvnf up -d`, waits until the guest statistics cache is
filled, then times `GET /metrics` repeatedly (what Prometheus does every scrape interval) and
prints median, p90 and max, with the size of the exposition. Run as root after `make build`:
  python3 bench/metrics_scrape.py [--routers N] [--scrapes 50] [--umlvnf target/release/umlvnf]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from deploy_overhead import chain_topology  # noqa: E402


def scrape(addr):
    host, port = addr.rsplit(":", 1)
    t0 = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return time.monotonic() - t0, len(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routers", type=int, default=10)
    ap.add_argument("--scrapes", type=int, default=50)
    ap.add_argument("--umlvnf", default="target/release/umlvnf")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("this benchmark deploys a lab: run it as root")
    name = "benchscrape"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, f"{name}.yaml")
        with open(path, "w") as f:
            f.write(chain_topology(name, args.routers))
        subprocess.run([args.umlvnf, "down", "--lab", name], capture_output=True)
        up = subprocess.run([args.umlvnf, "up", "-d", path], capture_output=True, text=True)
        if up.returncode != 0:
            sys.exit(up.stdout + up.stderr)
        try:
            info = json.loads(
                subprocess.run(
                    [args.umlvnf, "inspect", "--lab", name, "--format", "json"],
                    capture_output=True,
                    check=True,
                ).stdout
            )
            addr = info["metrics"]
            time.sleep(12)  # one full guest-statistics refresh and then some
            times, size = [], 0
            for _ in range(args.scrapes):
                t, size = scrape(addr)
                times.append(t)
                time.sleep(0.1)
            times.sort()
            ms = lambda t: f"{t * 1000:.1f} ms"
            print(f"routers: {args.routers}, scrapes: {args.scrapes}, exposition {size / 1024:.0f} KiB")
            print(
                f"scrape time: median {ms(times[len(times) // 2])}, "
                f"p90 {ms(times[int(len(times) * 0.9)])}, max {ms(times[-1])}"
            )
        finally:
            subprocess.run([args.umlvnf, "down", "--lab", name], capture_output=True)


if __name__ == "__main__":
    main()
