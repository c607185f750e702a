//! Labs spread over several machines, with machines simulated as network namespaces: each has
//! its own underlay address on a bridge the test creates and runs its own umlvnf runtime
//! (`umlvnf up -d FILE --host NAME` inside the namespace). Cross-host links are L2TPv3-over-UDP
//! tunnels between the machines' addresses, guest to guest; `inspect` on each machine shows
//! whether each cross-host link's peer is heard from.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::*;

/// Machines as network namespaces on one bridge, removed again when dropped.
struct Machines {
    tag: String,
    names: Vec<char>,
}

impl Machines {
    /// Namespaces for machines `names`, machine `i` at `10.213.0.(i+1)/24` on a fresh bridge;
    /// `test` tells apart the machines of tests that run at the same time.
    fn new(test: char, names: &[char]) -> Machines {
        let tag = format!("{test}{}", std::process::id() % 100000);
        let m = Machines {
            tag,
            names: names.to_vec(),
        };
        ip(&["link", "add", &m.bridge(), "type", "bridge"]);
        ip(&["link", "set", &m.bridge(), "up"]);
        for (i, &h) in names.iter().enumerate() {
            let ns = m.netns(h);
            ip(&["netns", "add", &ns]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            let (outer, inner) = (format!("mv{}{h}", m.tag), format!("mp{}{h}", m.tag));
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ]);
            ip(&["link", "set", &outer, "master", &m.bridge(), "up"]);
            ip(&["link", "set", &inner, "netns", &ns]);
            ip(&["-n", &ns, "link", "set", &inner, "name", "underlay", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", Machines::address(i)),
                "dev",
                "underlay",
            ]);
        }
        m
    }

    fn bridge(&self) -> String {
        format!("mb{}", self.tag)
    }

    fn netns(&self, host: char) -> String {
        format!("machine{}{host}", self.tag)
    }

    /// The underlay address of machine `i`.
    fn address(i: usize) -> String {
        format!("10.213.0.{}", i + 1)
    }

    /// Runs umlvnf inside machine `host`'s network namespace.
    fn umlvnf(&self, host: char, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.netns(host)))
            .arg(bin())
            .args(args)
            .output()
            .expect("nsenter runs umlvnf")
    }

    /// `umlvnf up -d FILE --host HOST` on machine `host`, asserted to succeed.
    fn up(&self, host: char, file: &Path) {
        let h = host.to_string();
        let out = self.umlvnf(host, &["up", "-d", path(file), "--host", &h]);
        assert!(out.status.success(), "up --host {h}: {}", text(&out));
    }
}

impl Drop for Machines {
    fn drop(&mut self) {
        for &h in &self.names {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.netns(h)])
                .output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge()])
            .output();
    }
}

/// Runs `ip` and asserts it succeeded.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(out.status.success(), "ip {args:?}: {}", text(&out));
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A chain `r1 - r2 - ... - rN` with router `ri` on host `hosts[i]`; `r1` and `rN` route
/// through the others. Machine `machines[i]` is at [`Machines::address`]` (i)`.
fn chain(dir: &Path, lab: &str, machines: &[char], hosts: &[char]) -> PathBuf {
    let mut t = format!("name: {lab}\nhosts:\n");
    for (i, m) in machines.iter().enumerate() {
        t += &format!("  {m}: {{address: {}}}\n", Machines::address(i));
    }
    t += "nodes:\n";
    let n = hosts.len();
    for (i, h) in hosts.iter().enumerate() {
        let r = i + 1;
        t += &format!("  r{r}:\n    host: {h}\n    memory: 64M\n    interfaces:\n");
        if r > 1 {
            t += &format!("      eth0: {{ipv4: [10.214.{}.2/24]}}\n", r - 1);
        }
        if r < n {
            t += &format!("      eth1: {{ipv4: [10.214.{r}.1/24]}}\n");
        }
        if r == 1 {
            t += "    routes: [default via 10.214.1.2]\n";
        } else if r == n {
            t += &format!("    routes: [default via 10.214.{}.1]\n", r - 1);
        } else {
            t += "    sysctls: {net.ipv4.ip_forward: 1}\n";
            t += &format!("    routes: [10.214.{}.0/24 via 10.214.{r}.2]\n", r + 1);
        }
    }
    t += "links:\n";
    for r in 1..n {
        t += &format!("  - endpoints: [r{r}:eth1, r{}:eth0]\n", r + 1);
    }
    let file = dir.join(format!("{lab}.yaml"));
    std::fs::write(&file, t).expect("topology");
    file
}

