//! Tests with real interfaces: veth pairs whose far ends sit in network namespaces this test
//! creates. They need root (run `make test` as root) and clean up after themselves.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Output;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use common::*;
use umlvnf_datapath::umlvnf_packet::bpf;
use umlvnf_datapath::umlvnf_packet::impair::Impairment;
use umlvnf_datapath::umlvnf_packet::l2tpv3::{Cookie, L2tpv3Config, L2tpv3Repr};
use umlvnf_datapath::{
    Backend, Datapath, Direction, Encap, EndSpec, L2tpv3Params, WireCounters, WireId, WireSpec,
};
use umlvnf_host::{command_in_netns, netns_add, netns_del, run_in_netns, IpNet, Rtnl};

fn need_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test needs root: run `make test` as root");
    }
}

/// Taken shared by every lab and exclusively by the rate test: a flood of frames fills the
/// kernel's per-CPU backlog, which would drop other tests' pings.
static QUIET: RwLock<()> = RwLock::new(());

/// A lab's hold on [`QUIET`].
#[allow(dead_code)] // held only for its Drop
enum Quiet {
    Shared(RwLockReadGuard<'static, ()>),
    Alone(RwLockWriteGuard<'static, ()>),
}

/// Namespaces A (10.77.S.1/24 on eth0) and B (10.77.S.2/24 on eth0), each joined by a veth
/// pair to a host-side interface (`host[0]`, `host[1]`), which is up and has no address.
struct Lab {
    ns: [String; 2],
    host: [String; 2],
    subnet: u8,
    /// Released after the lab is torn down (fields drop after `Drop::drop`).
    _quiet: Quiet,
}

impl Lab {
    fn new(tag: &str, subnet: u8) -> Lab {
        need_root();
        let quiet = Quiet::Shared(QUIET.read().unwrap_or_else(|p| p.into_inner()));
        Lab::with(tag, subnet, quiet)
    }

    /// A lab that runs while no other lab exists (for load tests).
    fn alone(tag: &str, subnet: u8) -> Lab {
        need_root();
        let quiet = Quiet::Alone(QUIET.write().unwrap_or_else(|p| p.into_inner()));
        Lab::with(tag, subnet, quiet)
    }

    fn with(tag: &str, subnet: u8, quiet: Quiet) -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            ns: [format!("dpt-{tag}{pid}-a"), format!("dpt-{tag}{pid}-b")],
            host: [format!("dp{tag}{pid}a"), format!("dp{tag}{pid}b")],
            subnet,
            _quiet: quiet,
        };
        let root = Rtnl::root().unwrap();
        for i in 0..2 {
            netns_add(&lab.ns[i]).unwrap();
            let peer = format!("dp{tag}{pid}p{i}");
            root.veth_add(&lab.host[i], &peer, None).unwrap();
            root.link_move_to_netns(&peer, &lab.ns[i], Some("eth0"))
                .unwrap();
            root.link_set_up(&lab.host[i]).unwrap();
            let inner = Rtnl::in_netns(&lab.ns[i]).unwrap();
            inner.link_set_up("lo").unwrap();
            inner.link_set_up("eth0").unwrap();
            let addr: IpNet = format!("10.77.{subnet}.{}/24", i + 1).parse().unwrap();
            inner.addr_add("eth0", addr).unwrap();
        }
        lab
    }

    fn ip(&self, i: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.subnet, i)
    }

    fn packet_end(&self, i: usize) -> EndSpec {
        EndSpec::Packet {
            ifname: self.host[i].clone(),
            vnet_hdr: true,
        }
    }

    /// Runs `ping ARGS 10.77.S.2` in namespace A.
    fn ping(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.push(self.ip(2).to_string());
        command_in_netns(&self.ns[0], "ping", &all)
            .output()
            .unwrap()
    }

    /// A UDP socket bound to `addr` inside namespace `i`.
    fn udp(&self, i: usize, addr: SocketAddr) -> UdpSocket {
        let s = run_in_netns(&self.ns[i], move || UdpSocket::bind(addr))
            .unwrap()
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let root = Rtnl::root();
        for i in 0..2 {
            if let Ok(r) = &root {
                let _ = r.link_del(&self.host[i]);
            }
            let _ = netns_del(&self.ns[i]);
        }
    }
}

