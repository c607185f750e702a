//! The seed corpus: the project's example topologies and valid messages made by the crates'
//! own encoders. `umlvnf-fuzz --write-corpus` writes it under `corpus/`, where it is checked
//! in (next to inputs that once found a crash).

use std::path::Path;

use umlvnf::control::Request as ControlRequest;
use umlvnf_agent::protocol::{encode_line, Event, Op, Reply, Request};
use umlvnf_agent::{base64, config_drive, GuestConfig, InterfaceConfig, RouteConfig};
use umlvnf_packet::bpf;
use umlvnf_packet::gre::GreRepr;
use umlvnf_packet::l2tpv3::{Cookie, L2tpv3Repr};
use umlvnf_packet::vnet::{self, VnetHdr};

use crate::targets::l2tpv3::config;

/// A frame to follow the headers: Ethernet, IPv4, ICMP echo request.
const FRAME: &[u8] = &[
    0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00, 0x45, 0, 0, 28, 0, 1, 0x40, 0, 64,
    1, 0, 0, 10, 9, 0, 1, 10, 9, 0, 2, 8, 0, 0xf7, 0xff, 0, 0, 0, 0,
];

/// An IPv4 header of `ihl` words (options zero) with protocol `proto` in front of `payload`;
/// the total length is 0 when `zero_total`.
fn ipv4(ihl: u8, proto: u8, payload: &[u8], zero_total: bool) -> Vec<u8> {
    let hlen = usize::from(ihl) * 4;
    let total = if zero_total {
        0
    } else {
        (hlen + payload.len()) as u16
    };
    let mut h = vec![0x40 | ihl, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    h.resize(hlen, 0);
    h.extend_from_slice(payload);
    h
}

fn gre(key: Option<u32>, seq: Option<u32>) -> Vec<u8> {
    let r = GreRepr { key, seq };
    let mut out = vec![0u8; r.header_len()];
    let _ = r.emit(&mut out);
    out.extend_from_slice(FRAME);
    out
}

/// Seed corpus of `target`: (file name, content).
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, data: Vec<u8>| out.push((name.to_string(), data));
    match target {
        "topology" => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../topologies");
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            files.sort();
            for f in files {
                if f.extension().is_some_and(|e| e == "yaml") {
                    if let (Some(name), Ok(text)) = (f.file_name(), std::fs::read(&f)) {
                        add(&name.to_string_lossy(), text);
                    }
                }
            }
        }
        "gre" => {
            add("plain.bin", gre(None, None));
            add("key.bin", gre(Some(7), None));
            add("seq.bin", gre(None, Some(1)));
            add("key-seq.bin", gre(Some(0x8000_0001), Some(42)));
            add("ipv4-key.bin", ipv4(5, 47, &gre(Some(7), None), false));
        }
        "l2tpv3" => {
            for b in 0u8..12 {
                let cfg = config(b);
                let cookie = match cfg.cookie_len {
                    4 => Cookie::C32(0xdead_beef),
                    8 => Cookie::C64(0x0102_0304_0506_0708),
                    _ => Cookie::None,
                };
                let r = L2tpv3Repr {
                    session: 0x8000_0001,
                    cookie,
                    counter: cfg.counter.then_some(5),
                };
                let mut hdr = vec![0u8; L2tpv3Repr::header_len(&cfg)];
                if r.emit(&cfg, &mut hdr).is_ok() {
                    let mut data = vec![b];
                    data.extend_from_slice(&hdr);
                    data.extend_from_slice(FRAME);
                    add(&format!("config-{b:02x}.bin"), data);
                }
            }
        }
        "vnet" => {
            let hdrs = [
                ("plain", VnetHdr::default()),
                (
                    "csum",
                    VnetHdr {
                        flags: vnet::F_NEEDS_CSUM,
                        csum_start: 34,
                        csum_offset: 6,
                        ..VnetHdr::default()
                    },
                ),
                (
                    "gso-tcpv4",
                    VnetHdr {
                        flags: vnet::F_NEEDS_CSUM,
                        gso_type: vnet::GSO_TCPV4 | vnet::GSO_ECN,
                        hdr_len: 66,
                        gso_size: 1448,
                        csum_start: 34,
                        csum_offset: 16,
                    },
                ),
            ];
            for (name, h) in hdrs {
                let mut data = vec![0u8; vnet::LEN];
                if h.emit(&mut data).is_ok() {
                    data.extend_from_slice(FRAME);
                    add(&format!("{name}.bin"), data);
                }
            }
        }
        "ipv4" => {
            add("gre.bin", ipv4(5, 47, &gre(Some(7), None), false));
            add("options.bin", ipv4(6, 115, FRAME, false));
            add("zero-total.bin", ipv4(5, 115, FRAME, true));
            let mut padded = ipv4(5, 47, FRAME, false);
            padded.extend_from_slice(&[0; 6]);
            add("trailer.bin", padded);
        }
        "pcap" => {
            let frames = |snap: u32, list: &[(u8, &[u8])]| {
                let mut d = snap.to_le_bytes().to_vec();
                for (sel, f) in list {
                    d.push(*sel);
                    d.extend_from_slice(&(f.len() as u16).to_le_bytes());
                    d.extend_from_slice(f);
                }
                d
            };
            add("one.bin", frames(0, &[(4, FRAME)]));
            add(
                "snap-20.bin",
                frames(20, &[(0, FRAME), (9, FRAME), (2, &[])]),
            );
            add(
                "times.bin",
                frames(65535, &[(1, FRAME), (2, FRAME), (3, FRAME)]),
            );
        }
        "bpf" => {
            add("accept-all.bin", bpf::to_blob(&bpf::accept_all()));
            add(
                "drop-outgoing.bin",
                bpf::to_blob(&bpf::drop_outgoing(&bpf::accept_all())),
            );
            for (name, expr) in [
                ("icmp", "icmp"),
                ("not-icmp", "not icmp"),
                ("udp-port-53", "udp port 53"),
                ("tcp-syn", "tcp[tcpflags] & tcp-syn != 0"),
                ("vlan-arp", "vlan and arp"),
                ("net", "src net 10.0.0.0/8 and greater 100"),
            ] {
                if let Ok(prog) = bpf::compile(expr) {
                    add(&format!("{name}.bin"), bpf::to_blob(&prog));
                }
            }
        }
        "agent" => {
            let requests = [
                ("ping", Op::Ping),
                (
                    "exec",
                    Op::Exec {
                        argv: vec!["ip".into(), "-br".into(), "a".into()],
                        stdin: Some(b"input".to_vec()),
                        timeout_ms: Some(5000),
                    },
                ),
                (
                    "put",
                    Op::Put {
                        path: "/etc/motd".into(),
                        mode: 0o644,
                        offset: 0,
                        data: b"hello\n".to_vec(),
                        last: true,
                    },
                ),
                (
                    "get",
                    Op::Get {
                        path: "/proc/net/dev".into(),
                        offset: 4096,
                    },
                ),
                (
                    "stage",
                    Op::Stage {
                        data: br#"{"id":9,"op":"ping"}"#.to_vec(),
                        last: false,
                    },
                ),
            ];
            for (i, (name, op)) in requests.into_iter().enumerate() {
                add(
                    &format!("request-{name}.json"),
                    encode_line(&Request { id: i as u64, op }),
                );
            }
            let events = [
                ("ready", Event::Ready),
                (
                    "failed",
                    Event::Failed {
                        step: "routes".into(),
                        command: "ip route add 10.0.0.0/8 via 10.1.0.1".into(),
                        error: "RTNETLINK answers: Network is unreachable".into(),
                    },
                ),
                (
                    "reply-exec",
                    Event::Reply {
                        id: 3,
                        reply: Reply::Exec {
                            status: 1,
                            stdout: b"out".to_vec(),
                            stderr: b"err\n".to_vec(),
                            truncated: false,
                            timed_out: true,
                        },
                    },
                ),
                (
                    "reply-get",
                    Event::Reply {
                        id: 4,
                        reply: Reply::Get {
                            data: vec![0, 1, 2, 255],
                            eof: true,
                        },
                    },
                ),
                (
                    "reply-error",
                    Event::Reply {
                        id: 5,
                        reply: Reply::Error {
                            message: "no such file".into(),
                        },
                    },
                ),
            ];
            for (name, ev) in events {
                add(&format!("event-{name}.json"), encode_line(&ev));
            }
            add(
                "base64.txt",
                base64::encode(b"umlvnf agent\x00\xff").into_bytes(),
            );
            let cfg = GuestConfig {
                lab: "lab".into(),
                node: "r1".into(),
                hostname: "r1".into(),
                modules: vec!["nf_tables".into()],
                interfaces: vec![InterfaceConfig {
                    device: "vec0".into(),
                    name: "eth0".into(),
                    mtu: Some(1500),
                    ipv4: vec!["10.0.0.1/24".into()],
                    ..InterfaceConfig::default()
                }],
                routes: vec![RouteConfig {
                    route: "default via 10.0.0.254".into(),
                    ..RouteConfig::default()
                }],
                sysctls: vec![("net.ipv4.ip_forward".into(), "1".into())],
                ..GuestConfig::default()
            };
            // The drive without its zero padding (the reader stops after the JSON).
            let mut drive = config_drive::to_bytes(&cfg);
            while drive.last() == Some(&0) {
                drive.pop();
            }
            add("config-drive.bin", drive);
        }
        "control" => {
            let requests = [
                ("status", ControlRequest::Status),
                ("down", ControlRequest::Down),
                ("links", ControlRequest::Links),
                (
                    "exec",
                    ControlRequest::Exec {
                        node: "r1".into(),
                        argv: vec!["ping".into(), "-c".into(), "1".into(), "10.0.0.2".into()],
                        stdin: Some(vec![1, 2, 3]),
                        timeout_ms: 10_000,
                    },
                ),
                (
                    "put",
                    ControlRequest::Put {
                        node: "r1".into(),
                        path: "/tmp/x".into(),
                        mode: 0o600,
                        data: b"data".to_vec(),
                    },
                ),
                (
                    "get",
                    ControlRequest::Get {
                        node: "r1".into(),
                        path: "/etc/hostname".into(),
                    },
                ),
                ("console", ControlRequest::Console { node: "r1".into() }),
                (
                    "capture",
                    ControlRequest::Capture {
                        link: "link0".into(),
                    },
                ),
                (
                    "link-set",
                    ControlRequest::LinkSet {
                        link: "r1:eth0".into(),
                        from: Some("r2:eth0".into()),
                        impair: Some(umlvnf_topology::Impairment {
                            loss: "5%".parse().ok(),
                            delay: "10ms".parse().ok(),
                            jitter: "1ms".parse().ok(),
                            rate: "10mbit".parse().ok(),
                            duplicate: "1%".parse().ok(),
                            reorder: "0.5%".parse().ok(),
                        }),
                        up: Some(false),
                    },
                ),
            ];
            for (name, r) in requests {
                if let Ok(mut line) = serde_json::to_vec(&r) {
                    line.push(b'\n');
                    add(&format!("request-{name}.json"), line);
                }
            }
            let replies = [
                (
                    "ok",
                    r#"{"ok":true,"error":null,"status":null,"exec":null,"data":null}"#,
                ),
                (
                    "error",
                    r#"{"ok":false,"error":"`nope` is not a guest","status":null,"exec":null,"data":null}"#,
                ),
                (
                    "exec",
                    r#"{"ok":true,"error":null,"status":null,"exec":{"status":0,"stdout":[104,105],"stderr":[]},"data":null}"#,
                ),
                (
                    "wires",
                    r#"{"ok":true,"error":null,"status":null,"exec":null,"data":null,"wires":[{"name":"link0","directions":[{"from":"r1:eth0","to":"r2:eth0","received":10,"sent":8,"bytes":840,"queued":1,"drops":[["send_error",1]]}]}]}"#,
                ),
            ];
            for (name, text) in replies {
                add(
                    &format!("reply-{name}.json"),
                    format!("{text}\n").into_bytes(),
                );
            }
        }
        _ => {}
    }
    out
}

/// Whether seed `name` of `target` depends only on this workspace's encoders (not on the
/// example topologies, which change often, or on the libpcap that compiles filters), so that
/// the checked-in copy must equal what [`seeds`] makes.
pub fn reproducible(target: &str, name: &str) -> bool {
    match target {
        "topology" => false,
        "bpf" => matches!(name, "accept-all.bin" | "drop-outgoing.bin"),
        _ => true,
    }
}

/// Writes the seed corpus of every target under `corpus/`; returns how many files changed.
pub fn write_corpus() -> std::io::Result<usize> {
    let mut changed = 0;
    for t in crate::targets::ALL {
        let dir = crate::corpus_dir(t.name);
        std::fs::create_dir_all(&dir)?;
        for (name, data) in seeds(t.name) {
            let path = dir.join(name);
            if std::fs::read(&path).ok().as_deref() != Some(&data[..]) {
                std::fs::write(&path, &data)?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}
