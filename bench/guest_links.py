#!/usr/bin/env python3
"""Packets per second between two UML routers, by how the routers are joined: umlvnf's wire,
a direct UML-to-UML L2TPv3/UDP link, and Debian's vde_switch — measured in one run.

  h1 ── r1 ══ X ══ r2 ── h2       (r1 pinned to CPU 0, r2 to CPU 1)

A UDP blaster in h1 offers 64-byte frames to h2 as fast as it can; h2's received frames per
second is the figure. vde_switch is attached to both guests at run time with the legacy `vde`
network driver (UML's vector `vde` transport does not come up with Debian's vde2) through
mconsole `config`. Rounds alternate between the variants. Run as root after `make build`:
  python3 bench/guest_links.py [--rounds 2] [--seconds 5] [--umlvnf target/release/umlvnf]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from metrics_cost import BLASTER  # noqa: E402

LAB = "benchlinks"


def topology(middle):
    """`middle` is a link entry for r1:eth1 <-> r2:eth0, or None (vde: attached later)."""
    r1_if = "eth0: {ipv4: [10.1.0.254/24]}"
    r2_if = "eth1: {ipv4: [10.2.0.254/24]}"
    if middle:
        r1_if += ", eth1: {ipv4: [10.0.12.1/30]}"
        r2_if += ", eth0: {ipv4: [10.0.12.2/30]}"
    text = f"""name: {LAB}
nodes:
  h1: {{kind: host, interfaces: {{eth0: {{ipv4: [10.1.0.1/24]}}}}, routes: ["default via 10.1.0.254"]}}
  h2: {{kind: host, interfaces: {{eth0: {{ipv4: [10.2.0.1/24]}}}}, routes: ["default via 10.2.0.254"]}}
  r1:
    cpus: [0]
    interfaces: {{{r1_if}}}
    sysctls: {{net.ipv4.ip_forward: 1}}
    {"routes: ['10.2.0.0/24 via 10.0.12.2']" if middle else ""}
  r2:
    cpus: [1]
    interfaces: {{{r2_if}}}
    sysctls: {{net.ipv4.ip_forward: 1}}
    {"routes: ['10.1.0.0/24 via 10.0.12.1']" if middle else ""}
links:
  - endpoints: [h1:eth0, r1:eth0]
  - endpoints: [r2:eth1, h2:eth0]
"""
    if middle:
        text += f"  - endpoints: [r1:eth1, r2:eth0]\n{middle}"
    return text


def sh(umlvnf, node, cmd):
    return subprocess.run(
        [umlvnf, "exec", "--lab", LAB, node, "--", "sh", "-c", cmd],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def attach_vde(umlvnf, d):
    sock = os.path.join(d, "switch")
    subprocess.run(["vde_switch", "-s", sock, "-d", "-p", os.path.join(d, "vde.pid")], check=True)
    time.sleep(0.5)
    uml = json.loads(
        subprocess.run([umlvnf, "inspect", "--lab", LAB, "--format", "json"], capture_output=True, check=True).stdout
    )
    state_dir = os.environ.get("UMLVNF_STATE_DIR", "/var/lib/umlvnf/labs")
    for node, addr, route in (("r1", "10.0.12.1/30", "10.2.0.0/24 via 10.0.12.2"), ("r2", "10.0.12.2/30", "10.1.0.0/24 via 10.0.12.1")):
        mc = os.path.join(state_dir, LAB, "uml", node, "mconsole")
        subprocess.run(["uml_mconsole", mc, "config", f"eth5=vde,{sock}"], check=True, capture_output=True)
        time.sleep(0.5)
        sh(umlvnf, node, f"ip addr add {addr} dev eth5 && ip link set eth5 up && ip route add {route}")
    assert uml["lab"] == LAB
    return os.path.join(d, "vde.pid")


def measure(umlvnf, seconds):
    rx = "cat /sys/class/net/eth0/statistics/rx_packets"
    # Warm up: routes and ARP.
    subprocess.run([umlvnf, "exec", "--lab", LAB, "h1", "--", "ping", "-c", "3", "-W", "2", "10.2.0.1"], capture_output=True)
    before = int(sh(umlvnf, "h2", rx))
    t0 = time.monotonic()
    subprocess.run([umlvnf, "exec", "--lab", LAB, "h1", "--", "python3", "-c", BLASTER.replace("10.5.0.2", "10.2.0.1"), str(seconds)], check=True)
    elapsed = time.monotonic() - t0
    time.sleep(0.5)
    return (int(sh(umlvnf, "h2", rx)) - before) / elapsed


def run_variant(umlvnf, name, seconds):
    middle = {
        "wire": "    transport: wire\n",
        "l2tpv3": "    transport: l2tpv3\n    l2tpv3: {session: 7}\n",
        "vde_switch": None,
    }[name]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, f"{LAB}.yaml")
        with open(path, "w") as f:
            f.write(topology(middle))
        subprocess.run([umlvnf, "down", "--lab", LAB], capture_output=True)
        up = subprocess.run([umlvnf, "up", "-d", "--no-metrics", path], capture_output=True, text=True)
        if up.returncode != 0:
            sys.exit(up.stdout + up.stderr)
        pidfile = None
        try:
            if middle is None:
                pidfile = attach_vde(umlvnf, d)
            return measure(umlvnf, seconds)
        finally:
            subprocess.run([umlvnf, "down", "--lab", LAB], capture_output=True)
            if pidfile and os.path.exists(pidfile):
                subprocess.run(["kill", open(pidfile).read().strip()])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--umlvnf", default="target/release/umlvnf")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("this benchmark deploys labs: run it as root")
    names = ["wire", "l2tpv3", "vde_switch"]
    results = {n: [] for n in names}
    for _ in range(args.rounds):
        for n in names:
            results[n].append(run_variant(args.umlvnf, n, args.seconds))
    med = {n: sorted(v)[len(v) // 2] for n, v in results.items()}
    print(f"64-byte UDP h1 -> r1 -> X -> r2 -> h2, {args.rounds} rounds x {args.seconds:.0f} s (median, min, max)")
    for n in names:
        v = results[n]
        print(f"  {n:<11} {med[n]:>9,.0f} pps ({min(v):,.0f}, {max(v):,.0f})")
    print(f"wire / direct l2tpv3: {med['wire'] / med['l2tpv3']:.2f}")
    print(f"wire / vde_switch:    {med['wire'] / med['vde_switch']:.2f}")


if __name__ == "__main__":
    main()