fn wire(dp: &Datapath, lab: &Lab, backend: Backend, f: impl FnOnce(&mut WireSpec)) -> WireId {
    let mut spec = WireSpec::new("veth-wire", lab.packet_end(0), lab.packet_end(1));
    spec.backend = backend;
    f(&mut spec);
    dp.add_wire(spec).unwrap()
}

/// `spec` on `backend`.
fn on(backend: Backend, mut spec: WireSpec) -> WireSpec {
    spec.backend = backend;
    spec
}

/// A lab tag unique to the test `base` and the backend (interface names stay within 15
/// bytes: `dp` + tag + pid + `p0`).
fn tag(base: char, backend: Backend) -> String {
    match backend {
        Backend::Mmsg => format!("{base}m"),
        Backend::IoUring => format!("{base}u"),
    }
}

/// For each test body `f(backend)`, defines a module `f` with two tests, `f::mmsg` and
/// `f::io_uring`, that run it on each backend.
macro_rules! on_both_backends {
    ($($body:ident),* $(,)?) => {
        $(
            mod $body {
                #[test]
                fn mmsg() {
                    super::$body(super::Backend::Mmsg)
                }
                #[test]
                fn io_uring() {
                    super::$body(super::Backend::IoUring)
                }
            }
        )*
    };
}

on_both_backends!(
    root_ping_through_wire_and_conservation,
    root_loss_half_on_ping,
    root_filter_not_icmp_stops_ping_passes_udp,
    root_capture_shows_icmp_echo,
    root_l2tpv3_tunnel_termination,
    root_seqpacket_end_with_packet_end,
    root_vnet_ends_carry_gso_frames_whole,
    root_vnet_to_plain_completes_checksums_and_drops_gso,
);

