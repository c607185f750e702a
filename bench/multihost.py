#!/usr/bin/env python3
"""Labs across machines, with machines simulated as network namespaces on one host.

Each "machine" is a network namespace with its own underlay address (10.213.0.X/24) on a
bridge this script creates, and runs its own umlvnf runtime (`nsenter --net=... umlvnf up -d
FILE --host NAME`), as the root tests in tests/root_hosts.rs do. Everything it creates is
removed again at the end, also after an error or Ctrl-C.

Two measurements, printed:
  1. Deploy: a chain of --routers (default 60) routers spread over three machines (placed by
     umlvnf's rule, about a third on each); the three `up -d` start together, and the time from
     the start of the last one until every share is ready (every `up -d` returned) is printed,
     with each machine's own time. --runs (default 3) repetitions: median and range.
  2. Cross-host link throughput: h1 -> r1 == r2 -> h2 with 64-byte frames (a UDP flood from
     h1 to h2, counted at h2's interface), where r1 == r2 is a guest-to-guest L2TPv3-over-UDP
     link, (a) with everything on one machine (the link on loopback) and (b) with h1 and r1 on
     machine a, r2 and h2 on machine b (the link across the underlay). The two variants
     alternate --reps times (default 3) in one run, --duration seconds each (default 5); the
     median pps of each and the ratio cross / same are printed.

Traffic goes only to addresses inside the namespaces created here. Run as root after
`cargo build --release --workspace --bins`:
  python3 bench/multihost.py [--routers N] [--runs R] [--reps R] [--duration S]
                             [--umlvnf target/release/umlvnf]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import deploy_overhead  # bench/, next to this script

MACHINES = ["a", "b", "c"]
TAG = f"bm{os.getpid() % 10000}"
# A UDP payload of 18 bytes makes a 64-byte Ethernet frame with its FCS.
PAYLOAD = 18


def address(i):
    return f"10.213.0.{i + 1}"


def run(args, check=True, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {r.stdout}{r.stderr}")
    return r


class Machines:
    """Network namespaces `TAG-X` on the bridge `TAG-br`, removed by close()."""

    def __init__(self, names):
        self.names = names
        self.bridge = f"{TAG}br"
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        run(["ip", "link", "set", self.bridge, "up"])
        for i, m in enumerate(names):
            ns = self.netns(m)
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            outer, inner = f"{TAG}v{m}", f"{TAG}p{m}"
            run(["ip", "link", "add", outer, "type", "veth", "peer", "name", inner])
            run(["ip", "link", "set", outer, "master", self.bridge, "up"])
            run(["ip", "link", "set", inner, "netns", ns])
            run(["ip", "-n", ns, "link", "set", inner, "name", "underlay", "up"])
            run(["ip", "-n", ns, "addr", "add", f"{address(i)}/24", "dev", "underlay"])

    def netns(self, m):
        return f"{TAG}-{m}"

    def umlvnf(self, umlvnf, m, args, check=True):
        return run(["nsenter", f"--net=/run/netns/{self.netns(m)}", umlvnf] + args, check)

    def close(self):
        for m in self.names:
            run(["ip", "netns", "del", self.netns(m)], check=False)
        run(["ip", "link", "del", self.bridge], check=False)


def hosts_block(machines):
    return "hosts:\n" + "".join(f"  {m}: {{address: {address(i)}}}\n"
                                for i, m in enumerate(machines))


def chain_topology(name, n):
    """deploy_overhead.py's chain of n routers, spread over MACHINES with `hosts:`."""
    text = deploy_overhead.chain_topology(name, n, "64M")
    first, rest = text.split("\n", 1)
    return f"{first}\n{hosts_block(MACHINES)}{rest}"


def pair_topology(name, spread):
    """h1 - r1 == r2 - h2; r1 == r2 is a guest-to-guest L2TPv3 link (on one machine: given as
    such; across machines: umlvnf makes every crossing link one)."""
    place = {"h1": "a", "r1": "a", "r2": "b" if spread else "a", "h2": "b" if spread else "a"}
    host = (lambda n: f"    host: {place[n]}\n") if spread else (lambda n: "")
    text = f"name: {name}\n"
    if spread:
        text += hosts_block(["a", "b"])
    text += "defaults: {memory: 64M}\nnodes:\n"
    text += ("  h1:\n" + host("h1") + "    kind: host\n"
             "    interfaces: {eth0: {ipv4: [10.1.0.1/24]}}\n"
             "    routes: [default via 10.1.0.254]\n")
    text += ("  r1:\n" + host("r1") +
             "    interfaces: {eth0: {ipv4: [10.1.0.254/24]}, eth1: {ipv4: [10.0.12.1/30]}}\n"
             "    sysctls: {net.ipv4.ip_forward: 1}\n"
             "    routes: [10.2.0.0/24 via 10.0.12.2]\n")
    text += ("  r2:\n" + host("r2") +
             "    interfaces: {eth0: {ipv4: [10.0.12.2/30]}, eth1: {ipv4: [10.2.0.254/24]}}\n"
             "    sysctls: {net.ipv4.ip_forward: 1}\n"
             "    routes: [10.1.0.0/24 via 10.0.12.1]\n")
    text += ("  h2:\n" + host("h2") + "    kind: host\n"
             "    interfaces: {eth0: {ipv4: [10.2.0.1/24]}}\n"
             "    routes: [default via 10.2.0.254]\n")
    text += "links:\n  - endpoints: [h1:eth0, r1:eth0]\n"
    text += "  - endpoints: [r1:eth1, r2:eth0]\n"
    if not spread:
        text += "    transport: l2tpv3\n"
    text += "  - endpoints: [r2:eth1, h2:eth0]\n"
    return text