/// Takes the shares down on their machines when dropped, even if the test fails.
struct Shares<'a> {
    machines: &'a Machines,
    file: PathBuf,
    lab: String,
}

impl<'a> Shares<'a> {
    /// Deploys `file` (lab `lab`) on every one of `machines`, each running its own share.
    fn deploy(machines: &'a Machines, file: PathBuf, lab: String) -> Shares<'a> {
        let shares = Shares {
            machines,
            file,
            lab,
        };
        for &h in &machines.names {
            machines.up(h, &shares.file);
        }
        shares
    }

    fn share(&self, host: char) -> String {
        umlvnf::plan::share::share_lab(&self.lab, &host.to_string())
    }

    /// `umlvnf exec` on node `node` of host `host`'s share.
    fn exec(&self, host: char, node: &str, cmd: &[&str]) -> Output {
        let h = host.to_string();
        let mut args = vec!["exec", "-t", path(&self.file), "--host", &h, node, "--"];
        args.extend_from_slice(cmd);
        self.machines.umlvnf(host, &args)
    }

    /// `inspect --format json` of host `host`'s share, run on that machine.
    fn inspect(&self, host: char) -> serde_json::Value {
        let h = host.to_string();
        let args = [
            "inspect",
            "-t",
            path(&self.file),
            "--host",
            &h,
            "--format",
            "json",
        ];
        let out = self.machines.umlvnf(host, &args);
        assert!(out.status.success(), "inspect --host {h}: {}", text(&out));
        serde_json::from_slice(&out.stdout).expect("inspect prints JSON")
    }

    /// What the metrics endpoint of host `host`'s share serves (on the loopback of that
    /// machine, so read from inside its namespace).
    fn metrics(&self, host: char) -> String {
        let status = self.inspect(host);
        let addr: std::net::SocketAddr = status["metrics"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no metrics address in {status}"));
        umlvnf_host::run_in_netns(&self.machines.netns(host), move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).expect("connect to metrics");
            s.write_all(b"GET /metrics HTTP/1.0\r\nHost: m\r\n\r\n")
                .expect("request");
            let mut body = String::new();
            s.read_to_string(&mut body).expect("response");
            body
        })
        .expect("enter the machine's namespace")
    }

    /// The peer state `inspect` shows for the remote end `endpoint` of host `host`'s share.
    fn peer(&self, host: char, endpoint: &str) -> String {
        let status = self.inspect(host);
        let ends = status["remote_ends"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let end = ends
            .iter()
            .find(|e| e["endpoint"] == endpoint)
            .unwrap_or_else(|| panic!("no remote end {endpoint} in {status}"));
        end["peer"].as_str().unwrap_or_default().to_string()
    }

    /// Waits until the peer of `endpoint` on `host` is in `state`.
    fn peer_becomes(&self, host: char, endpoint: &str, state: &str) {
        let mut last = String::new();
        let reached = eventually(Duration::from_secs(20), || {
            last = self.peer(host, endpoint);
            last == state
        });
        assert!(reached, "{endpoint} on {host}: peer {last}, not {state}");
    }

    /// `umlvnf down` on machine `host`, asserted to leave nothing of its share.
    fn down(&self, host: char) {
        let h = host.to_string();
        let out = self
            .machines
            .umlvnf(host, &["down", "-t", path(&self.file), "--host", &h]);
        assert!(out.status.success(), "down --host {h}: {}", text(&out));
        assert_nothing_left(&self.share(host));
    }
}

impl Drop for Shares<'_> {
    fn drop(&mut self) {
        for &h in &self.machines.names {
            let _ = umlvnf(&["down", "--lab", &self.share(h)]);
        }
    }
}

fn pings(out: &Output) -> bool {
    out.status.success()
}

