//! Guests joined directly by GRE and L2TPv3 tunnels (UML to UML on loopback addresses the plan
//! allocates), booted for real through the `umlvnf` binary: every variant pings, and tcpdump on
//! the loopback sees the keys, sessions and cookies (including values above 0x7fffffff, which
//! the plan renders as negative decimals) on the wire.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

/// A tcpdump on `lo` that exits after the first packet matching its filter; killed on drop.
struct Sniffer {
    what: &'static str,
    child: Child,
}

impl Sniffer {
    fn start(what: &'static str, filter: &str) -> Sniffer {
        let child = Command::new("tcpdump")
            .args([
                "-i",
                "lo",
                "-nn",
                "-p",
                "-c",
                "1",
                "--immediate-mode",
                filter,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump runs (install the tcpdump package)");
        Sniffer { what, child }
    }

    /// True if a matching packet was seen within `timeout`.
    fn saw_packet(&mut self, timeout: Duration) -> bool {
        let seen = eventually(timeout, || matches!(self.child.try_wait(), Ok(Some(_))));
        seen && self
            .child
            .try_wait()
            .ok()
            .flatten()
            .is_some_and(|s| s.success())
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn topology(lab: &str) -> String {
    format!(
        r#"name: {lab}
nodes:
  r1:
    memory: 64M
    interfaces:
      eth0: {{ipv4: [10.71.0.1/30]}}
      eth1: {{ipv4: [10.71.1.1/30]}}
      eth2: {{ipv4: [10.71.2.1/30]}}
      eth3: {{ipv4: [10.71.3.1/30]}}
  r2:
    memory: 64M
    interfaces:
      eth0: {{ipv4: [10.71.0.2/30]}}
      eth1: {{ipv4: [10.71.1.2/30]}}
      eth2: {{ipv4: [10.71.2.2/30]}}
      eth3: {{ipv4: [10.71.3.2/30]}}
links:
  - endpoints: [r1:eth0, r2:eth0]
    transport: gre
    gre: {{rx_key: 0xfffffff0, tx_key: 0x80000000, sequence: true}}
  - endpoints: [r1:eth1, r2:eth1]
    transport: gre
  - endpoints: [r1:eth2, r2:eth2]
    transport: l2tpv3
    l2tpv3: {{session: 0xfffffff0, cookie: 0xdeadbeef}}
  - endpoints: [r1:eth3, r2:eth3]
    transport: l2tpv3
    l2tpv3: {{mode: ip, rx_session: 0xfffffff0, tx_session: 0x80000000, cookie: 0x0123456789abcdef, cookie64: true, counter: true}}
"#
    )
}

/// GRE with 32-bit keys above 0x7fffffff and sequence numbers, GRE without key, L2TPv3 over
/// UDP with a cookie and session 0xfffffff0, L2TPv3 over IP with 64-bit cookies, a counter and
/// sessions 0xfffffff0 / 0x80000000: each pings both ways, and the loopback carries exactly
/// the header values the topology names, in both directions.
#[test]
fn root_guests_ping_over_gre_and_l2tpv3() {
    require_root();
    let lab = lab_name("tun");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tunnels.yaml");
    std::fs::write(&file, topology(&lab)).expect("write topology");
    let ex = Example {
        dir,
        file,
        lab: lab.clone(),
    };
    let deployed = Deployed::up(&ex);

    // Header values on the wire (offsets from the IPv4 header, 20 bytes long on lo).
    let mut sniffers = [
        // GRE flags key+seq (0x3000), proto 0x6558, then the key each side sends.
        Sniffer::start("gre r1->r2 key 0x80000000", "ip proto 47 and ip[20:4] = 0x30006558 and ip[24:4] = 0x80000000"),
        Sniffer::start("gre r2->r1 key 0xfffffff0", "ip proto 47 and ip[20:4] = 0x30006558 and ip[24:4] = 0xfffffff0"),
        // GRE without key or sequence: flags 0.
        Sniffer::start("gre without key", "ip proto 47 and ip[20:4] = 0x00006558"),
        // L2TPv3/UDP: data header 0x00030000, session, 32-bit cookie.
        Sniffer::start("l2tpv3/udp session 0xfffffff0 cookie 0xdeadbeef", "udp and udp[8:4] = 0x00030000 and udp[12:4] = 0xfffffff0 and udp[16:4] = 0xdeadbeef"),
        // L2TPv3/IP: session, 64-bit cookie.
        Sniffer::start("l2tpv3/ip r1->r2 session 0x80000000", "ip proto 115 and ip[20:4] = 0x80000000 and ip[24:4] = 0x01234567 and ip[28:4] = 0x89abcdef"),
        Sniffer::start("l2tpv3/ip r2->r1 session 0xfffffff0", "ip proto 115 and ip[20:4] = 0xfffffff0 and ip[24:4] = 0x01234567 and ip[28:4] = 0x89abcdef"),
    ];
    std::thread::sleep(Duration::from_millis(1500));

    let mut failures = Vec::new();
    for (variant, from, to) in [
        ("gre with keys", "r1", "10.71.0.2"),
        ("gre with keys", "r2", "10.71.0.1"),
        ("gre without key", "r1", "10.71.1.2"),
        ("l2tpv3 udp", "r1", "10.71.2.2"),
        ("l2tpv3 udp", "r2", "10.71.2.1"),
        ("l2tpv3 ip", "r1", "10.71.3.2"),
        ("l2tpv3 ip", "r2", "10.71.3.1"),
    ] {
        let ping = deployed.exec(from, &["ping", "-c", "3", "-W", "2", to]);
        if !ping.status.success() {
            failures.push(format!(
                "{variant}: {from} cannot ping {to}: {}",
                text(&ping)
            ));
        }
    }
    for s in sniffers.iter_mut() {
        if !s.saw_packet(Duration::from_secs(5)) {
            failures.push(format!("tcpdump on lo saw no {}", s.what));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The guests keep only CAP_NET_RAW (GRE and L2TPv3/IP need it).
    let topo = umlvnf_topology::load(&ex.file).expect("loads");
    let ctx = umlvnf::images::planned_context(
        &topo,
        "/x".into(),
        [("minimal".to_string(), "/x/m.img".into())].into(),
        true,
    )
    .expect("context");
    let plan = umlvnf::plan::plan(&topo, &ctx).expect("plans");
    for g in &plan.guests {
        assert_eq!(
            g.capabilities,
            vec!["CAP_NET_RAW".to_string()],
            "{}",
            g.node
        );
    }
    deployed.down();
}

/// Two labs, as on two machines, joined only by a tunnel to a remote address: each guest's
/// link names the other lab's end by address and port (L2TPv3 over UDP, and GRE).
#[test]
fn root_guests_in_two_labs_reach_each_other_through_remote_tunnels() {
    require_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, me: u8, peer: u8, addr: &str, gre_addr: &str| {
        let text = format!(
            "name: {name}\nnodes:\n  r{me}:\n    memory: 64M\n    interfaces:\n      eth0: {{ipv4: [{addr}/24]}}\n      eth1: {{ipv4: [{gre_addr}/24]}}\nlinks:\n  - endpoints: [r{me}:eth0]\n    transport: l2tpv3\n    l2tpv3: {{session: 0x90000001, cookie: 0x1234}}\n    remote: {{address: 127.0.0.{peer}, port: 17{peer}, local: 127.0.0.{me}, local_port: 17{me}}}\n  - endpoints: [r{me}:eth1]\n    transport: gre\n    gre: {{key: 42}}\n    remote: {{address: 127.0.1.{peer}, local: 127.0.1.{me}}}\n"
        );
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, text).expect("topology");
        path
    };
    let a_name = lab_name("ra");
    let b_name = lab_name("rb");
    let a = write(&a_name, 31, 32, "10.31.0.1", "10.32.0.1");
    let b = write(&b_name, 32, 31, "10.31.0.2", "10.32.0.2");
    let la = Deployed::up(&Example::existing(&a, &a_name));
    let lb = Deployed::up(&Example::existing(&b, &b_name));
    let over_l2tp = la.exec("r31", &["ping", "-c", "3", "-W", "2", "10.31.0.2"]);
    assert!(
        over_l2tp.status.success(),
        "L2TPv3 to a remote end: {}",
        text(&over_l2tp)
    );
    let over_gre = lb.exec("r32", &["ping", "-c", "3", "-W", "2", "10.32.0.1"]);
    assert!(
        over_gre.status.success(),
        "GRE to a remote end: {}",
        text(&over_gre)
    );
    la.down();
    lb.down();
}
