//! pcap files and BPF programs checked against the real tcpdump/libpcap.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use umlvnf_packet::bpf::{self, BpfError, BpfInsn};
use umlvnf_packet::pcap::PcapWriter;

/// A file in the system temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> Self {
        Self(std::env::temp_dir().join(format!("umlvnf-packet-{tag}-{}.pcap", std::process::id())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tcpdump(args: &[&str], file: &Path) -> String {
    let out = Command::new("tcpdump")
        .args(["-r"])
        .arg(file)
        .args(args)
        .output()
        .expect("tcpdump must be installed (Debian package tcpdump)");
    assert!(
        out.status.success(),
        "tcpdump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tcpdump prints UTF-8")
}

/// An Ethernet + IPv4 frame with the given protocol and payload (checksum not filled in).
fn ipv4_frame(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (20 + l4.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        proto,
        0,
        0,
    ]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(l4);
    f
}

fn icmp_echo(seq: u8) -> Vec<u8> {
    ipv4_frame(
        1,
        [10, 0, 0, 1],
        [10, 0, 0, 2],
        &[8, 0, 0, 0, 0, 7, 0, seq, b'p', b'i', b'n', b'g'],
    )
}

fn udp_frame() -> Vec<u8> {
    ipv4_frame(
        17,
        [10, 0, 0, 1],
        [10, 0, 0, 2],
        &[0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0, 1, 2, 3, 4],
    )
}

#[test]
fn pcap_file_reads_back_with_tcpdump() {
    let file = TempFile::new("three");
    let f = std::fs::File::create(&file.0).unwrap();
    let mut w = PcapWriter::new(std::io::BufWriter::new(f), 65535).unwrap();
    let t0 = UNIX_EPOCH + Duration::new(1_700_000_000, 250_000_000);
    w.write_frame(t0, &icmp_echo(1)).unwrap();
    w.write_frame(t0 + Duration::from_micros(1500), &udp_frame())
        .unwrap();
    w.write_frame(t0 + Duration::from_secs(2), &icmp_echo(2))
        .unwrap();
    w.flush().unwrap();
    drop(w);

    let out = tcpdump(&["-nn", "--time-stamp-precision=micro", "-tt"], &file.0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(
            "1700000000.250000 IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 1"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("1700000000.251500 IP 10.0.0.1.12345 > 10.0.0.2.53"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(
            "1700000002.250000 IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 2"
        ),
        "{}",
        lines[2]
    );
    // tcpdump applies a filter to our file too.
    let icmp_only = tcpdump(&["-nn", "icmp"], &file.0);
    assert_eq!(icmp_only.lines().count(), 2, "{icmp_only}");
}

#[test]
fn pcap_snaplen_truncates_but_keeps_orig_len() {
    let file = TempFile::new("snap");
    let mut w = PcapWriter::new(std::fs::File::create(&file.0).unwrap(), 34).unwrap();
    w.write_frame(SystemTime::now(), &icmp_echo(3)).unwrap();
    w.flush().unwrap();
    drop(w);
    let out = tcpdump(&["-nn", "-e"], &file.0);
    assert!(out.contains("length 46"), "{out}");
    assert!(out.contains("10.0.0.1 > 10.0.0.2"), "{out}");
    let raw = std::fs::read(&file.0).unwrap();
    assert_eq!(raw.len(), 24 + 16 + 34);
}

/// Parses `tcpdump -ddd` output: a count, then `code jt jf k` lines.
fn parse_ddd(text: &str) -> Vec<BpfInsn> {
    let mut lines = text.lines();
    let count: usize = lines.next().unwrap().trim().parse().unwrap();
    let prog: Vec<BpfInsn> = lines
        .map(|l| {
            let v: Vec<u32> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
            assert_eq!(v.len(), 4, "{l}");
            BpfInsn {
                code: v[0] as u16,
                jt: v[1] as u8,
                jf: v[2] as u8,
                k: v[3],
            }
        })
        .collect();
    assert_eq!(prog.len(), count);
    prog
}

#[test]
fn compile_matches_tcpdump_ddd() {
    // An empty capture with snaplen 65535 makes tcpdump compile exactly like pcap_open_dead
    // (DLT_EN10MB, 65535), without needing a device or privileges.
    let file = TempFile::new("empty");
    PcapWriter::new(
        std::fs::File::create(&file.0).unwrap(),
        bpf::LIBPCAP_SNAPLEN,
    )
    .unwrap();
    for expr in [
        "icmp",
        "udp port 53",
        "not arp and ip6",
        "ether src 02:00:00:00:00:01",
        "ip broadcast",
        "",
    ] {
        let mut args = vec!["-ddd"];
        if !expr.is_empty() {
            args.push(expr);
        }
        let want = parse_ddd(&tcpdump(&args, &file.0));
        let got = bpf::compile(expr).unwrap();
        assert_eq!(got, want, "expression `{expr}`");
        bpf::validate(&got).unwrap();
        assert_eq!(bpf::from_blob(&bpf::to_blob(&got)).unwrap(), got);
    }
}

#[test]
fn run_accepts_icmp_and_rejects_udp() {
    let prog = bpf::compile("icmp").unwrap();
    assert_eq!(bpf::run(&prog, &icmp_echo(1)), bpf::LIBPCAP_SNAPLEN);
    assert_eq!(bpf::run(&prog, &udp_frame()), 0);
    assert_eq!(bpf::run(&prog, &[]), 0);
    let port = bpf::compile("udp dst port 53").unwrap();
    assert_ne!(bpf::run(&port, &udp_frame()), 0);
    assert_eq!(bpf::run(&port, &icmp_echo(1)), 0);
    // Prefixes that end before the destination port (bytes 36..38) are dropped, as the
    // kernel drops on out-of-bounds loads; longer ones carry everything the filter reads.
    let f = udp_frame();
    for n in 0..f.len() {
        let want = if n >= 38 { bpf::LIBPCAP_SNAPLEN } else { 0 };
        assert_eq!(bpf::run(&port, &f[..n]), want, "prefix {n}");
    }
}

#[test]
fn bad_expression_reports_libpcap_message() {
    let err = bpf::compile("icmp and and").unwrap_err();
    match &err {
        BpfError::Compile { expr, message } => {
            assert_eq!(expr, "icmp and and");
            assert!(message.contains("syntax error"), "{message}");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("`icmp and and`"), "{err}");
    // A semantic (not syntax) error, found without any name lookups.
    let err = bpf::compile("tcp port 99999").unwrap_err();
    assert!(
        matches!(&err, BpfError::Compile { message, .. } if message.contains("99999")),
        "{err}"
    );
    assert!(matches!(
        bpf::compile("icmp\0"),
        Err(BpfError::NulInExpression { .. })
    ));
}