/// Two routers on two machines, one cross-host link: each reaches the other.
#[test]
fn root_lab_over_two_machines_forwards_across_them() {
    require_root();
    let machines = Machines::new('t', &['a', 'b']);
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = lab_name("mt");
    let file = chain(dir.path(), &lab, &['a', 'b'], &['a', 'b']);
    let shares = Shares::deploy(&machines, file, lab);
    let out = shares.exec('a', "r1", &["ping", "-c", "3", "-W", "2", "10.214.1.2"]);
    assert!(pings(&out), "r1 (a) to r2 (b): {}", text(&out));
    let out = shares.exec('b', "r2", &["ping", "-c", "1", "-W", "2", "10.214.1.1"]);
    assert!(pings(&out), "r2 (b) to r1 (a): {}", text(&out));
    // Each machine's metrics name the whole lab and the machine.
    for (h, node) in [('a', "r1"), ('b', "r2")] {
        let body = shares.metrics(h);
        let series = format!(
            "umlvnf_guest_up{{lab=\"{}\",host=\"{h}\",node=\"{node}\"}} 1",
            shares.lab
        );
        assert!(body.contains(&series), "no {series} in:\n{body}");
    }
    shares.down('a');
    shares.down('b');
}

/// Three routers on three machines, routed end to end through the middle one; the middle
/// machine's runtime killed and its share taken down leaves nothing there while the others stay
/// up, and deploying it again restores the path.
#[test]
fn root_lab_over_three_machines_survives_one_machine_redeployed() {
    require_root();
    let machines = Machines::new('r', &['a', 'b', 'c']);
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = lab_name("mr");
    let file = chain(dir.path(), &lab, &['a', 'b', 'c'], &['a', 'b', 'c']);
    let shares = Shares::deploy(&machines, file, lab);
    let end_to_end = || shares.exec('a', "r1", &["ping", "-c", "2", "-W", "2", "10.214.2.2"]);
    let out = end_to_end();
    assert!(
        pings(&out),
        "r1 (a) to r3 (c) through r2 (b): {}",
        text(&out)
    );
    let ttl = String::from_utf8_lossy(&out.stdout).contains("ttl=63");
    assert!(ttl, "one router on the way: {}", text(&out));
    // The keepalives keep every cross-host link up in `inspect`, idle or not.
    shares.peer_becomes('a', "r1:eth1", "up");
    shares.peer_becomes('c', "r3:eth0", "up");

    // Machine b's runtime dies; `down` there removes what it left.
    let b = umlvnf::state::LabState::load(&umlvnf::state::labs_dir().join(shares.share('b')))
        .expect("b's share has a state");
    let pid = b.supervisor.expect("b's runtime is recorded").pid;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill b's runtime");
    shares.down('b');
    let out = end_to_end();
    assert!(!pings(&out), "r1 reached r3 with b down: {}", text(&out));
    for (h, node, peer) in [('a', "r1", "10.214.1.1"), ('c', "r3", "10.214.2.2")] {
        let out = shares.exec(h, node, &["ping", "-c", "1", "-W", "2", peer]);
        assert!(pings(&out), "{node} on {h} still runs: {}", text(&out));
    }
    shares.peer_becomes('a', "r1:eth1", "down");
    shares.peer_becomes('c', "r3:eth0", "down");

    machines.up('b', &shares.file);
    assert!(
        eventually(Duration::from_secs(20), || pings(&end_to_end())),
        "r1 reaches r3 again once b is deployed again"
    );
    shares.peer_becomes('a', "r1:eth1", "up");
    for h in ['a', 'b', 'c'] {
        shares.down(h);
    }
}

