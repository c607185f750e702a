#!/usr/bin/env python3
"""Deploy overhead of umlvnf: `umlvnf up -d` of a chain of N UML routers until agent ready.

With one router (the default, 5 runs) it prints the median and range over the runs of:
  * ready: `umlvnf up -d` from its start until it returned with the router's agent ready;
  * the phases of that time: process start (from `up -d` to the UML process's start),
    kernel reaches init (the guest kernel's printk time of `Run /sbin/umlvnf-agent as init
    process`), agent ready (the runtime's `boot_seconds`, UML process start to agent ready);
  * the floor: the same kernel, image, memory and userspace mode started by hand with
    `init=/bin/sh`, until it has run its first command (it reached init), and the overhead
    (ready minus floor).
The runtime records one boot figure per guest (`boot_seconds` in `umlvnf inspect --format
json`, from spawning the UML process to the agent's ready) and no phases of its own: the
phases above are computed from that figure, the process's start time in /proc (10 ms ticks)
and the guest's console log, as the output says.

With `--routers 100` (one run unless --runs) it also prints, once every router is ready and
the lab has been idle for a few seconds:
  * host memory per idle guest: the sum of Pss over every host process of each guest (the
    UML process and its userspace helpers, found by session; Pss splits the guest's shared
    memory file among the processes that map it, so nothing is counted twice) divided by N,
    and for comparison the drop of MemAvailable in /proc/meminfo from before `up -d`;
  * CPU use of the N idle routers over --idle-seconds (10): utime + stime of all their host
    processes, as % of one core (and the runtime's own, apart).

Every figure is on the kernel the lab boots (umlvnf's appliance kernel unless the topology
names another); the hand-started floor runs the binary the lab's guests ran, with their
`seccomp=`/`ncpus=`/`lpj=` options. Run as root after `make build`:
  python3 bench/deploy_overhead.py [--routers N] [--runs R] [--umlvnf target/release/umlvnf]
"""

import argparse
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

MAGIC = 0xCAFEBABE
CLK_TCK = os.sysconf("SC_CLK_TCK")
INIT_LINE = re.compile(r"^\[\s*(\d+\.\d+)\]\s+Run /sbin/umlvnf-agent as init process")


def chain_topology(name, n, memory):
    lines = [f"name: {name}", f"defaults: {{memory: {memory}}}", "nodes:"]
    for i in range(1, n + 1):
        ifs = []
        if i > 1:
            ifs.append(f"eth0: {{ipv4: [10.{(i - 1) // 250}.{(i - 1) % 250}.2/30]}}")
        if i < n:
            ifs.append(f"eth1: {{ipv4: [10.{i // 250}.{i % 250}.1/30]}}")
        lines.append(f"  r{i}:")
        if ifs:
            lines.append("    interfaces: {" + ", ".join(ifs) + "}")
        lines.append("    sysctls: {net.ipv4.ip_forward: 1}")
    if n > 1:
        lines.append("links:")
        for i in range(1, n):
            lines.append(f"  - endpoints: [r{i}:eth1, r{i + 1}:eth0]")
    return "\n".join(lines) + "\n"


def labs_dir():
    return os.environ.get("UMLVNF_STATE_DIR", "/var/lib/umlvnf/labs")


