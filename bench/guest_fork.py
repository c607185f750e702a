#!/usr/bin/env python3
"""Fork+exec inside a UML guest: the seccomp userspace against ptrace, side by side.

Deploys one lab with two routers on the same kernel and image, `fs` with `userspace: seccomp`
and `fp` with `userspace: ptrace`, and runs in each, alternately, a shell loop that forks and
executes `/bin/true` --forks times (default 500) through `umlvnf exec`. Each exec's wall time is
measured on the host; the same exec with an empty loop is measured too and subtracted, so the
figure is the loop alone. Prints the time per fork+exec of each mode (median and range over
--runs, default 5) and the ratio ptrace / seccomp of the medians (the issue's target: at
least 1.5x). Both guests run at the same time on the same host, so the ratio holds on a noisy
machine where absolute times do not.

Run as root after `make build`:
  python3 bench/guest_fork.py [--forks N] [--runs R] [--umlvnf target/release/umlvnf]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TOPOLOGY = """name: {name}
defaults: {{memory: 64M}}
nodes:
  fs: {{userspace: seccomp}}
  fp: {{userspace: ptrace}}
"""

LOOP = "i=0; while [ $i -lt {n} ]; do /bin/true; i=$((i+1)); done"


def run(args):
    return subprocess.run(args, capture_output=True, text=True)


def timed_exec(umlvnf, lab, node, n):
    """Seconds of wall time of one `umlvnf exec` running the loop n times."""
    t0 = time.monotonic()
    out = run([umlvnf, "exec", "--lab", lab, node, "--", "sh", "-c", LOOP.format(n=n)])
    elapsed = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"umlvnf exec on {node} failed:\n{out.stdout}\n{out.stderr}")
    return elapsed


def userspace_options(umlvnf, lab):
    """The `seccomp=` option of each guest's UML command line (from the host's /proc)."""
    out = run([umlvnf, "inspect", "--lab", lab, "--format", "json"])
    if out.returncode != 0:
        sys.exit(f"umlvnf inspect failed:\n{out.stdout}\n{out.stderr}")
    modes = {}
    for node in json.loads(out.stdout)["nodes"]:
        if node["kind"] != "uml":
            continue
        with open(f"/proc/{node['pid']}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0")]
        modes[node["name"]] = " ".join(a for a in argv if a.startswith("seccomp="))
    return modes


def spread(xs):
    return f"{statistics.median(xs) * 1e3:.3f} ms ({min(xs) * 1e3:.3f} .. {max(xs) * 1e3:.3f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--forks", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--umlvnf", default="target/release/umlvnf")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("this benchmark deploys a lab: run it as root")
    if args.forks < 1 or args.runs < 1:
        sys.exit("--forks and --runs must be at least 1")
    lab = f"fork{os.getpid() % 10000}"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, f"{lab}.yaml")
        with open(path, "w") as f:
            f.write(TOPOLOGY.format(name=lab))
        up = run([args.umlvnf, "up", "-d", "--no-metrics", path])
        if up.returncode != 0:
            sys.exit(f"umlvnf up failed:\n{up.stdout}\n{up.stderr}")
        try:
            modes = userspace_options(args.umlvnf, lab)
            per_fork = {"fs": [], "fp": []}
            for _ in range(args.runs):
                for node in ("fs", "fp"):
                    empty = timed_exec(args.umlvnf, lab, node, 0)
                    full = timed_exec(args.umlvnf, lab, node, args.forks)
                    per_fork[node].append(max(full - empty, 0.0) / args.forks)
        finally:
            run([args.umlvnf, "down", "--lab", lab])
    print(f"fork+exec of /bin/true in a guest, {args.forks} per run, {args.runs} runs; "
          "median (min .. max) per fork+exec")
    print(f"  seccomp userspace ({modes['fs'] or 'no seccomp= option'}): {spread(per_fork['fs'])}")
    print(f"  ptrace userspace  ({modes['fp'] or 'no seccomp= option'}): {spread(per_fork['fp'])}")
    s, p = statistics.median(per_fork["fs"]), statistics.median(per_fork["fp"])
    print(f"  ptrace / seccomp: {p / s:.2f}x" if s > 0 else "  ptrace / seccomp: n/a")


if __name__ == "__main__":
    main()