/// The FRR OSPF example spread over three machines, one router on each (h1 with r1, h2 with
/// r3): every transfer link crosses machines, OSPF converges over the tunnels and h1 reaches
/// h2 with no static route.
#[test]
fn root_ospf_converges_across_three_machines() {
    require_root();
    let machines = Machines::new('o', &['a', 'b', 'c']);
    let lab = lab_name("mo");
    let ex = example("ospf", &lab, |t| {
        let mut hosts = String::from("hosts:\n");
        for (i, m) in ['a', 'b', 'c'].iter().enumerate() {
            hosts += &format!("  {m}: {{address: {}}}\n", Machines::address(i));
        }
        let mut t = t.replacen("\nnodes:\n", &format!("\n{hosts}\nnodes:\n"), 1);
        for (node, host) in [
            ("h1", 'a'),
            ("r1", 'a'),
            ("r2", 'b'),
            ("r3", 'c'),
            ("h2", 'c'),
        ] {
            let kind = if node.starts_with('h') {
                "kind: host"
            } else {
                "interfaces:"
            };
            let from = format!("\n  {node}:\n    {kind}");
            assert!(t.contains(&from), "the ospf example has {node}");
            t = t.replacen(
                &from,
                &format!("\n  {node}:\n    host: {host}\n    {kind}"),
                1,
            );
        }
        t
    });
    let shares = Shares::deploy(&machines, ex.file.clone(), lab);
    let full = |o: &Output| String::from_utf8_lossy(&o.stdout).matches("Full").count();
    let converged = eventually(Duration::from_secs(90), || {
        full(&shares.exec('a', "r1", &["vtysh", "-c", "show ip ospf neighbor"])) == 2
    });
    let neighbors = shares.exec('a', "r1", &["vtysh", "-c", "show ip ospf neighbor"]);
    assert!(
        converged,
        "r1 (machine a) has no two Full neighbours on b and c: {}",
        text(&neighbors)
    );
    let reached = eventually(Duration::from_secs(60), || {
        pings(&shares.exec('a', "h1", &["ping", "-c", "1", "-W", "1", "10.2.0.1"]))
    });
    let routes = shares.exec('c', "r3", &["ip", "route"]);
    assert!(
        reached,
        "h1 (machine a) cannot reach h2 (machine c) over OSPF routes; r3: {}",
        text(&routes)
    );
    for h in ['a', 'b', 'c'] {
        shares.down(h);
    }
}

/// Host nodes on one machine routed through a guest on another: each cross-host link joins a
/// host node (its tunnel spoken by umlvnf's datapath) and a guest (speaking it itself). Both
/// sides see their peer's keepalives.
#[test]
fn root_host_nodes_reach_each_other_through_a_guest_on_another_machine() {
    require_root();
    let machines = Machines::new('h', &['a', 'b']);
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = lab_name("mn");
    let file = dir.path().join(format!("{lab}.yaml"));
    let mut t = format!("name: {lab}\nhosts:\n");
    for (i, m) in ['a', 'b'].iter().enumerate() {
        t += &format!("  {m}: {{address: {}}}\n", Machines::address(i));
    }
    t += "nodes:\n";
    for (h, side) in [("h1", 1), ("h2", 2)] {
        t += &format!(
            "  {h}:\n    kind: host\n    host: a\n    interfaces: {{eth0: {{ipv4: [10.215.{side}.1/24]}}}}\n    routes: [default via 10.215.{side}.254]\n"
        );
    }
    t += "  r1:\n    host: b\n    memory: 64M\n    interfaces: {eth0: {ipv4: [10.215.1.254/24]}, eth1: {ipv4: [10.215.2.254/24]}}\n    sysctls: {net.ipv4.ip_forward: 1}\n";
    t += "links:\n  - endpoints: [h1:eth0, r1:eth0]\n  - endpoints: [r1:eth1, h2:eth0]\n";
    std::fs::write(&file, t).expect("topology");
    let shares = Shares::deploy(&machines, file, lab);
    let out = shares.exec('a', "h1", &["ping", "-c", "3", "-W", "2", "10.215.2.1"]);
    assert!(pings(&out), "h1 to h2 through r1 on b: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ttl=63"),
        "one router on the way: {}",
        text(&out)
    );
    for (h, end) in [
        ('a', "h1:eth0"),
        ('a', "h2:eth0"),
        ('b', "r1:eth0"),
        ('b', "r1:eth1"),
    ] {
        shares.peer_becomes(h, end, "up");
    }
    // Idle for longer than a peer may be silent: only keepalives keep the links up, the
    // runtime's for the host nodes and the agent's for the guest.
    std::thread::sleep(Duration::from_secs(9));
    for (h, end) in [('a', "h1:eth0"), ('b', "r1:eth0")] {
        assert_eq!(shares.peer(h, end), "up", "{end} on {h} after 9 s idle");
    }
    shares.down('b');
    shares.peer_becomes('a', "h1:eth0", "down");
    shares.down('a');
}
