//! Root tests of what the appliance kernel gives a lab: virtual CPUs, seccomp and ptrace
//! userspace, an nftables `inet` firewall, a tap link, and a virtual clock.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// The log of a guest's UML process (its stderr, where UML reports its start-up checks).
fn guest_log(lab: &Deployed, node: &str) -> String {
    let path = std::path::Path::new("/var/lib/umlvnf/labs")
        .join(&lab.lab)
        .join("logs")
        .join(format!("{node}.log"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// h1 reaches h2 across a tap link and two routers; r1 has two vCPUs and runs its processes
/// under seccomp, r2 under ptrace; r1's nftables `inet` ruleset drops TCP 23 and passes 8080.
#[test]
fn root_appliance_kernel_cpus_userspace_nftables_and_tap() {
    require_root();
    let ex = example("appliance", &lab_name("ak"), |t| t);
    let lab = Deployed::up(&ex);

    let ping = lab.exec("h1", &["ping", "-c", "2", "-W", "2", "10.2.0.1"]);
    assert!(
        ping.status.success(),
        "ping across the tap link: {}",
        text(&ping)
    );
    assert!(stdout(&ping).contains("ttl=62"), "{}", text(&ping));

    assert_eq!(stdout(&lab.exec("r1", &["nproc"])), "2", "r1 has vcpus: 2");
    assert_eq!(
        stdout(&lab.exec("r2", &["nproc"])),
        "1",
        "r2 has the default one vCPU"
    );

    // UML reports its userspace check on stderr: seccomp when seccomp=on, ptrace otherwise.
    let r1 = guest_log(&lab, "r1");
    let r2 = guest_log(&lab, "r2");
    assert!(
        r1.contains("Checking that seccomp filters can be installed...OK"),
        "r1 must run under seccomp:\n{r1}"
    );
    assert!(
        !r2.contains("seccomp filters can be installed")
            && r2.contains("Checking syscall emulation for ptrace...OK"),
        "r2 must run under ptrace:\n{r2}"
    );

    let h2_ip = "10.2.0.1";
    assert!(
        tcp_connects(&lab, h2_ip, "8080"),
        "TCP 8080 must pass r1's inet ruleset"
    );
    assert!(
        !tcp_connects(&lab, h2_ip, "23"),
        "TCP 23 must be dropped by r1's inet ruleset"
    );
    assert_nft_rule_counted(&lab, "r1", "dport 23");
    lab.down();
}

/// A `clock: virtual` guest sleeps 300 s of its own time in a few seconds of ours.
#[test]
fn root_virtual_clock_jumps_over_idle_time() {
    require_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let name = lab_name("vc");
    let file = dir.path().join("clock.yaml");
    std::fs::write(
        &file,
        format!("name: {name}\nnodes:\n  r1:\n    clock: virtual\n    memory: 64M\n"),
    )
    .expect("write topology");
    let lab = Deployed::up(&Example::existing(&file, &name));
    let uptime = |lab: &Deployed| -> f64 {
        let o = lab.exec("r1", &["cat", "/proc/uptime"]);
        stdout(&o)
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("uptime: {}", text(&o)))
    };
    let before = uptime(&lab);
    let started = Instant::now();
    // The agent times commands in the guest's own clock: give it more than 300 s of it.
    let slept = umlvnf(&[
        "exec",
        "--lab",
        &lab.lab,
        "--timeout",
        "400",
        "r1",
        "--",
        "sleep",
        "300",
    ]);
    let wall = started.elapsed();
    assert!(slept.status.success(), "sleep: {}", text(&slept));
    let after = uptime(&lab);
    assert!(
        after - before >= 300.0,
        "the guest's clock advanced {:.1} s over a 300 s sleep",
        after - before
    );
    assert!(
        wall < Duration::from_secs(20),
        "sleep 300 took {wall:?} of wall time on a virtual clock"
    );
    lab.down();
}

/// The packet sockets of process `pid`'s guest, from `/proc/PID/net/packet` (its network
/// namespace's list) filtered to the sockets among its file descriptors: `(protocol, rmem)`.
fn guest_packet_sockets(pid: u64) -> Vec<(String, u64)> {
    let mut mine = std::collections::HashSet::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("guest fds") {
        let link = std::fs::read_link(fd.expect("fd").path()).unwrap_or_default();
        let link = link.to_string_lossy();
        if let Some(inode) = link
            .strip_prefix("socket:[")
            .and_then(|s| s.strip_suffix(']'))
        {
            mine.insert(inode.to_string());
        }
    }
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/packet")).expect("packet list");
    // sk RefCnt Type Proto Iface R Rmem User Inode
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 9 && mine.contains(f[8]))
                .then(|| (f[3].to_string(), f[6].parse().unwrap_or(u64::MAX)))
        })
        .collect()
}

/// A raw link's guest end has a receiving packet socket (all protocols) and a transmitting
/// one that receives nothing (kernel patch 0005): after traffic through the router, the
/// transmitting sockets are bound to protocol 0 and hold no queued frames.
#[test]
fn root_raw_link_transmit_sockets_receive_nothing() {
    require_root();
    let ex = example("quickstart", &lab_name("txs"), |t| t);
    let lab = Deployed::up(&ex);
    let ping = lab.exec(
        "h1",
        &["ping", "-c", "50", "-i", "0.01", "-W", "2", "10.2.0.1"],
    );
    assert!(ping.status.success(), "ping through r1: {}", text(&ping));
    let info = lab.inspect();
    let pid = info["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["name"] == "r1")
        .and_then(|n| n["pid"].as_u64())
        .expect("r1 runs");
    let sockets = guest_packet_sockets(pid);
    let receiving: Vec<_> = sockets.iter().filter(|(p, _)| p == "0003").collect();
    let transmitting: Vec<_> = sockets.iter().filter(|(p, _)| p != "0003").collect();
    assert_eq!(
        receiving.len(),
        2,
        "one receiving socket per raw link: {sockets:?}"
    );
    assert_eq!(
        transmitting.len(),
        2,
        "one transmitting socket per raw link: {sockets:?}"
    );
    for (proto, rmem) in &transmitting {
        assert_eq!(
            (proto.as_str(), *rmem),
            ("0000", 0),
            "a transmit socket must be bound to no protocol and hold nothing: {sockets:?}"
        );
    }
    lab.down();
}