fn received(out: &Output) -> u64 {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary in {text}"));
    line.split(',')
        .find_map(|p| p.trim().strip_suffix(" received"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no received count in {line}"))
}

fn root_ping_through_wire_and_conservation(backend: Backend) {
    let lab = Lab::new(&tag('p', backend), 1);
    let dp = Datapath::start(1).unwrap();
    let id = wire(&dp, &lab, backend, |_| {});
    let out = lab.ping(&["-c", "3", "-W", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let t0 = Instant::now();
    let out = lab.ping(&["-f", "-c", "2000", "-q"]);
    let took = t0.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(received(&out), 2000);
    let c: WireCounters = settle(&dp, id);
    eprintln!("flood ping of 2000 took {took:?}; counters {c:?}");
    assert!(c.is_conserved(), "{c:?}");
    assert!(c.a_to_b.sent() >= 2003, "{c:?}");
    assert!(c.b_to_a.sent() >= 2003, "{c:?}");
    assert_eq!(c.a_to_b.drops().total(), 0);
}

fn root_loss_half_on_ping(backend: Backend) {
    let lab = Lab::new(&tag('l', backend), 2);
    let dp = Datapath::start(1).unwrap();
    let id = wire(&dp, &lab, backend, |_| {});
    assert!(lab.ping(&["-c", "2", "-W", "1"]).status.success());
    let imp = Impairment {
        loss: 0.5,
        ..Impairment::default()
    };
    dp.set_impairment(id, Direction::AtoB, imp).unwrap();
    let before = dp.counters(id).unwrap();
    let out = lab.ping(&["-c", "1000", "-i", "0.002", "-W", "1", "-q"]);
    let got = received(&out);
    let lost = 1000 - got;
    let c = settle(&dp, id);
    let dropped = c.a_to_b.drops().impairment - before.a_to_b.drops().impairment;
    eprintln!("lost {lost} of 1000 pings; impairment dropped {dropped}");
    assert!((350..=650).contains(&lost), "lost {lost} of 1000");
    // ARP requests (if the neighbour entry is refreshed) may be lost too.
    assert!(
        dropped >= lost && dropped <= lost + 10,
        "dropped {dropped}, lost {lost}"
    );
    assert!(c.is_conserved(), "{c:?}");
}

fn root_filter_not_icmp_stops_ping_passes_udp(backend: Backend) {
    let lab = Lab::new(&tag('f', backend), 3);
    let dp = Datapath::start(1).unwrap();
    let id = wire(&dp, &lab, backend, |s| {
        s.filter[0] = Some(bpf::compile("not icmp").unwrap())
    });
    let out = lab.ping(&["-c", "2", "-W", "1"]);
    assert!(!out.status.success(), "ping must fail through `not icmp`");
    let c = settle(&dp, id);
    assert!(c.a_to_b.drops().filter >= 2, "{c:?}");
    let rx = lab.udp(1, SocketAddr::new(lab.ip(2).into(), 7000));
    let tx = lab.udp(0, SocketAddr::new(lab.ip(1).into(), 0));
    tx.send_to(b"udp passes", rx.local_addr().unwrap()).unwrap();
    let mut buf = [0u8; 64];
    let n = rx.recv(&mut buf).expect("UDP must pass the filter");
    assert_eq!(&buf[..n], b"udp passes");
    assert!(settle(&dp, id).is_conserved());
}

fn root_capture_shows_icmp_echo(backend: Backend) {
    let lab = Lab::new(&tag('c', backend), 4);
    let dp = Datapath::start(1).unwrap();
    let id = wire(&dp, &lab, backend, |_| {});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ping.pcap");
    let cid = dp
        .capture(
            id,
            Box::new(std::io::BufWriter::new(
                std::fs::File::create(&path).unwrap(),
            )),
        )
        .unwrap();
    assert!(lab
        .ping(&["-c", "3", "-i", "0.2", "-W", "1"])
        .status
        .success());
    dp.stop_capture(cid).unwrap();
    let out = std::process::Command::new("tcpdump")
        .args(["-r", path.to_str().unwrap(), "-nn"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (a, b) = (lab.ip(1), lab.ip(2));
    assert_eq!(
        text.matches(&format!("{a} > {b}: ICMP echo request"))
            .count(),
        3,
        "{text}"
    );
    assert_eq!(
        text.matches(&format!("{b} > {a}: ICMP echo reply")).count(),
        3,
        "{text}"
    );
}

const SIM_MAC: [u8; 6] = [2, 0, 0, 0, 0x99, 0x99];

/// Plays a host at 10.77.S.9 behind a frame-level end (tunnel peer or seqpacket client),
/// talking with namespace A through the wire: answers A's ARP request, receives A's UDP
/// datagram, and sends one back.
fn exchange_with_a(
    lab: &Lab,
    send: &mut dyn FnMut(&[u8]),
    recv: &mut dyn FnMut() -> Option<Vec<u8>>,
) {
    let sim = lab.ip(9);
    let a_ip = lab.ip(1);
    let a = lab.udp(0, SocketAddr::new(a_ip.into(), 7000));
    a.send_to(b"to-sim", SocketAddr::new(sim.into(), 7001))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut a_mac = None;
    let mut got_udp = false;
    while !got_udp && Instant::now() < deadline {
        let Some(f) = recv() else { continue };
        if f.len() < 42 {
            continue;
        }
        let ethertype = u16::from_be_bytes([f[12], f[13]]);
        if ethertype == 0x0806 && f[21] == 1 && f[38..42] == sim.octets() {
            let mac: [u8; 6] = f[6..12].try_into().unwrap();
            a_mac = Some(mac);
            let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 2];
            arp.extend_from_slice(&SIM_MAC);
            arp.extend_from_slice(&sim.octets());
            arp.extend_from_slice(&mac);
            arp.extend_from_slice(&a_ip.octets());
            send(&eth(mac, SIM_MAC, 0x0806, &arp));
        } else if ethertype == 0x0800 && f[23] == 17 && f.ends_with(b"to-sim") {
            assert_eq!(
                &f[0..6],
                &SIM_MAC,
                "A addressed the frame to the ARP answer"
            );
            got_udp = true;
        }
    }
    let a_mac = a_mac.expect("A's ARP request for the simulated host came through the wire");
    assert!(got_udp, "A's UDP datagram came through the wire");
    let ip = ipv4(sim, a_ip, 17, &udp(7001, 7000, b"from-sim"));
    send(&eth(a_mac, SIM_MAC, 0x0800, &ip));
    let mut buf = [0u8; 64];
    let (n, from) = a
        .recv_from(&mut buf)
        .expect("the simulated host's datagram reached A");
    assert_eq!(&buf[..n], b"from-sim");
    assert_eq!(from, SocketAddr::new(sim.into(), 7001));
}

fn root_l2tpv3_tunnel_termination(backend: Backend) {
    let lab = Lab::new(&tag('t', backend), 5);
    let dp = Datapath::start(1).unwrap();
    let params = L2tpv3Params {
        cfg: L2tpv3Config {
            udp: true,
            cookie_len: 4,
            counter: true,
        },
        rx_session: 77,
        tx_session: 88,
        rx_cookie: Cookie::C32(0xabcd),
        tx_cookie: Cookie::C32(0xdcba),
    };
    let peer = UdpSocket::bind("127.0.0.9:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = UdpSocket::bind("127.0.0.8:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let local: SocketAddr = format!("127.0.0.8:{port}").parse().unwrap();
    let id = dp
        .add_wire(on(
            backend,
            WireSpec::new(
                "tunnel",
                lab.packet_end(0),
                EndSpec::Udp {
                    local,
                    remote: Some(peer.local_addr().unwrap()),
                    encap: Encap::L2tpv3(params),
                },
            ),
        ))
        .unwrap();
    let mut send = |frame: &[u8]| {
        let repr = L2tpv3Repr {
            session: 77,
            cookie: Cookie::C32(0xabcd),
            counter: Some(0),
        };
        let mut v = vec![0u8; L2tpv3Repr::header_len(&params.cfg)];
        repr.emit(&params.cfg, &mut v).unwrap();
        v.extend_from_slice(frame);
        peer.send_to(&v, local).unwrap();
    };
    let mut recv = || {
        let mut buf = vec![0u8; 65536];
        let n = peer.recv(&mut buf).ok()?;
        let (repr, inner) = L2tpv3Repr::parse(&params.cfg, &buf[..n]).expect("valid L2TPv3");
        assert_eq!(repr.session, 88);
        assert_eq!(repr.cookie, Cookie::C32(0xdcba));
        Some(inner.to_vec())
    };
    exchange_with_a(&lab, &mut send, &mut recv);
    let c = settle(&dp, id);
    assert!(c.is_conserved(), "{c:?}");
    assert!(c.b_to_a.sent() >= 2 && c.a_to_b.sent() >= 2, "{c:?}");
}

fn root_seqpacket_end_with_packet_end(backend: Backend) {
    use std::io::{Read, Write};
    let lab = Lab::new(&tag('s', backend), 6);
    let dp = Datapath::start(1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("bess.sock");
    let id = dp
        .add_wire(on(
            backend,
            WireSpec::new(
                "bess",
                lab.packet_end(0),
                EndSpec::Seqpacket { path: path.clone() },
            ),
        ))
        .unwrap();
    let client = std::os::unix::net::UnixStream::connect(&path);
    // UnixStream cannot connect to a seqpacket socket: connect with libc.
    assert!(client.is_err());
    let fd = seqpacket_connect(&path, Duration::from_millis(200));
    let file = std::fs::File::from(fd);
    let (mut r, mut w) = (file.try_clone().unwrap(), file);
    let mut send = |frame: &[u8]| {
        w.write_all(frame).unwrap();
    };
    let mut recv = || {
        let mut buf = vec![0u8; 65536];
        let n = r.read(&mut buf).ok()?;
        Some(buf[..n].to_vec())
    };
    exchange_with_a(&lab, &mut send, &mut recv);
    let c = settle(&dp, id);
    assert!(c.is_conserved(), "{c:?}");
    assert!(c.b_to_a.sent() >= 2 && c.a_to_b.sent() >= 2, "{c:?}");
}

/// An AF_PACKET socket in namespace `ns` bound to its eth0, bypassing the qdisc.
fn packet_socket_in(ns: &str) -> std::os::fd::OwnedFd {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    run_in_netns(ns, || {
        // SAFETY: test code; plain socket call.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        assert!(
            fd >= 0,
            "packet socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: fresh descriptor owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        // SAFETY: `one` lives across the call.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                &one as *const _ as *const libc::c_void,
                4,
            )
        };
        assert_eq!(r, 0);
        let name = std::ffi::CString::new("eth0").unwrap();
        // SAFETY: valid C string.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        // SAFETY: zeroed sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = 0;
        sll.sll_ifindex = index as i32;
        // SAFETY: `sll` lives across the call; its size is passed.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sll as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
        fd
    })
    .unwrap()
}

/// Sends `frame` on `fd` with `sendmmsg` batches of 64 for `dur`; returns the frames the
/// kernel took and the time taken.
fn blast(fd: &std::os::fd::OwnedFd, frame: &[u8], dur: Duration) -> (u64, Duration) {
    use std::os::fd::AsRawFd;
    let mut iov = libc::iovec {
        iov_base: frame.as_ptr() as *mut libc::c_void,
        iov_len: frame.len(),
    };
    // SAFETY: zeroed mmsghdr is valid.
    let mut msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; 64];
    for m in &mut msgs {
        m.msg_hdr.msg_iov = &mut iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    let t0 = Instant::now();
    let mut sent = 0u64;
    while t0.elapsed() < dur {
        // SAFETY: every header points at `iov`, which points at `frame`; all outlive the call.
        let r = unsafe { libc::sendmmsg(fd.as_raw_fd(), msgs.as_mut_ptr(), 64, 0) };
        if r > 0 {
            sent += r as u64;
        }
    }
    (sent, t0.elapsed())
}

/// One measurement of a wire between the two veth pairs.
#[derive(Debug, Clone, Copy)]
struct RateRun {
    /// Frames per second the sender handed to its socket.
    offered: f64,
    /// Frames per second that reached the wire's host-side interface.
    arrived: f64,
    /// Frames per second the wire sent on (during the sending window).
    moved: f64,
    /// Frames per second the kernel dropped at the wire's full receive socket.
    kernel_drops: f64,
    /// Frames per receive system call.
    per_rx_call: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Offers 64-byte frames (60 + FCS) from A through the wire for one second, on each backend
/// in turn (three times each, interleaved), and reports the median rates. Run in release
/// mode for meaningful figures:
/// `cargo test --release -p umlvnf-datapath --test root root_rate -- --nocapture`.
#[test]
fn root_rate_mmsg_vs_io_uring() {
    let lab = Lab::alone("r", 7);
    let dp = Datapath::start(1).unwrap();
    let tx = packet_socket_in(&lab.ns[0]);
    // To a MAC nobody has: B's stack drops it at once, so the figure is the wire's.
    let ip = ipv4(lab.ip(1), lab.ip(2), 17, &udp(9000, 9001, &[0x42; 18]));
    let frame = eth(
        [2, 0, 0, 0, 0x0b, 0x0b],
        [2, 0, 0, 0, 0x0a, 0x0a],
        0x0800,
        &ip,
    );
    assert_eq!(frame.len(), 60);
    let stats = |ns: Option<&str>, ifname: &str| {
        let rtnl = match ns {
            Some(ns) => Rtnl::in_netns(ns).unwrap(),
            None => Rtnl::root().unwrap(),
        };
        rtnl.link(ifname).unwrap().and_then(|l| l.stats).unwrap()
    };
    let mut runs: Vec<(Backend, RateRun)> = Vec::new();
    for _rep in 0..3 {
        for backend in [Backend::Mmsg, Backend::IoUring] {
            let id = wire(&dp, &lab, backend, |_| {});
            std::thread::sleep(Duration::from_millis(50));
            let host_before = stats(None, &lab.host[0]).rx_packets;
            let b_before = stats(Some(&lab.ns[1]), "eth0").rx_packets;
            let (offered, took) = blast(&tx, &frame, Duration::from_secs(1));
            let at_stop = dp.counters(id).unwrap();
            let c = settle(&dp, id);
            dp.remove_wire(id).unwrap();
            let secs = took.as_secs_f64();
            let arrived = stats(None, &lab.host[0]).rx_packets - host_before;
            let at_b = stats(Some(&lab.ns[1]), "eth0").rx_packets - b_before;
            let rx = &c.a_to_b.rx;
            let run = RateRun {
                offered: offered as f64 / secs,
                arrived: arrived as f64 / secs,
                moved: at_stop.a_to_b.sent() as f64 / secs,
                kernel_drops: rx.kernel_drops as f64 / secs,
                per_rx_call: rx.packets as f64 / rx.syscalls.max(1) as f64,
            };
            eprintln!("{backend:?}: {run:?}");
            assert!(c.is_conserved(), "{backend:?}: {c:?}");
            assert!(c.a_to_b.sent() > 1000, "{backend:?} moved frames: {c:?}");
            assert_eq!(c.a_to_b.drops().total(), 0, "{backend:?}: {c:?}");
            assert!(
                at_b + 10 >= c.a_to_b.sent() && at_b <= c.a_to_b.sent() + 10,
                "{backend:?}: B's eth0 received {at_b}, the wire sent {}",
                c.a_to_b.sent()
            );
            runs.push((backend, run));
        }
    }
    let summary = |b: Backend| {
        let of = |f: fn(&RateRun) -> f64| {
            median(runs.iter().filter(|r| r.0 == b).map(|r| f(&r.1)).collect())
        };
        let offered = of(|r| r.offered);
        let moved = of(|r| r.moved);
        eprintln!(
            "{b:?}: median offered {offered:.0} frames/s, arrived at the wire's interface {:.0}/s, \
             wire moved {moved:.0}/s ({:.3} of offered; {:.1} frames per receive call; its socket \
             overflowed {:.0}/s)",
            of(|r| r.arrived),
            moved / offered,
            of(|r| r.per_rx_call),
            of(|r| r.kernel_drops),
        );
        (offered, moved)
    };
    let (_, mmsg) = summary(Backend::Mmsg);
    let (_, uring) = summary(Backend::IoUring);
    eprintln!("io_uring / mmsg = {:.3}", uring / mmsg);
}

/// Sends `bytes` over TCP from A to B through the wire and returns how many arrived.
fn tcp_transfer(lab: &Lab, bytes: usize) -> usize {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let addr = SocketAddr::new(lab.ip(2).into(), 7100);
    let listener = run_in_netns(&lab.ns[1], move || TcpListener::bind(addr))
        .unwrap()
        .unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut total = 0;
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    let mut c = run_in_netns(&lab.ns[0], move || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(2))
    })
    .unwrap()
    .unwrap();
    c.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let chunk = vec![0x33u8; 65536];
    let mut sent = 0;
    while sent < bytes {
        if c.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    drop(c);
    server.join().unwrap()
}

fn root_vnet_ends_carry_gso_frames_whole(backend: Backend) {
    let lab = Lab::new(&tag('g', backend), 8);
    let dp = Datapath::start(1).unwrap();
    let id = wire(&dp, &lab, backend, |_| {});
    let got = tcp_transfer(&lab, 4 << 20);
    assert_eq!(got, 4 << 20);
    let c = settle(&dp, id);
    let big = c.a_to_b.rx.bytes / c.a_to_b.rx.packets.max(1);
    eprintln!(
        "TCP 4 MiB A->B: {} frames, {big} bytes/frame on average",
        c.a_to_b.rx.packets
    );
    assert!(c.is_conserved(), "{c:?}");
    assert_eq!(c.a_to_b.drops().total(), 0, "{c:?}");
}

fn root_vnet_to_plain_completes_checksums_and_drops_gso(backend: Backend) {
    let lab = Lab::new(&tag('v', backend), 9);
    let dp = Datapath::start(1).unwrap();
    let id = dp
        .add_wire(on(
            backend,
            WireSpec::new(
                "mixed",
                lab.packet_end(0),
                EndSpec::Packet {
                    ifname: lab.host[1].clone(),
                    vnet_hdr: false,
                },
            ),
        ))
        .unwrap();
    assert!(lab.ping(&["-c", "1", "-W", "1"]).status.success());
    // A's UDP leaves with a partial checksum (veth offload); B's stack checks it, so the
    // datagram only arrives if the wire completed it.
    let rx = lab.udp(1, SocketAddr::new(lab.ip(2).into(), 7200));
    let tx = lab.udp(0, SocketAddr::new(lab.ip(1).into(), 0));
    for i in 0..20u8 {
        tx.send_to(&[i; 100], rx.local_addr().unwrap()).unwrap();
    }
    let mut buf = [0u8; 256];
    for i in 0..20u8 {
        let n = rx
            .recv(&mut buf)
            .expect("UDP with a completed checksum arrives");
        assert_eq!(&buf[..n], &[i; 100]);
    }
    // A GSO super-frame (sent from A with a vnet header of its own) cannot go to a plain
    // end: dropped as truncated. (TCP from A cannot be used here: B's replies leave B with
    // partial checksums, which a plain end cannot know about.)
    let before = dp.counters(id).unwrap().a_to_b.drops().truncated;
    send_gso_frame(&lab);
    let c = settle(&dp, id);
    eprintln!("vnet->plain: {:?}", c.a_to_b.drops());
    assert_eq!(c.a_to_b.drops().truncated - before, 1, "{c:?}");
    assert!(c.is_conserved(), "{c:?}");
}

/// Sends one TCP/IPv4 GSO frame (3000 bytes of payload, gso_size 1000) out of A's eth0
/// through an AF_PACKET socket with a vnet header.
fn send_gso_frame(lab: &Lab) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let ns = lab.ns[0].clone();
    let (a_ip, b_ip) = (lab.ip(1), lab.ip(2));
    let sent = run_in_netns(&ns, move || {
        // SAFETY: test code; plain socket call.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        assert!(fd >= 0);
        // SAFETY: fresh descriptor owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        // SAFETY: `one` lives across the call.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_VNET_HDR,
                &one as *const _ as *const libc::c_void,
                4,
            )
        };
        assert_eq!(r, 0);
        let name = std::ffi::CString::new("eth0").unwrap();
        // SAFETY: valid C string.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        // SAFETY: zeroed sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        sll.sll_ifindex = index as i32;
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&7300u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&7301u16.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x10; // ACK
        tcp[14..16].copy_from_slice(&65535u16.to_be_bytes());
        tcp.extend(std::iter::repeat_n(0x44u8, 3000));
        let ip = ipv4(a_ip, b_ip, 6, &tcp);
        let frame = eth([0xff; 6], [2, 0, 0, 0, 0x77, 0x77], 0x0800, &ip);
        // vnet header: NEEDS_CSUM, GSO_TCPV4, hdr_len 54, gso_size 1000, csum 34/16.
        let mut pkt = vec![1u8, 1];
        for v in [54u16, 1000, 34, 16] {
            pkt.extend_from_slice(&v.to_ne_bytes());
        }
        pkt.extend_from_slice(&frame);
        // SAFETY: `pkt` and `sll` live across the call; sizes are passed.
        unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                pkt.as_ptr() as *const libc::c_void,
                pkt.len(),
                0,
                &sll as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        }
    })
    .unwrap();
    assert!(
        sent > 0,
        "send the GSO frame: {}",
        std::io::Error::last_os_error()
    );
}

/// A tap end: namespace A's interface is a tap whose descriptor the datapath holds (no veth,
/// no packet socket on that side). With offloads on both ends, TCP from A crosses as GSO
/// frames carried whole; ping works; the counters conserve.
#[test]
fn root_tap_end_carries_traffic_and_gso_frames_whole() {
    let lab = Lab::new("t", 9);
    let pid = std::process::id();
    let a = Rtnl::in_netns(&lab.ns[0]).unwrap();
    // Replace A's veth with a tap of the same name and address.
    a.link_del("eth0").unwrap();
    let tap = format!("dptap{pid}");
    let root = Rtnl::root().unwrap();
    root.tap_add_persistent(&tap, None).unwrap();
    root.link_move_to_netns(&tap, &lab.ns[0], Some("eth0"))
        .unwrap();
    a.link_set_up("eth0").unwrap();
    a.addr_add("eth0", format!("{}/24", lab.ip(1)).parse().unwrap())
        .unwrap();
    let fd = umlvnf_host::tap_attach(Some(&lab.ns[0]), "eth0", true).unwrap();
    // A missing tap is an error, not a fresh tap made on the spot.
    let e = umlvnf_host::tap_attach(Some(&lab.ns[0]), "nosuch0", false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`nosuch0` does not exist"), "{e}");
    assert!(!a.link_exists("nosuch0").unwrap());
    let dp = Datapath::start(1).unwrap();
    let e = dp
        .add_wire(on(
            Backend::IoUring,
            WireSpec::new(
                "tap",
                EndSpec::Tap(fd.try_clone().unwrap()),
                lab.packet_end(1),
            ),
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("use the mmsg backend"), "{e}");
    let id = dp
        .add_wire(WireSpec::new("tap", EndSpec::Tap(fd), lab.packet_end(1)))
        .unwrap();
    let ping = lab.ping(&["-c", "3", "-W", "2"]);
    assert!(ping.status.success(), "{ping:?}");
    let got = tcp_transfer(&lab, 4 << 20);
    assert_eq!(got, 4 << 20);
    let c = settle(&dp, id);
    let per_frame = c.a_to_b.rx.bytes / c.a_to_b.rx.packets.max(1);
    eprintln!(
        "TCP 4 MiB A->B from a tap: {} frames, {per_frame} bytes/frame on average",
        c.a_to_b.rx.packets
    );
    assert!(
        per_frame > 1514,
        "GSO frames from the tap were split: {c:?}"
    );
    assert!(c.is_conserved(), "{c:?}");
    assert_eq!(c.a_to_b.drops().total(), 0, "{c:?}");
    dp.shutdown();
}
