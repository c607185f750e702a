#!/usr/bin/env python3
"""Deploy overhead of umlvnf for a chain of N UML routers (default 10).

Measures, in one run on this machine:
  1. `umlvnf up -d` of an N-router chain: time until every node is ready (the agent has
     applied its configuration), and the resident memory of the umlvnf runtime itself;
  2. the same N kernels, same image, same memory, started by hand in parallel with
     `init=/bin/sh`, until each has run its first command (reached init): the floor.
Prints both and their difference, the overhead umlvnf adds. Run as root after `make build`:
  python3 bench/deploy_overhead.py [--routers N] [--umlvnf target/release/umlvnf]
"""

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

MAGIC = 0xCAFEBABE


def chain_topology(name, n):
    lines = [f"name: {name}", "defaults: {memory: 128M}", "nodes:"]
    for i in range(1, n + 1):
        ifs = []
        if i > 1:
            ifs.append(f"eth0: {{ipv4: [10.0.{i - 1}.2/30]}}")
        if i < n:
            ifs.append(f"eth1: {{ipv4: [10.0.{i}.1/30]}}")
        lines.append(f"  r{i}:")
        lines.append("    interfaces: {" + ", ".join(ifs) + "}")
        lines.append("    sysctls: {net.ipv4.ip_forward: 1}")
    lines.append("links:")
    for i in range(1, n):
        lines.append(f"  - endpoints: [r{i}:eth1, r{i + 1}:eth0]")
    return "\n".join(lines) + "\n"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def umlvnf_run(umlvnf, n):
    name = "bench10"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, f"{name}.yaml")
        with open(path, "w") as f:
            f.write(chain_topology(name, n))
        subprocess.run([umlvnf, "down", "--lab", name], capture_output=True)
        t0 = time.monotonic()
        up = subprocess.run([umlvnf, "up", "-d", path], capture_output=True, text=True)
        elapsed = time.monotonic() - t0
        if up.returncode != 0:
            sys.exit(f"umlvnf up failed:\n{up.stdout}\n{up.stderr}")
        info = json.loads(
            subprocess.run(
                [umlvnf, "inspect", "--lab", name, "--format", "json"],
                capture_output=True,
                check=True,
            ).stdout
        )
        rss = rss_kib(info["supervisor_pid"])
        boots = [n["boot_seconds"] for n in info["nodes"] if n["kind"] == "uml"]
        subprocess.run([umlvnf, "down", "--lab", name], capture_output=True, check=True)
        return elapsed, rss, boots


def image_path(umlvnf):
    out = subprocess.run([umlvnf, "image", "build", "minimal"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr)
    return out.stdout.strip().splitlines()[-1]


def by_hand(n, image):
    """Starts n kernels in parallel; returns seconds until each ran its first command."""
    with tempfile.TemporaryDirectory() as d:
        sock_path = os.path.join(d, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(60)
        empty = os.path.join(d, "empty")
        os.mkdir(empty)
        procs = []
        t0 = time.monotonic()
        for i in range(n):
            argv = [
                "/usr/bin/linux",
                f"ubd0={d}/g{i}.cow,{image}",
                "root=/dev/ubda",
                "rw",
                "mem=128M",
                f"umid=g{i}",
                f"uml_dir={d}/uml",
                "con=null",
                "con0=fd:0,fd:1",
                "ssl=null",
                f"mconsole=notify:{sock_path}",
                f"hostfs={empty}",
                "noreboot",
                "init=/bin/sh",
            ]
            p = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            p.stdin.write(b"mount -t proc proc /proc; echo up > /proc/mconsole; sleep 3600\n")
            p.stdin.flush()
            procs.append(p)
        done = 0
        try:
            while done < n:
                data = sock.recv(4096)
                magic, _version, kind, _length = struct.unpack("=IIiI", data[:16])
                if magic == MAGIC and kind == 3:
                    done += 1
            return time.monotonic() - t0
        finally:
            for p in procs:
                try:
                    os.killpg(p.pid, 9)
                except ProcessLookupError:
                    pass
                p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routers", type=int, default=10)
    ap.add_argument("--umlvnf", default="target/release/umlvnf")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("this benchmark deploys labs: run it as root")
    image = image_path(args.umlvnf)
    ups, hands, rsss = [], [], []
    for _ in range(args.runs):
        up, rss, _boots = umlvnf_run(args.umlvnf, args.routers)
        hand = by_hand(args.routers, image)
        ups.append(up)
        hands.append(hand)
        rsss.append(rss)
    med = lambda xs: sorted(xs)[len(xs) // 2]
    print(f"routers: {args.routers}, runs: {args.runs} (median, min, max)")
    print(f"umlvnf up -d until every node ready: {med(ups):.2f} s ({min(ups):.2f}, {max(ups):.2f})")
    print(f"same kernels by hand, until init:    {med(hands):.2f} s ({min(hands):.2f}, {max(hands):.2f})")
    print(f"deploy overhead:                     {med(ups) - med(hands):.2f} s")
    print(f"umlvnf runtime memory (RSS):         {med(rsss) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