def boottime():
    """Seconds since boot on the clock /proc/PID/stat start times are counted on."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def process_start(pid):
    """Start of PID in seconds since boot (CLK_TCK resolution)."""
    return int(stat_fields(pid)[19]) / CLK_TCK


def session_of(pid):
    return int(stat_fields(pid)[3])


def processes_by_session():
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            out.setdefault(session_of(int(entry)), []).append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return out


def guest_processes(pids):
    """Every host process of the guests whose UML processes are PIDS: their sessions' members
    (each guest runs in its own session), else the pid alone."""
    sessions = processes_by_session()
    out = []
    for pid in pids:
        try:
            sid = session_of(pid)
        except OSError:
            continue
        out.extend(sessions.get(sid, [pid]) if sid == pid else [pid])
    return sorted(set(out))


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid):
    try:
        f = stat_fields(pid)
        return int(f[11]) + int(f[12])
    except (OSError, IndexError, ValueError):
        return None


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def init_time(console_log):
    """The guest's printk time (seconds of its clock) when it started the agent as init."""
    try:
        with open(console_log, errors="replace") as f:
            for line in f:
                m = INIT_LINE.match(line.strip())
                if m:
                    return float(m.group(1))
    except OSError:
        pass
    return None


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def inspect(umlvnf, name):
    out = run([umlvnf, "inspect", "--lab", name, "--format", "json"])
    if out.returncode != 0:
        sys.exit(f"umlvnf inspect failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout)


def umlvnf_run(umlvnf, name, n, memory, idle_seconds=None):
    """One `up -d` of the chain; returns what was measured (the lab is down again after)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, f"{name}.yaml")
        with open(path, "w") as f:
            f.write(chain_topology(name, n, memory))
        run([umlvnf, "down", "--lab", name])
        avail_before = mem_available_kib()
        t0 = boottime()
        up = run([umlvnf, "up", "-d", path])
        ready = boottime() - t0
        try:
            if up.returncode != 0:
                sys.exit(f"umlvnf up failed:\n{up.stdout}\n{up.stderr}")
            info = inspect(umlvnf, name)
            guests = [g for g in info["nodes"] if g["kind"] == "uml"]
            phases = []
            for g in guests:
                log = os.path.join(labs_dir(), name, "logs", f"{g['name']}.console")
                start = process_start(g["pid"]) - t0
                phases.append((start, init_time(log), g["boot_seconds"]))
            argv = cmdline(guests[0]["pid"])
            result = {
                "ready": ready,
                "phases": phases,
                "kernel": argv[0],
                "kernel_opts": [a for a in argv if a.startswith(("seccomp=", "ncpus=", "lpj="))],
                "runtime_rss_kib": rss_kib(info["supervisor_pid"]),
            }
            if idle_seconds is not None:
                time.sleep(5)  # let the boot's last work settle
                pids = guest_processes([g["pid"] for g in guests])
                sup = info["supervisor_pid"]
                before = {p: cpu_ticks(p) for p in pids + [sup]}
                time.sleep(idle_seconds)
                after = {p: cpu_ticks(p) for p in pids + [sup]}
                used = lambda ps: sum(
                    after[p] - before[p]
                    for p in ps
                    if after.get(p) is not None and before.get(p) is not None
                )
                result["idle_cpu_pct"] = 100.0 * used(pids) / CLK_TCK / idle_seconds
                result["runtime_cpu_pct"] = 100.0 * used([sup]) / CLK_TCK / idle_seconds
                pids = guest_processes([g["pid"] for g in guests])
                result["processes"] = len(pids)
                result["pss_kib"] = sum(pss_kib(p) for p in pids)
                result["avail_drop_kib"] = avail_before - mem_available_kib()
            return result
        finally:
            run([umlvnf, "down", "--lab", name])


def image_path(umlvnf):
    out = run([umlvnf, "image", "build", "minimal"])
    if out.returncode != 0:
        sys.exit(out.stderr)
    return out.stdout.strip().splitlines()[-1]


def by_hand(n, image, kernel, kernel_opts, memory):
    """Starts n kernels in parallel; returns seconds until each ran its first command."""
    with tempfile.TemporaryDirectory() as d:
        sock_path = os.path.join(d, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(120)
        empty = os.path.join(d, "empty")
        os.mkdir(empty)
        procs = []
        t0 = time.monotonic()
        try:
            for i in range(n):
                argv = [
                    kernel,
                    f"ubd0={d}/g{i}.cow,{image}",
                    "root=/dev/ubda",
                    "rw",
                    f"mem={memory}",
                    f"umid=g{i}",
                    f"uml_dir={d}/uml",
                    "con=null",
                    "con0=fd:0,fd:1",
                    "ssl=null",
                    f"mconsole=notify:{sock_path}",
                    f"hostfs={empty}",
                    "noreboot",
                    "init=/bin/sh",
                ] + kernel_opts
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


def spread(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/a"
    return f"{statistics.median(xs):.3f} s ({min(xs):.3f} .. {max(xs):.3f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routers", type=int, default=1)
    ap.add_argument("--runs", type=int, help="default: 5 with one router, else 1")
    ap.add_argument("--memory", default="64M", help="guest memory (default 64M)")
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--umlvnf", default="target/release/umlvnf")
    ap.add_argument("--no-floor", action="store_true", help="skip the hand-started floor")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("this benchmark deploys labs: run it as root")
    if args.routers < 1:
        sys.exit("--routers must be at least 1")
    runs = args.runs or (5 if args.routers == 1 else 1)
    many = args.routers > 1
    image = image_path(args.umlvnf)
    name = f"dovh{os.getpid() % 10000}"
    results, floors = [], []
    for i in range(runs):
        r = umlvnf_run(
            args.umlvnf, name, args.routers, args.memory, args.idle_seconds if many else None
        )
        results.append(r)
        print(f"run {i + 1}: ready after {r['ready']:.3f} s", file=sys.stderr)
        if not args.no_floor:
            floors.append(by_hand(args.routers, image, r["kernel"], r["kernel_opts"], args.memory))
    kernel = results[0]["kernel"]
    opts = " ".join(results[0]["kernel_opts"]) or "no seccomp=/ncpus=/lpj= options"
    print(f"routers: {args.routers} (chain, mem={args.memory}), runs: {runs}; median (min .. max)")
    print(f"kernel: {kernel} ({opts})")
    readies = [r["ready"] for r in results]
    print(f"umlvnf up -d until every agent ready:  {spread(readies)}")
    # Phases per run: the guests' median (one router: that router's figures).
    starts = [statistics.median(p[0] for p in r["phases"]) for r in results]
    inits = []
    for r in results:
        ts = [p[0] + p[1] for p in r["phases"] if p[1] is not None]
        inits.append(statistics.median(ts) if ts else None)
    agents = [statistics.median(p[0] + p[2] for p in r["phases"] if p[2] is not None) for r in results]
    who = "the router" if not many else "median guest"
    print(f"phases ({who}, seconds after `up -d` started; computed, see --help):")
    print(f"  process start (UML process exists):   {spread(starts)}")
    print(f"  kernel reaches init (printk time):    {spread(inits)}")
    print(f"  agent ready (start + boot_seconds):   {spread(agents)}")
    boots = [statistics.median(p[2] for p in r["phases"]) for r in results]
    kernel_init = [
        statistics.median(p[1] for p in r["phases"] if p[1] is not None)
        if any(p[1] is not None for p in r["phases"])
        else None
        for r in results
    ]
    print(f"  of which kernel start to init:        {spread(kernel_init)}")
    print(f"  of which process start to agent ready: {spread(boots)}")
    if any(i is None for i in inits):
        print("  (init times missing: the console log had no `Run /sbin/umlvnf-agent` line)")
    if floors:
        print(f"same kernel by hand, until init:       {spread(floors)}")
        print(
            f"deploy overhead (ready - floor):        "
            f"{statistics.median(readies) - statistics.median(floors):.3f} s"
        )
    rss = statistics.median(r["runtime_rss_kib"] for r in results)
    print(f"umlvnf runtime memory (RSS):           {rss / 1024:.1f} MiB")
    if many:
        r = results[-1]
        n = args.routers
        print(f"idle ({args.idle_seconds:.0f} s, after 5 s of settling, last run):")
        print(
            f"  host memory per guest (Pss of its {r['processes'] / n:.1f} processes): "
            f"{r['pss_kib'] / n / 1024:.1f} MiB"
        )
        print(
            f"  MemAvailable drop per guest (whole host, from before up -d): "
            f"{r['avail_drop_kib'] / n / 1024:.1f} MiB"
        )
        print(
            f"  CPU of the {n} idle guests: {r['idle_cpu_pct']:.1f} % of one core "
            f"({r['idle_cpu_pct'] / n:.2f} % each); runtime: {r['runtime_cpu_pct']:.1f} %"
        )


if __name__ == "__main__":
    main()