def measure_deploy(args, machines, workdir):
    name = f"mc{os.getpid() % 10000}"
    path = os.path.join(workdir, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(chain_topology(name, args.routers))
    ready, own = [], {m: [] for m in MACHINES}
    for _ in range(args.runs):
        procs, starts = {}, {}
        for m in MACHINES:
            starts[m] = time.monotonic()
            procs[m] = subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{machines.netns(m)}", args.umlvnf,
                 "up", "-d", path, "--host", m],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ends = {}
        for m, p in procs.items():
            out, _ = p.communicate()
            ends[m] = time.monotonic()
            if p.returncode != 0:
                raise RuntimeError(f"up --host {m} failed:\n{out}")
        last_start = max(starts.values())
        ready.append(max(ends.values()) - last_start)
        for m in MACHINES:
            own[m].append(ends[m] - starts[m])
        for m in MACHINES:
            machines.umlvnf(args.umlvnf, m, ["down", "--lab", f"{name}.{m}"])
    return ready, own


def netns_of(args, machines, m, lab, node):
    out = machines.umlvnf(args.umlvnf, m, ["inspect", "--lab", lab, "--format", "json"])
    for n in json.loads(out.stdout)["nodes"]:
        if n["name"] == node:
            return n["netns"]
    raise RuntimeError(f"no node {node} in lab {lab}")


SENDER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
data, dst, end = bytes(%d), ("10.2.0.1", 9), time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    for _ in range(256):
        try:
            s.sendto(data, dst)
        except OSError:
            pass
""" % PAYLOAD


def rx_packets(netns):
    r = run(["ip", "netns", "exec", netns, "cat", "/sys/class/net/eth0/statistics/rx_packets"])
    return int(r.stdout.strip())


def one_trial(args, h1ns, h2ns):
    """pps received at h2 during a flood of --duration seconds from h1 (after a 1 s warmup)."""
    sender = subprocess.Popen(["ip", "netns", "exec", h1ns, sys.executable, "-c", SENDER,
                               str(args.duration + 1.5)])
    try:
        time.sleep(1.0)
        before, t0 = rx_packets(h2ns), time.monotonic()
        time.sleep(args.duration)
        after, t1 = rx_packets(h2ns), time.monotonic()
    finally:
        sender.wait()
    return (after - before) / (t1 - t0)


def deploy_pair(args, machines, workdir, spread):
    name = f"mp{'x' if spread else 's'}{os.getpid() % 10000}"
    path = os.path.join(workdir, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(pair_topology(name, spread))
    if spread:
        labs = {"a": f"{name}.a", "b": f"{name}.b"}
        for m in labs:
            machines.umlvnf(args.umlvnf, m, ["up", "-d", path, "--host", m, "--no-metrics"])
        h1 = netns_of(args, machines, "a", labs["a"], "h1")
        h2 = netns_of(args, machines, "b", labs["b"], "h2")
    else:
        labs = {"a": name}
        machines.umlvnf(args.umlvnf, "a", ["up", "-d", path, "--no-metrics"])
        h1 = netns_of(args, machines, "a", name, "h1")
        h2 = netns_of(args, machines, "a", name, "h2")
    # Routes and ARP in place before measuring.
    for _ in range(30):
        if run(["ip", "netns", "exec", h1, "ping", "-c", "1", "-W", "1", "10.2.0.1"],
               check=False).returncode == 0:
            break
    else:
        raise RuntimeError("h1 does not reach h2")
    return labs, h1, h2


def measure_pairs(args, machines, workdir):
    deployed = {}
    try:
        for spread in (False, True):
            deployed[spread] = deploy_pair(args, machines, workdir, spread)
        pps = {False: [], True: []}
        for _ in range(args.reps):
            for spread in (False, True):
                _, h1, h2 = deployed[spread]
                pps[spread].append(one_trial(args, h1, h2))
        return pps
    finally:
        for labs, _, _ in deployed.values():
            for m, lab in labs.items():
                machines.umlvnf(args.umlvnf, m, ["down", "--lab", lab], check=False)


def summary(values, unit, scale=1.0):
    v = [x * scale for x in values]
    return f"{statistics.median(v):.2f} {unit} ({min(v):.2f} .. {max(v):.2f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routers", type=int, default=60)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--umlvnf", default="target/release/umlvnf")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the machines are network namespaces")
    args.umlvnf = os.path.abspath(args.umlvnf)
    machines = Machines(MACHINES)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            ready, own = measure_deploy(args, machines, workdir)
            print(f"deploy: {args.routers} routers over {len(MACHINES)} machines, "
                  f"{args.runs} runs; median (min .. max)")
            print(f"  every share ready, from the start of the last up -d: "
                  f"{summary(ready, 's')}")
            for m in MACHINES:
                print(f"  machine {m}: its own up -d took {summary(own[m], 's')}")
            pps = measure_pairs(args, machines, workdir)
            print(f"cross-host link: h1 -> r1 == r2 -> h2, 64-byte frames, L2TPv3 over UDP "
                  f"guest to guest, {args.reps} alternating trials of {args.duration:g} s")
            print(f"  same machine (loopback):      {summary(pps[False], 'kpps', 1e-3)}")
            print(f"  across machines (underlay):   {summary(pps[True], 'kpps', 1e-3)}")
            ratio = statistics.median(pps[True]) / max(statistics.median(pps[False]), 1e-9)
            print(f"  across / same: {ratio:.2f}x")
    finally:
        machines.close()


if __name__ == "__main__":
    main()
