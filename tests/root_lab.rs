//! Booted scenarios: real UML guests in real namespaces, driven through the `umlvnf` binary.

mod common;

use std::time::Duration;

use common::*;

fn out_str(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// h1 pings h2 through r1 (TTL decremented once); exec returns the command's exit status; a
/// guest killed with SIGKILL, and one whose kernel panics, is restarted and traffic flows again
/// (inspect says why it ended); down leaves nothing.
#[test]
fn root_quickstart_forwards_restarts_and_cleans_up() {
    require_root();
    let ex = example("quickstart", &lab_name("qs"), |t| t);
    let lab = Deployed::up(&ex);

    let ping = lab.exec("h1", &["ping", "-c", "3", "-W", "2", "10.2.0.1"]);
    assert!(ping.status.success(), "ping through r1: {}", text(&ping));
    assert!(
        out_str(&ping).contains("ttl=63"),
        "TTL not decremented by one: {}",
        text(&ping)
    );

    // r1 does not read back what it forwards: over 20 pings its outgoing interface receives
    // the replies, not also a copy of each request it sent (which UML's raw socket would
    // deliver without umlvnf's BPF file, doubling what it receives).
    let counters = || {
        let o = lab.exec(
            "r1",
            &[
                "cat",
                "/sys/class/net/eth1/statistics/rx_packets",
                "/sys/class/net/eth1/statistics/tx_packets",
            ],
        );
        let v: Vec<u64> = out_str(&o)
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        assert_eq!(v.len(), 2, "{}", text(&o));
        (v[0], v[1])
    };
    let (rx0, tx0) = counters();
    let pings = lab.exec(
        "h1",
        &["ping", "-c", "20", "-i", "0.05", "-W", "2", "10.2.0.1"],
    );
    assert!(pings.status.success(), "{}", text(&pings));
    let (rx1, tx1) = counters();
    let (rx, tx) = (rx1 - rx0, tx1 - tx0);
    assert!(tx >= 20, "r1 sent {tx} frames on eth1 for 20 pings");
    assert!(
        rx < tx + 5,
        "r1 received {rx} frames on eth1 while sending {tx}: it reads back its own frames"
    );

    let status = lab.exec("r1", &["sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert_eq!(status.status.code(), Some(7), "{}", text(&status));
    assert_eq!(out_str(&status), "out\n");
    assert_eq!(String::from_utf8_lossy(&status.stderr), "err\n");
    let host_status = lab.exec("h1", &["sh", "-c", "exit 5"]);
    assert_eq!(host_status.status.code(), Some(5));

    let fwd = lab.exec("r1", &["cat", "/proc/sys/net/ipv4/ip_forward"]);
    assert_eq!(out_str(&fwd).trim(), "1");

    let info = lab.inspect();
    let r1 = info["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["name"] == "r1")
        .expect("r1 listed")
        .clone();
    assert_eq!(r1["state"], "ready", "{info}");
    assert_eq!(r1["kind"], "uml");
    let pid = r1["pid"].as_i64().expect("r1 has a pid") as i32;
    assert!(r1["boot_seconds"].as_f64().expect("boot time") > 0.0);
    assert_eq!(info["links"].as_array().expect("links").len(), 2);

    // Kill the guest outright: the runtime restarts it and the links work again.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill r1");
    let restarted = eventually(Duration::from_secs(60), || {
        let info = lab.inspect();
        info["nodes"].as_array().into_iter().flatten().any(|n| {
            n["name"] == "r1" && n["state"] == "ready" && n["restarts"].as_u64() == Some(1)
        })
    });
    assert!(restarted, "r1 was not restarted: {}", lab.inspect());
    let ping = lab.exec("h1", &["ping", "-c", "2", "-W", "2", "10.2.0.1"]);
    assert!(ping.status.success(), "ping after restart: {}", text(&ping));
    let r1 = |info: &serde_json::Value| {
        info["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["name"] == "r1")
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        r1(&lab.inspect())["last_exit"],
        "the UML process exited with status 137",
        "inspect keeps why r1 ended"
    );

    // A kernel panic inside the guest: restarted too, and inspect names the panic.
    let crash = lab.exec("r1", &["sh", "-c", "echo c > /proc/sysrq-trigger"]);
    assert!(
        !crash.status.success(),
        "the guest survived its crash: {}",
        text(&crash)
    );
    let restarted = eventually(Duration::from_secs(60), || {
        let n = r1(&lab.inspect());
        n["state"] == "ready" && n["restarts"].as_u64() == Some(2)
    });
    let info = r1(&lab.inspect());
    assert!(restarted, "r1 was not restarted after its panic: {info}");
    assert!(
        info["last_exit"]
            .as_str()
            .is_some_and(|e| e.contains("the guest kernel panicked (sysrq triggered crash)")),
        "{info}"
    );
    let ping = lab.exec("h1", &["ping", "-c", "2", "-W", "2", "10.2.0.1"]);
    assert!(
        ping.status.success(),
        "ping after the panic: {}",
        text(&ping)
    );

    // A process left running in a host node goes with the lab.
    let bg = lab.exec("h1", &["sh", "-c", "sleep 4242 >/dev/null 2>&1 &"]);
    assert!(bg.status.success());
    lab.down();
    let leftover = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .any(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == b"sleep\x004242\x00"));
    assert!(!leftover, "a process started in h1 outlived the lab");
}

/// The firewall drops TCP to port 23 and passes other ports and ICMP.
#[test]
fn root_firewall_drops_blocked_port() {
    require_root();
    let ex = example("firewall", &lab_name("fw"), |t| t);
    let lab = Deployed::up(&ex);
    let ping = lab.exec("h1", &["ping", "-c", "2", "-W", "2", "10.2.0.1"]);
    assert!(
        ping.status.success(),
        "ICMP through the firewall: {}",
        text(&ping)
    );

    assert!(
        tcp_connects(&lab, "10.2.0.1", "8080"),
        "TCP 8080 must pass the firewall"
    );
    assert!(
        !tcp_connects(&lab, "10.2.0.1", "23"),
        "TCP 23 must be dropped by the firewall"
    );
    lab.down();
}

/// A bridging firewall with an nftables `inet` ruleset (over br_netfilter): h1 reaches h2 on the same subnet
/// through fw1, TCP 23 is dropped (and counted by the rule), TCP 8080 passes.
#[test]
fn root_bridge_firewall_filters_with_nftables() {
    require_root();
    let ex = example("bridge-firewall", &lab_name("bf"), |t| t);
    let lab = Deployed::up(&ex);
    let ping = lab.exec("h1", &["ping", "-c", "2", "-W", "2", "10.1.0.2"]);
    assert!(
        ping.status.success(),
        "ICMP through the bridge: {}",
        text(&ping)
    );
    assert!(
        tcp_connects(&lab, "10.1.0.2", "8080"),
        "TCP 8080 must cross the bridge"
    );
    assert!(
        !tcp_connects(&lab, "10.1.0.2", "23"),
        "TCP 23 must be dropped by the nftables rule"
    );
    assert_nft_rule_counted(&lab, "fw1", "dport 23");
    lab.down();
}

/// Three routers with static routes: h1 reaches h2 with the TTL decremented three times.
#[test]
fn root_chain_routes_across_three_routers() {
    require_root();
    let ex = example("chain", &lab_name("ch"), |t| t);
    let lab = Deployed::up(&ex);
    let ping = lab.exec("h1", &["ping", "-c", "2", "-W", "2", "10.2.0.1"]);
    assert!(
        ping.status.success(),
        "ping across the chain: {}",
        text(&ping)
    );
    assert!(out_str(&ping).contains("ttl=61"), "{}", text(&ping));
    lab.down();
}

/// After SIGKILL of the runtime, `down` still removes everything from the recorded state.
#[test]
fn root_down_after_runtime_killed() {
    require_root();
    let ex = example("quickstart", &lab_name("kd"), |t| t);
    let lab = Deployed::up(&ex);
    let info = lab.inspect();
    let sup = info["supervisor_pid"].as_i64().expect("runtime pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sup),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill runtime");
    std::thread::sleep(Duration::from_millis(300));
    let info = lab.inspect();
    assert_eq!(info["phase"], "stale", "{info}");
    lab.down();
}

/// A deploy that fails after host objects and guests were made leaves nothing behind.
#[test]
fn root_failed_deploy_leaves_nothing() {
    require_root();
    let name = lab_name("fd");
    let ex = example("quickstart", &name, |t| {
        t.replace("sysctls:", "exec: [\"false\"]\n    sysctls:")
    });
    let out = umlvnf(&["up", "-d", ex.file.to_str().expect("path")]);
    assert!(
        !out.status.success(),
        "the deploy must fail: {}",
        text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("r1"), "the error names the node: {err}");
    assert_nothing_left(&name);

    // A missing kernel is caught before anything is made.
    let ex = example("quickstart", &name, |t| {
        t.replace(
            "    image: minimal",
            "    image: minimal\n    kernel: /nonexistent/linux",
        )
    });
    let out = umlvnf(&["up", "-d", ex.file.to_str().expect("path")]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/linux"),
        "{}",
        text(&out)
    );
    assert_nothing_left(&name);

    // A guest whose kernel panics at boot (its root image is no file system) fails the deploy
    // at once with the panic message, not when the boot timeout (120 s) runs out.
    let blank = ex.dir.path().join("blank.img");
    std::fs::File::create(&blank)
        .and_then(|f| f.set_len(16 << 20))
        .expect("blank image");
    let ex = example("quickstart", &name, |t| {
        t.replace(
            "    image: minimal",
            &format!("    image: {}", blank.display()),
        )
    });
    let started = std::time::Instant::now();
    let out = umlvnf(&["up", "-d", ex.file.to_str().expect("path")]);
    let took = started.elapsed();
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the guest kernel panicked during boot: VFS: Unable to mount root fs"),
        "the error gives the panic: {}",
        text(&out)
    );
    assert!(
        took < std::time::Duration::from_secs(60),
        "a panicked guest was waited for {took:?}"
    );
    // The default restart policy (on-failure) boots a kernel that died once more.
    assert!(
        err.contains("(after a first boot that failed: the guest kernel panicked"),
        "the panicked guest was booted a second time: {}",
        text(&out)
    );
    assert_nothing_left(&name);
    // With `restart: no` it is not.
    let ex = example("quickstart", &name, |t| {
        t.replace(
            "    image: minimal",
            &format!("    image: {}\n    restart: \"no\"", blank.display()),
        )
    });
    let out = umlvnf(&["up", "-d", ex.file.to_str().expect("path")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        err.contains("the guest kernel panicked during boot") && !err.contains("first boot"),
        "booted once only: {}",
        text(&out)
    );
    assert_nothing_left(&name);
}

/// An interface that already exists on the host stops the deploy with a clear error, and a
/// second `up` of a running lab is refused.
#[test]
fn root_conflicts_are_reported() {
    require_root();
    let name = lab_name("cf");
    let taken = format!("cf{}", std::process::id() % 100000);
    let root = umlvnf_host::Rtnl::root().expect("netlink");
    root.veth_add(&taken, &format!("{taken}p"), None)
        .expect("veth");
    let ex = example("quickstart", &name, |t| {
        format!(
            "{t}  - endpoints: [r1:eth9, host:{taken}]\nhost_access: {{host_interfaces: true}}\n"
        )
    });
    let out = umlvnf(&["up", "-d", ex.file.to_str().expect("path")]);
    let _ = root.link_del(&taken);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&taken),
        "{}",
        text(&out)
    );
    assert_nothing_left(&name);

    let ex = example("quickstart", &name, |t| t);
    let lab = Deployed::up(&ex);
    let again = umlvnf(&["up", "-d", ex.file.to_str().expect("path")]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already up"),
        "{}",
        text(&again)
    );
    lab.down();
}

/// FRR routers on the Debian image converge with OSPF; h1 then reaches h2 with no static route.
#[test]
fn root_ospf_converges_on_frr() {
    require_root();
    let ex = example("ospf", &lab_name("os"), |t| t);
    let lab = Deployed::up(&ex);
    // Converged: the OSPF route is installed and both adjacencies are Full (a route can come
    // through one neighbour while the other is still exchanging its database).
    let full = |n: &std::process::Output| out_str(n).matches("Full").count();
    let converged = eventually(Duration::from_secs(90), || {
        let r = lab.exec("r1", &["ip", "route", "show", "10.2.0.0/24"]);
        out_str(&r).contains("proto ospf")
            && full(&lab.exec("r1", &["vtysh", "-c", "show ip ospf neighbor"])) == 2
    });
    let neighbors = lab.exec("r1", &["vtysh", "-c", "show ip ospf neighbor"]);
    assert!(
        converged,
        "no OSPF route to 10.2.0.0/24 on r1 with two Full neighbours; neighbours: {}",
        text(&neighbors)
    );
    assert_eq!(full(&neighbors), 2, "{}", text(&neighbors));
    // Both directions need their routes: retry until r3 has learned the way back too.
    let reached = eventually(Duration::from_secs(60), || {
        lab.exec("h1", &["ping", "-c", "1", "-W", "1", "10.2.0.1"])
            .status
            .success()
    });
    let routes = lab.exec("r3", &["ip", "route"]);
    assert!(
        reached,
        "h1 cannot reach h2 over OSPF routes; r3: {}",
        text(&routes)
    );
    lab.down();
}

/// `inspect`'s entry for `node`.
fn node_info(lab: &Deployed, node: &str) -> serde_json::Value {
    let info = lab.inspect();
    info["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["name"] == node)
        .cloned()
        .unwrap_or_else(|| panic!("{node} is not in: {info}"))
}

fn node_pid(lab: &Deployed, node: &str) -> i32 {
    let info = node_info(lab, node);
    info["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("{node} has no pid: {info}")) as i32
}

fn proc_status_field(pid: i32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// Every link kind: tap through a generated bridge to a host node, raw guest to guest, hybrid
/// joining an existing host bridge, and an interface in the root namespace. Guests keep only
/// the capabilities their links need, and CPU pinning applies.
#[test]
fn root_every_link_kind_carries_traffic() {
    require_root();
    let root = umlvnf_host::Rtnl::root().expect("netlink");
    // An existing host bridge: the lab joins it and leaves it in place.
    let _ = root.link_del("lkbr0");
    root.bridge_add("lkbr0", None).expect("bridge");
    root.link_set_up("lkbr0").expect("bridge up");
    let ex = example("links", &lab_name("lk"), |t| t);
    let lab = Deployed::up(&ex);

    let ping = lab.exec("h1", &["ping", "-c", "2", "-W", "2", "10.2.0.1"]);
    assert!(
        ping.status.success(),
        "h1 -> r1 -> r2 -> h2: {}",
        text(&ping)
    );
    assert!(out_str(&ping).contains("ttl=62"), "{}", text(&ping));

    let lkroot = root
        .link("lkroot0")
        .expect("netlink")
        .expect("lkroot0 exists");
    assert_eq!(
        lkroot.alias.as_deref(),
        Some(umlvnf::plan::naming::owner_alias(&lab.lab).as_str())
    );
    assert!(lkroot.up);

    let r1 = node_pid(&lab, "r1");
    assert_eq!(proc_status_field(r1, "Cpus_allowed_list"), "0");
    // tap needs CAP_NET_ADMIN (12), raw CAP_NET_RAW (13): nothing else.
    assert_eq!(proc_status_field(r1, "CapEff"), "0000000000003000");
    assert_eq!(proc_status_field(r1, "NoNewPrivs"), "1");

    let mac = lab.exec("r1", &["cat", "/sys/class/net/eth1/address"]);
    assert_eq!(out_str(&mac).trim(), "02:00:00:00:12:01");

    // What pinned r1 sends (into its tap, and to r2's end of their veth pair) is processed
    // on the other CPUs, not on r1's.
    let plan = std::process::Command::new(bin())
        .args(["plan", "--format", "json"])
        .arg(&ex.file)
        .output()
        .expect("plan");
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    let steered: Vec<(Option<String>, String)> = plan["host_steps"]
        .as_array()
        .expect("host steps")
        .iter()
        .filter(|s| s["op"] == "steer_rx")
        .map(|s| {
            assert_eq!(s["avoid"], serde_json::json!([0]));
            (
                s["netns"].as_str().map(str::to_string),
                s["name"].as_str().expect("name").to_string(),
            )
        })
        .collect();
    assert_eq!(steered.len(), 2, "{steered:?}");
    let others: Vec<usize> = umlvnf_host::allowed_cpus()
        .into_iter()
        .filter(|&c| c != 0)
        .collect();
    if !others.is_empty() {
        for (netns, name) in &steered {
            assert_eq!(
                umlvnf_host::rps_get(netns.as_deref(), name).expect("rps"),
                others,
                "{name}"
            );
        }
    }

    let lab_name = lab.lab.clone();
    lab.down();
    assert!(
        root.link_exists("lkbr0").expect("netlink"),
        "the pre-existing bridge must be left in place"
    );
    root.link_del("lkbr0").expect("remove bridge");
    assert!(!root.link_exists("lkroot0").expect("netlink"));
    assert_nothing_left(&lab_name);
}

/// The console relays both ways: a command typed there runs in the guest's shell.
#[test]
fn root_console_runs_a_shell() {
    require_root();
    let ex = example("quickstart", &lab_name("co"), |t| t);
    let lab = Deployed::up(&ex);
    let r1 = node_pid(&lab, "r1");
    // raw links only: CAP_NET_RAW alone.
    assert_eq!(proc_status_field(r1, "CapEff"), "0000000000002000");

    let socket = umlvnf::state::labs_dir()
        .join(&lab.lab)
        .join("control.sock");
    let (reply, mut stream) = umlvnf::control::call(
        &lab.lab,
        &socket,
        &umlvnf::control::Request::Console { node: "r1".into() },
        Some(Duration::from_secs(10)),
    )
    .expect("console request");
    assert!(reply.is_ok(), "{reply:?}");
    use std::io::{Read, Write};
    stream
        .write_all(b"\necho console-$((6*7))\n")
        .expect("type");
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut seen = Vec::new();
    let found = eventually(Duration::from_secs(15), || {
        let mut buf = [0u8; 4096];
        if let Ok(n) = stream.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).contains("console-42")
    });
    assert!(found, "console output: {}", String::from_utf8_lossy(&seen));
    drop(stream);
    lab.down();
}

/// Two `up` of one lab at the same time: one deploys, the other fails at once naming the
/// owner, and the winner's lab is intact; a different lab deploys meanwhile.
#[test]
fn root_one_lab_has_one_owner() {
    require_root();
    let ex = example("quickstart", &lab_name("ow"), |t| t);
    let other = example("quickstart", &lab_name("ox"), |t| {
        t.replace("10.1.0.", "10.11.0.")
            .replace("10.2.0.", "10.12.0.")
    });
    let spawn = |file: &std::path::Path| {
        std::process::Command::new(bin())
            .args(["up", "-d", file.to_str().expect("utf-8")])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn up")
    };
    let first = spawn(&ex.file);
    let second = spawn(&ex.file);
    let third = spawn(&other.file);
    let outs: Vec<std::process::Output> = [first, second, third]
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let lab = Deployed {
        lab: ex.lab.clone(),
        file: ex.file.clone(),
    };
    let other_lab = Deployed {
        lab: other.lab.clone(),
        file: other.file.clone(),
    };
    let ok: Vec<bool> = outs.iter().map(|o| o.status.success()).collect();
    assert_eq!(
        ok[..2].iter().filter(|s| **s).count(),
        1,
        "exactly one of two ups of one lab must succeed:\n{}\n---\n{}",
        text(&outs[0]),
        text(&outs[1])
    );
    let loser = if ok[0] { &outs[1] } else { &outs[0] };
    let why = text(loser);
    assert!(
        why.contains("is being deployed by umlvnf pid") || why.contains("is already up"),
        "{why}"
    );
    assert!(
        ok[2],
        "another lab deploys concurrently: {}",
        text(&outs[2])
    );
    let ping = lab.exec("h1", &["ping", "-c", "1", "-W", "2", "10.2.0.1"]);
    assert!(
        ping.status.success(),
        "the winner's lab works: {}",
        text(&ping)
    );
    lab.down();
    other_lab.down();
}

/// A guest whose UML process is stopped is shown `unresponsive`, `exec` into it fails at once
/// saying so, it is `ready` again when continued, and when it stays stopped its restart policy
/// kills and restarts it.
#[test]
fn root_a_stopped_guest_is_unresponsive_then_restarted() {
    require_root();
    let ex = example("quickstart", &lab_name("un"), |t| t);
    let lab = Deployed::up(&ex);
    let state = |lab: &Deployed| -> (String, u64) {
        let r1 = node_info(lab, "r1");
        (
            r1["state"].as_str().unwrap_or_default().to_string(),
            r1["restarts"].as_u64().unwrap_or(0),
        )
    };
    let pid = nix::unistd::Pid::from_raw(node_pid(&lab, "r1"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP");
    assert!(
        eventually(Duration::from_secs(10), || state(&lab).0 == "unresponsive"),
        "r1 is not shown unresponsive: {:?}",
        state(&lab)
    );
    let started = std::time::Instant::now();
    let o = lab.exec("r1", &["true"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("is unresponsive"), "{}", text(&o));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "exec took {:?}",
        started.elapsed()
    );

    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT");
    assert!(
        eventually(Duration::from_secs(10), || state(&lab).0 == "ready"),
        "r1 is not ready after SIGCONT: {:?}",
        state(&lab)
    );
    let ping = lab.exec("h1", &["ping", "-c", "1", "-W", "2", "10.2.0.1"]);
    assert!(ping.status.success(), "{}", text(&ping));

    // Stopped for good: on-failure restarts it after the bound.
    let pid = nix::unistd::Pid::from_raw(node_pid(&lab, "r1"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP");
    assert!(
        eventually(Duration::from_secs(60), || state(&lab)
            == ("ready".to_string(), 1)),
        "r1 was not restarted: {:?}",
        state(&lab)
    );
    let ping = lab.exec("h1", &["ping", "-c", "1", "-W", "2", "10.2.0.1"]);
    assert!(ping.status.success(), "{}", text(&ping));
    lab.down();
}
