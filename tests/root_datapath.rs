//! umlvnf's datapath in booted labs: unprivileged guests on wires, capture, impairment, BPF
//! filters, link state, counters that conserve, and tunnels that umlvnf terminates for test hosts.

mod common;

use std::time::Duration;

use common::*;

fn out_str(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn pid_of(lab: &Deployed, node: &str) -> i32 {
    lab.inspect()["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["name"] == node)
        .and_then(|n| n["pid"].as_i64())
        .expect("pid") as i32
}

fn links(lab: &Deployed) -> serde_json::Value {
    let out = umlvnf(&["link", "show", "--lab", &lab.lab, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The direction `from` → of wire `name`.
fn direction(links: &serde_json::Value, name: &str, from: &str) -> serde_json::Value {
    links
        .as_array()
        .expect("wires")
        .iter()
        .find(|w| w["name"] == name)
        .and_then(|w| w["directions"].as_array())
        .and_then(|d| d.iter().find(|d| d["from"] == from).cloned())
        .unwrap_or_else(|| panic!("no {name} from {from} in {links}"))
}

fn drops(d: &serde_json::Value, reason: &str) -> u64 {
    d["drops"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p[0] == reason)
        .and_then(|p| p[1].as_u64())
        .unwrap_or(0)
}

fn conserved(d: &serde_json::Value) -> bool {
    let total_drops: u64 = d["drops"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p[1].as_u64())
        .sum();
    d["received"].as_u64()
        == Some(d["sent"].as_u64().unwrap_or(0) + total_drops + d["queued"].as_u64().unwrap_or(0))
}

#[test]
fn root_datapath_wires_filters_impairments_and_terminated_tunnels() {
    require_root();
    let ex = example("datapath", &lab_name("dp"), |t| t);
    let lab = Deployed::up(&ex);

    // r2 has only wires: it runs with no capability at all, and still reaches r1.
    let r2 = pid_of(&lab, "r2");
    let status = std::fs::read_to_string(format!("/proc/{r2}/status")).expect("status");
    assert!(status.contains("CapEff:\t0000000000000000"), "{status}");
    let ping = lab.exec("r2", &["ping", "-c", "3", "-W", "2", "10.0.12.1"]);
    assert!(ping.status.success(), "ping over a wire: {}", text(&ping));

    // Test hosts reach the guest over GRE and L2TPv3 tunnels that umlvnf terminates.
    for (host, addr) in [("h1", "10.1.0.254"), ("h2", "10.2.0.254")] {
        let ping = lab.exec(host, &["ping", "-c", "2", "-W", "2", addr]);
        assert!(
            ping.status.success(),
            "{host} over a terminated tunnel: {}",
            text(&ping)
        );
    }

    // TCP both ways through the GRE tunnel umlvnf terminates: checksums and segment sizes are
    // right (offloads are off on the host side of the wire).
    let dir = tempfile::tempdir().expect("tempdir");
    let blob: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("blob"), &blob).expect("blob");
    let cp = umlvnf(&[
        "cp",
        "--lab",
        &lab.lab,
        dir.path().join("blob").to_str().expect("path"),
        "r1:/tmp/www/blob",
    ]);
    assert!(cp.status.success(), "{}", text(&cp));
    assert!(lab
        .exec("r1", &["busybox", "httpd", "-p", "8080", "-h", "/tmp/www"])
        .status
        .success());
    let get = lab.exec(
        "h1",
        &[
            "sh",
            "-c",
            "busybox wget -q -O - http://10.1.0.254:8080/blob | md5sum",
        ],
    );
    let want = lab.exec("r1", &["md5sum", "/tmp/www/blob"]);
    let want = out_str(&want);
    let want = want.split_whitespace().next().expect("md5");
    assert!(
        out_str(&get).starts_with(want),
        "download over GRE: {} vs {want}",
        text(&get)
    );
    let serve = format!("busybox httpd -p 8081 -h {}", dir.path().display());
    assert!(lab.exec("h1", &["sh", "-c", &serve]).status.success());
    let up = lab.exec(
        "r1",
        &[
            "sh",
            "-c",
            "wget -q -O - http://10.1.0.1:8081/blob | md5sum",
        ],
    );
    assert!(
        out_str(&up).starts_with(want),
        "upload direction over GRE: {}",
        text(&up)
    );

    // A capture during a ping reads back with tcpdump and shows the ICMP.
    let pcap = dir.path().join("link0.pcap");
    let capture = std::process::Command::new(bin())
        .args([
            "capture",
            "--lab",
            &lab.lab,
            "link0",
            "-w",
            pcap.to_str().expect("path"),
            "--duration",
            "4",
        ])
        .spawn()
        .expect("capture");
    std::thread::sleep(Duration::from_millis(700));
    let ping = lab.exec("r1", &["ping", "-c", "2", "10.0.12.2"]);
    assert!(ping.status.success(), "{}", text(&ping));
    let mut capture = capture;
    assert!(capture.wait().expect("capture ends").success());
    let read = std::process::Command::new("tcpdump")
        .args(["-nn", "-r", pcap.to_str().expect("path")])
        .output()
        .expect("tcpdump");
    let shown = out_str(&read);
    assert!(
        shown.contains("ICMP echo request") && shown.contains("ICMP echo reply"),
        "{}",
        text(&read)
    );

    // The filter `not icmp` on r1:eth1 stops ping there, and its drops are counted.
    let ping = lab.exec("r1", &["ping", "-c", "3", "-W", "1", "10.0.21.2"]);
    assert!(
        !ping.status.success(),
        "ICMP must not pass the filter: {}",
        text(&ping)
    );
    let l = links(&lab);
    assert!(
        drops(&direction(&l, "link1", "r2:eth1"), "filter") >= 3,
        "{l}"
    );

    // 50 % loss on what r1 sends into link0: about half of 1000 pings are lost, and the
    // impairment drop counter agrees.
    let set = umlvnf(&[
        "link", "set", "--lab", &lab.lab, "link0", "--from", "r1:eth0", "--loss", "50%",
    ]);
    assert!(set.status.success(), "{}", text(&set));
    let before = drops(&direction(&links(&lab), "link0", "r1:eth0"), "impairment");
    let ping = lab.exec(
        "r1",
        &["ping", "-c", "1000", "-i", "0.005", "-W", "1", "10.0.12.2"],
    );
    let summary = out_str(&ping);
    let received: u64 = summary
        .split(" packets received")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("ping summary: {summary}"));
    let lost = 1000 - received;
    assert!(
        (400..=600).contains(&lost),
        "lost {lost} of 1000 with 50 % loss (tolerance 40-60 %)"
    );
    std::thread::sleep(Duration::from_millis(500));
    let l = links(&lab);
    let counted = drops(&direction(&l, "link0", "r1:eth0"), "impairment") - before;
    assert!(
        counted.abs_diff(lost) <= 10,
        "counter {counted} vs lost {lost}: {l}"
    );
    // Counters conserve: received = sent + drops + queued, each direction of each wire.
    for w in l.as_array().expect("wires") {
        for d in w["directions"].as_array().expect("directions") {
            assert!(conserved(d), "not conserved: {d}");
        }
    }

    // Down, then up again.
    let clear = umlvnf(&[
        "link", "set", "--lab", &lab.lab, "link0", "--clear", "--down",
    ]);
    assert!(clear.status.success(), "{}", text(&clear));
    let ping = lab.exec("r1", &["ping", "-c", "2", "-W", "1", "10.0.12.2"]);
    assert!(!ping.status.success());
    assert!(drops(&direction(&links(&lab), "link0", "r1:eth0"), "link_down") >= 2);
    let up = umlvnf(&["link", "set", "--lab", &lab.lab, "link0", "--up"]);
    assert!(up.status.success());
    let ping = lab.exec("r1", &["ping", "-c", "2", "-W", "2", "10.0.12.2"]);
    assert!(ping.status.success(), "after link up: {}", text(&ping));

    lab.down();
}

/// A `filter:` on a UML raw end becomes the `bpffile=` program UML loads: ICMP into r1's eth0
/// stops while the other side still answers; BPF loading from inside stays off.
#[test]
fn root_uml_raw_end_loads_its_bpf_filter() {
    require_root();
    let ex = example("quickstart", &lab_name("bf"), |t| {
        t.replace(
            "  - endpoints: [h1:eth0, r1:eth0]",
            "  - endpoints: [h1:eth0, r1:eth0]\n    filter: {r1:eth0: \"not icmp\"}",
        )
    });
    let lab = Deployed::up(&ex);
    let blocked = lab.exec("h1", &["ping", "-c", "2", "-W", "1", "10.1.0.254"]);
    assert!(
        !blocked.status.success(),
        "ICMP must not reach r1:eth0: {}",
        text(&blocked)
    );
    let open = lab.exec("h2", &["ping", "-c", "2", "-W", "2", "10.2.0.254"]);
    assert!(open.status.success(), "{}", text(&open));
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid_of(&lab, "r1"))).expect("cmdline");
    let cmdline = String::from_utf8_lossy(&cmdline);
    assert!(cmdline.contains("bpffile="), "{cmdline}");
    assert!(
        !cmdline.contains("bpfflash"),
        "BPF loading from the guest must stay off: {cmdline}"
    );
    lab.down();
}

/// A wire between two host nodes keeps the virtio-net header on both veth ends: TCP's TSO
/// super-frames (far above the 1500-byte MTU) cross whole, and the data arrives intact.
#[test]
fn root_wire_between_offloading_ends_carries_gso_frames_whole() {
    require_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let name = lab_name("gs");
    let file = dir.path().join("gso.yaml");
    std::fs::write(
        &file,
        format!(
            "name: {name}\nnodes:\n  h1: {{kind: host, interfaces: {{eth0: {{ipv4: [10.5.0.1/24]}}}}}}\n  h2: {{kind: host, interfaces: {{eth0: {{ipv4: [10.5.0.2/24]}}}}}}\nlinks:\n  - endpoints: [h1:eth0, h2:eth0]\n    transport: wire\n"
        ),
    )
    .expect("topology");
    let lab = Deployed::up(&Example::existing(&file, &name));
    let d = download_in_gso_frames(&lab, dir.path(), 4_000_000, "10.5.0.2");
    assert_eq!(drops(&d, "truncated"), 0, "{d}");
    lab.down();
}

/// `wire: {host_end: tap}`: host node interfaces that are taps the datapath holds. Between two
/// host nodes both taps offload (TCP crosses in GSO frames, whole); a host node reaches an
/// unprivileged guest through one.
#[test]
fn root_wire_with_tap_host_ends() {
    require_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let name = lab_name("tp");
    let file = dir.path().join("tap.yaml");
    std::fs::write(
        &file,
        format!(
            "name: {name}\nnodes:\n  h1: {{kind: host, interfaces: {{eth0: {{ipv4: [10.6.0.1/24]}}}}}}\n  h2: {{kind: host, interfaces: {{eth0: {{ipv4: [10.6.0.2/24]}}}}}}\n  h3: {{kind: host, interfaces: {{eth0: {{ipv4: [10.7.0.1/24]}}}}}}\n  r1: {{interfaces: {{eth0: {{ipv4: [10.7.0.254/24]}}}}}}\nlinks:\n  - endpoints: [h1:eth0, h2:eth0]\n    transport: wire\n    wire: {{host_end: tap}}\n  - endpoints: [h3:eth0, r1:eth0]\n    transport: wire\n    wire: {{host_end: tap}}\n"
        ),
    )
    .expect("topology");
    let lab = Deployed::up(&Example::existing(&file, &name));
    // h1's interface is a tap (it has tun flags), not a veth.
    let flags = lab.exec("h1", &["cat", "/sys/class/net/eth0/tun_flags"]);
    assert!(
        flags.status.success(),
        "h1:eth0 is not a tap: {}",
        text(&flags)
    );
    let ping = lab.exec("h3", &["ping", "-c", "2", "-W", "2", "10.7.0.254"]);
    assert!(
        ping.status.success(),
        "h3 -> r1 over a tap end: {}",
        text(&ping)
    );
    let r1 = pid_of(&lab, "r1");
    let status = std::fs::read_to_string(format!("/proc/{r1}/status")).expect("status");
    assert!(status.contains("CapEff:\t0000000000000000"), "{status}");
    let d = download_in_gso_frames(&lab, dir.path(), 2_000_000, "10.6.0.2");
    assert!(conserved(&d), "{d}");
    lab.down();
}

/// h1 downloads `size` bytes over HTTP from h2 (`h2_ip`) across wire `link0`; checks the
/// md5 and that the frames h2 sent crossed whole (GSO, more than 3000 bytes on average), and
/// returns that direction's counters.
fn download_in_gso_frames(
    lab: &Deployed,
    dir: &std::path::Path,
    size: u32,
    h2_ip: &str,
) -> serde_json::Value {
    let www = dir.join("www");
    std::fs::create_dir(&www).expect("www");
    let blob: Vec<u8> = (0..size)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(www.join("blob"), &blob).expect("blob");
    let serve = format!("busybox httpd -p 8080 -h {}", www.display());
    assert!(lab.exec("h2", &["sh", "-c", &serve]).status.success());
    let got = lab.exec(
        "h1",
        &[
            "sh",
            "-c",
            &format!("busybox wget -q -O - http://{h2_ip}:8080/blob | md5sum"),
        ],
    );
    let want = std::process::Command::new("md5sum")
        .arg(www.join("blob"))
        .output()
        .expect("md5sum");
    let want = out_str(&want);
    assert!(
        out_str(&got).starts_with(want.split_whitespace().next().expect("md5")),
        "download through the wire: {}",
        text(&got)
    );
    let l = links(lab);
    let d = direction(&l, "link0", "h2:eth0");
    let frames = d["received"].as_u64().expect("received");
    let bytes = d["bytes"].as_u64().expect("bytes");
    assert!(
        frames > 0 && bytes / frames > 3000,
        "average frame {} bytes: GSO frames were not carried whole: {l}",
        bytes / frames.max(1)
    );
    d
}

#[test]
fn root_capture_and_link_set_refuse_unknown_links() {
    require_root();
    // Two test hosts on a wire: a lab with a datapath and no guest to boot.
    let dir = tempfile::tempdir().expect("tempdir");
    let lab_name = lab_name("unk");
    let file = dir.path().join("hosts.yaml");
    std::fs::write(
        &file,
        format!(
            "name: {lab_name}\nnodes:\n  a:\n    kind: host\n    interfaces:\n      eth0: {{}}\n  \
             b:\n    kind: host\n    interfaces:\n      eth0: {{}}\nlinks:\n  - endpoints: \
             [a:eth0, b:eth0]\n    transport: wire\n"
        ),
    )
    .expect("topology");
    let lab = Deployed::up(&Example::existing(&file, &lab_name));
    let missing = dir.path().join("nope.pcap");
    let refused = umlvnf(&[
        "capture",
        "--lab",
        &lab.lab,
        "nope",
        "-w",
        missing.to_str().expect("path"),
        "--duration",
        "1",
    ]);
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        !refused.status.success()
            && said.contains("`nope` is not a link of lab")
            && said.contains("link0 (a:eth0 <-> b:eth0)"),
        "capture of an unknown link: {}",
        text(&refused)
    );
    assert!(
        !missing.exists(),
        "a capture of an unknown link wrote a file"
    );
    let refused = umlvnf(&["link", "set", "--lab", &lab.lab, "nope", "--loss", "1%"]);
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        !refused.status.success() && said.contains("`nope`") && said.contains("link0 (a:eth0"),
        "link set of an unknown link: {}",
        text(&refused)
    );
    // Known links, by name or by endpoint, still work.
    let pcap = dir.path().join("link0.pcap");
    let ok = umlvnf(&[
        "capture",
        "--lab",
        &lab.lab,
        "b:eth0",
        "-w",
        pcap.to_str().expect("path"),
        "--duration",
        "0.5",
    ]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(std::fs::metadata(&pcap).expect("pcap written").len() >= 24);
    let ok = umlvnf(&["link", "set", "--lab", &lab.lab, "link0", "--loss", "1%"]);
    assert!(ok.status.success(), "{}", text(&ok));
    lab.down();
}
