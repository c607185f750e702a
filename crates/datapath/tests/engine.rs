//! Engine tests over loopback UDP and AF_UNIX sockets (no privileges needed).

mod common;

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use umlvnf_datapath::umlvnf_packet::bpf;
use umlvnf_datapath::umlvnf_packet::impair::Impairment;
use umlvnf_datapath::umlvnf_packet::l2tpv3::{Cookie, L2tpv3Config, L2tpv3Repr};
use umlvnf_datapath::{
    io_uring_available, Backend, Datapath, DatapathError, Direction, DirectionCounters, Encap,
    EndSpec, L2tpv3Params, WireSpec,
};

/// `spec` on `backend`.
fn on(backend: Backend, mut spec: WireSpec) -> WireSpec {
    spec.backend = backend;
    spec
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
    forwards_both_ways_and_conserves,
    loss_half_matches_impairment_counter,
    delay_queues_frames_then_delivers_them,
    link_down_drops_everything,
    filter_drops_icmp_and_passes_udp,
    capture_writes_a_pcap_tcpdump_reads,
    l2tpv3_udp_end_terminates_the_tunnel,
    seqpacket_end_accepts_and_reaccepts,
    duplicates_are_counted_and_conserve,
    send_errors_and_impairments_balance_at_every_read,
);

/// A wire between two UDP socket pairs given as Fd ends: returns (test side of a, of b).
fn fd_wire(
    dp: &Datapath,
    backend: Backend,
    spec: impl FnOnce(EndSpec, EndSpec) -> WireSpec,
) -> (UdpSocket, UdpSocket, umlvnf_datapath::WireId) {
    let (ta, wa) = udp_pair("127.0.0.2", "127.0.0.3");
    let (tb, wb) = udp_pair("127.0.0.4", "127.0.0.5");
    let id = dp
        .add_wire(on(
            backend,
            spec(EndSpec::Fd(wa.into()), EndSpec::Fd(wb.into())),
        ))
        .unwrap();
    (ta, tb, id)
}

fn forwards_both_ways_and_conserves(backend: Backend) {
    let dp = Datapath::start(2).unwrap();
    let (ta, tb, id) = fd_wire(&dp, backend, |a, b| WireSpec::new("plain", a, b));
    assert_eq!(dp.list(), vec![(id, "plain".to_string())]);
    let rx = std::thread::spawn(move || {
        let got = drain(&tb);
        (tb, got)
    });
    for i in 0..1000 {
        ta.send(&udp_frame(i)).unwrap();
        if i % 50 == 49 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let (tb, got) = rx.join().unwrap();
    assert_eq!(got.len(), 1000);
    assert_eq!(got[0], udp_frame(0), "frames pass unchanged");
    assert_eq!(got[999], udp_frame(999), "frames keep their order");
    for i in 0..10 {
        tb.send(&icmp_frame(i)).unwrap();
    }
    assert_eq!(drain(&ta).len(), 10);
    let c = settle(&dp, id);
    assert!(c.is_conserved(), "{c:?}");
    assert_eq!(c.a_to_b.rx.packets, 1000);
    assert_eq!(c.a_to_b.sent(), 1000);
    assert_eq!(c.a_to_b.rx.bytes, 1000 * udp_frame(0).len() as u64);
    assert_eq!(c.b_to_a.sent(), 10);
    assert_eq!(c.a_to_b.drops().total(), 0);
    let batches: u64 = c.a_to_b.rx.batch_hist.iter().sum();
    assert!((1..=1000).contains(&batches), "{c:?}");
    assert!(c.a_to_b.rx.syscalls >= batches);
    dp.remove_wire(id).unwrap();
    assert!(dp.list().is_empty());
    assert!(matches!(dp.counters(id), Err(DatapathError::NoSuchWire(_))));
    assert!(matches!(
        dp.remove_wire(id),
        Err(DatapathError::NoSuchWire(_))
    ));
    dp.shutdown();
    assert!(matches!(
        dp.add_wire(WireSpec::new(
            "late",
            EndSpec::Fd(UdpSocket::bind("127.0.0.1:0").unwrap().into()),
            EndSpec::Fd(UdpSocket::bind("127.0.0.1:0").unwrap().into())
        )),
        Err(DatapathError::ShutDown)
    ));
}

fn loss_half_matches_impairment_counter(backend: Backend) {
    let dp = Datapath::start(1).unwrap();
    let (ta, tb, id) = fd_wire(&dp, backend, |a, b| {
        let mut s = WireSpec::new("lossy", a, b);
        s.impair[0].loss = 0.5;
        s
    });
    let rx = std::thread::spawn(move || drain(&tb).len());
    for i in 0..2000 {
        ta.send(&udp_frame(i)).unwrap();
        if i % 50 == 49 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let got = rx.join().unwrap() as u64;
    let c = settle(&dp, id);
    let lost = 2000 - got;
    assert!((700..=1300).contains(&lost), "lost {lost} of 2000");
    assert_eq!(c.a_to_b.drops().impairment, lost, "{c:?}");
    assert!(c.is_conserved(), "{c:?}");
}

fn delay_queues_frames_then_delivers_them(backend: Backend) {
    let dp = Datapath::start(1).unwrap();
    let (ta, tb, id) = fd_wire(&dp, backend, |a, b| WireSpec::new("slow", a, b));
    dp.set_impairment(
        id,
        Direction::AtoB,
        Impairment {
            delay: Duration::from_millis(200),
            ..Impairment::default()
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    for i in 0..20 {
        ta.send(&udp_frame(i)).unwrap();
    }
    // All 20 wait in the queue once the datapath has read them (and for 200 ms after that).
    let read_by = Instant::now() + Duration::from_secs(1);
    let mid = loop {
        let c = dp.counters(id).unwrap();
        if c.a_to_b.queued == 20 || Instant::now() > read_by {
            break c;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(mid.a_to_b.queued, 20, "{mid:?}");
    assert!(mid.a_to_b.is_conserved());
    tb.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 2048];
    tb.recv(&mut buf).unwrap();
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(190),
        "arrived after {waited:?}"
    );
    // Delayed, but not held back far beyond the delay (with room for a loaded machine).
    assert!(
        waited < Duration::from_millis(1500),
        "arrived after {waited:?}"
    );
    tb.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert_eq!(drain(&tb).len(), 19);
    let c = settle(&dp, id);
    assert_eq!(c.a_to_b.queued, 0);
    assert_eq!(c.a_to_b.sent(), 20);
    // b→a is not delayed.
    tb.send(&udp_frame(1)).unwrap();
    ta.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert!(ta.recv(&mut buf).is_ok());
}

fn link_down_drops_everything(backend: Backend) {
    let dp = Datapath::start(1).unwrap();
    let (ta, tb, id) = fd_wire(&dp, backend, |a, b| WireSpec::new("down", a, b));
    dp.set_up(id, false).unwrap();
    for i in 0..50 {
        ta.send(&udp_frame(i)).unwrap();
    }
    assert!(drain(&tb).is_empty());
    let c = settle(&dp, id);
    assert_eq!(c.a_to_b.drops().link_down, 50);
    dp.set_up(id, true).unwrap();
    ta.send(&udp_frame(51)).unwrap();
    assert_eq!(drain(&tb).len(), 1);
    assert!(settle(&dp, id).is_conserved());
}

fn filter_drops_icmp_and_passes_udp(backend: Backend) {
    let dp = Datapath::start(1).unwrap();
    let prog = bpf::compile("not icmp").unwrap();
    let (ta, tb, id) = fd_wire(&dp, backend, |a, b| {
        let mut s = WireSpec::new("filtered", a, b);
        s.filter[0] = Some(prog);
        s
    });
    for i in 0..30 {
        ta.send(&icmp_frame(i)).unwrap();
        ta.send(&udp_frame(u32::from(i))).unwrap();
    }
    let got = drain(&tb);
    assert_eq!(got.len(), 30);
    assert!(got.iter().all(|f| f[23] == 17), "only UDP passes");
    // The filter is on a's side only: ICMP from b passes.
    tb.send(&icmp_frame(1)).unwrap();
    assert_eq!(drain(&ta).len(), 1);
    let c = settle(&dp, id);
    assert_eq!(c.a_to_b.drops().filter, 30);
    assert_eq!(c.b_to_a.drops().filter, 0);
    assert!(c.is_conserved());
}

fn capture_writes_a_pcap_tcpdump_reads(backend: Backend) {
    let dp = Datapath::start(1).unwrap();
    let (ta, tb, id) = fd_wire(&dp, backend, |a, b| WireSpec::new("captured", a, b));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wire.pcap");
    let file = std::fs::File::create(&path).unwrap();
    let cid = dp
        .capture(id, Box::new(std::io::BufWriter::new(file)))
        .unwrap();
    for i in 0..3 {
        ta.send(&icmp_frame(i)).unwrap();
    }
    tb.send(&udp_frame(7)).unwrap();
    assert_eq!(drain(&tb).len(), 3);
    assert_eq!(drain(&ta).len(), 1);
    dp.stop_capture(cid).unwrap();
    assert!(matches!(
        dp.stop_capture(cid),
        Err(DatapathError::NoSuchCapture(_))
    ));
    let out = std::process::Command::new("tcpdump")
        .args(["-r", path.to_str().unwrap(), "-nn"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.matches("ICMP echo request").count(), 3, "{text}");
    assert_eq!(
        text.matches("10.9.0.1.5000 > 10.9.0.2.6000: UDP").count(),
        1,
        "{text}"
    );
}

fn l2tp_params() -> L2tpv3Params {
    L2tpv3Params {
        cfg: L2tpv3Config {
            udp: true,
            cookie_len: 8,
            counter: true,
        },
        rx_session: 1000,
        tx_session: 2000,
        rx_cookie: Cookie::C64(0x1122_3344_5566_7788),
        tx_cookie: Cookie::C64(0x8877_6655_4433_2211),
    }
}

fn free_port(ip: &str) -> u16 {
    UdpSocket::bind(format!("{ip}:0"))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn l2tpv3_udp_end_terminates_the_tunnel(backend: Backend) {
    let dp = Datapath::start(1).unwrap();
    let params = l2tp_params();
    let tunnel_peer = UdpSocket::bind("127.0.0.6:0").unwrap();
    tunnel_peer
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let local: std::net::SocketAddr = format!("127.0.0.7:{}", free_port("127.0.0.7"))
        .parse()
        .unwrap();
    let (tb, wb) = udp_pair("127.0.0.4", "127.0.0.5");
    let id = dp
        .add_wire(on(
            backend,
            WireSpec::new(
                "l2tp",
                EndSpec::Udp {
                    local,
                    remote: Some(tunnel_peer.local_addr().unwrap()),
                    encap: Encap::L2tpv3(params),
                },
                EndSpec::Fd(wb.into()),
            ),
        ))
        .unwrap();
    // Into the tunnel end: good frames come out plain on b; bad session is dropped.
    let encap = |session: u32, frame: &[u8]| {
        let repr = L2tpv3Repr {
            session,
            cookie: params.rx_cookie,
            counter: Some(1),
        };
        let mut v = vec![0u8; L2tpv3Repr::header_len(&params.cfg)];
        repr.emit(&params.cfg, &mut v).unwrap();
        v.extend_from_slice(frame);
        v
    };
    for i in 0..5 {
        tunnel_peer
            .send_to(&encap(1000, &udp_frame(i)), local)
            .unwrap();
    }
    tunnel_peer
        .send_to(&encap(999, &udp_frame(99)), local)
        .unwrap();
    let got = drain(&tb);
    assert_eq!(got, (0..5).map(udp_frame).collect::<Vec<_>>());
    // Out of the tunnel end: frames from b come encapsulated with tx session and cookie.
    for i in 0..3 {
        tb.send(&icmp_frame(i)).unwrap();
    }
    let mut buf = [0u8; 2048];
    for i in 0..3u16 {
        let n = tunnel_peer.recv(&mut buf).unwrap();
        let (repr, inner) = L2tpv3Repr::parse(&params.cfg, &buf[..n]).unwrap();
        assert_eq!(repr.session, 2000);
        assert_eq!(repr.cookie, params.tx_cookie);
        assert_eq!(repr.counter, Some(u32::from(i) + 1));
        assert_eq!(inner, &icmp_frame(i)[..]);
    }
    let c = settle(&dp, id);
    assert_eq!(c.a_to_b.drops().encap, 1, "{c:?}");
    assert_eq!(c.a_to_b.sent(), 5);
    assert_eq!(c.b_to_a.sent(), 3);
    assert_eq!(c.b_to_a.tx.bytes, 3 * (icmp_frame(0).len() as u64 + 20));
    assert!(c.is_conserved());
}

fn seqpacket_end_accepts_and_reaccepts(backend: Backend) {
    use std::os::unix::fs::PermissionsExt;
    let dp = Datapath::start(1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vec0.sock");
    let (tb, wb) = udp_pair("127.0.0.4", "127.0.0.5");
    let id = dp
        .add_wire(on(
            backend,
            WireSpec::new(
                "bess",
                EndSpec::Seqpacket { path: path.clone() },
                EndSpec::Fd(wb.into()),
            ),
        ))
        .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Frames from b before any peer: dropped as send errors.
    tb.send(&udp_frame(0)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    for round in 0..2u32 {
        let client = seqpacket_connect(&path, Duration::from_millis(500));
        let mut file = std::fs::File::from(client);
        std::thread::sleep(Duration::from_millis(100));
        for i in 0..5 {
            file.write_all(&udp_frame(round * 10 + i)).unwrap();
        }
        let got = drain(&tb);
        assert_eq!(got.len(), 5, "round {round}");
        assert_eq!(got[4], udp_frame(round * 10 + 4));
        tb.send(&icmp_frame(round as u16)).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = file.read(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            &icmp_frame(round as u16)[..],
            "one frame per message"
        );
        drop(file); // the guest goes away; the next round reconnects
        std::thread::sleep(Duration::from_millis(100));
    }
    let c = settle(&dp, id);
    assert_eq!(c.a_to_b.sent(), 10);
    assert_eq!(c.b_to_a.sent(), 2);
    assert_eq!(c.b_to_a.drops().send_error, 1, "{c:?}");
    assert!(c.is_conserved());
    dp.remove_wire(id).unwrap();
    assert!(!path.exists(), "removing the wire removes the socket");
}

#[test]
fn refusals_read_as_sentences() {
    let dp = Datapath::start(1).unwrap();
    let mk = || EndSpec::Fd(UdpSocket::bind("127.0.0.1:0").unwrap().into());
    let mut s = WireSpec::new("deep uring", mk(), mk());
    s.backend = Backend::IoUring;
    s.depth = 0;
    let e = dp.add_wire(s).unwrap_err();
    assert!(matches!(e, DatapathError::BadDepth(0)), "{e}");
    let e = DatapathError::BackendUnavailable {
        backend: "io_uring",
        source: std::io::Error::from_raw_os_error(libc::EPERM),
    };
    assert_eq!(
        e.to_string(),
        "the io_uring backend is not available on this host (Operation not permitted (os error \
         1)): use Backend::Mmsg, or allow io_uring (sysctl kernel.io_uring_disabled=0)"
    );
    let mut s = WireSpec::new("deep", mk(), mk());
    s.depth = 5000;
    let e = dp.add_wire(s).unwrap_err();
    assert!(e.to_string().contains("between 1 and 1024"), "{e}");
    let mut s = WireSpec::new("empty filter", mk(), mk());
    s.filter[1] = Some(Vec::new());
    assert!(dp.add_wire(s).is_err());
    assert!(dp.list().is_empty());
}

/// Makes `io_uring_setup` fail with EPERM in the calling thread only (a seccomp filter, which
/// stays with this thread and dies with it), as a host with io_uring disabled would.
fn deny_io_uring_setup_in_this_thread() {
    let code = |c: u32| c as u16;
    let mut prog = [
        libc::sock_filter {
            code: code(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS),
            jt: 0,
            jf: 0,
            k: 0, // seccomp_data.nr
        },
        libc::sock_filter {
            code: code(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K),
            jt: 0,
            jf: 1,
            k: libc::SYS_io_uring_setup as u32,
        },
        libc::sock_filter {
            code: code(libc::BPF_RET | libc::BPF_K),
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        },
        libc::sock_filter {
            code: code(libc::BPF_RET | libc::BPF_K),
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: plain prctl calls; `fprog` and `prog` live across them, and without
    // SECCOMP_FILTER_FLAG_TSYNC the filter applies to this thread only.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &fprog as *const libc::sock_fprog
            ),
            0,
            "install the seccomp filter: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[test]
fn io_uring_refused_by_the_kernel_is_a_clear_error() {
    assert!(io_uring_available().is_ok(), "io_uring works on this host");
    let dp = Datapath::start(1).unwrap();
    let mk = || EndSpec::Fd(UdpSocket::bind("127.0.0.1:0").unwrap().into());
    let (avail, e) = std::thread::scope(|s| {
        s.spawn(|| {
            deny_io_uring_setup_in_this_thread();
            let mut spec = WireSpec::new("refused", mk(), mk());
            spec.backend = Backend::IoUring;
            (io_uring_available(), dp.add_wire(spec).unwrap_err())
        })
        .join()
        .unwrap()
    });
    assert_eq!(avail.unwrap_err().raw_os_error(), Some(libc::EPERM));
    assert!(
        matches!(
            e,
            DatapathError::BackendUnavailable {
                backend: "io_uring",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("use Backend::Mmsg"), "{e}");
    assert!(dp.list().is_empty());
    // io_uring still works in other threads.
    let mut spec = WireSpec::new("fine", mk(), mk());
    spec.backend = Backend::IoUring;
    assert!(dp.add_wire(spec).is_ok());
}

fn duplicates_are_counted_and_conserve(backend: Backend) {
    let dp = Datapath::start(1).unwrap();
    let (ta, tb, id) = fd_wire(&dp, backend, |a, b| {
        let mut s = WireSpec::new("dup", a, b);
        s.impair[0].duplicate = 0.5;
        s
    });
    let rx = std::thread::spawn(move || drain(&tb).len() as u64);
    for i in 0..200 {
        ta.send(&udp_frame(i)).unwrap();
        if i % 50 == 49 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let got = rx.join().unwrap();
    let c = settle(&dp, id);
    assert!((250..=350).contains(&got), "received {got} for 200 sent");
    assert_eq!(c.a_to_b.duplicated, got - 200, "{c:?}");
    assert_eq!(c.a_to_b.sent(), got);
    assert!(c.is_conserved(), "{c:?}");
}

/// The books of one direction as anyone reading the counters sees them (`link show`,
/// `/metrics`): received + duplicated = sent + drops by reason + queued, with the packets of
/// the tx queue as what was sent.
fn balances(d: &DirectionCounters) -> bool {
    d.rx.packets + d.duplicated == d.tx.packets + d.drops().total() + d.queued
}

fn send_errors_and_impairments_balance_at_every_read(backend: Backend) {
    let dp = Arc::new(Datapath::start(1).unwrap());
    let (ta, wa) = udp_pair("127.0.0.2", "127.0.0.3");
    // End b sends to a socket that never reads: once its queue is full (a few frames), every
    // send fails. (Not a socket pair: the kernel does not limit the queue of a pair.)
    let dir = tempfile::tempdir().unwrap();
    let tb = UnixDatagram::bind(dir.path().join("b")).unwrap();
    let wb = UnixDatagram::unbound().unwrap();
    wb.connect(dir.path().join("b")).unwrap();
    let mut spec = WireSpec::new("errors", EndSpec::Fd(wa.into()), EndSpec::Fd(wb.into()));
    spec.impair[0] = Impairment {
        delay: Duration::from_millis(150),
        loss: 0.2,
        ..Impairment::default()
    };
    let id = dp.add_wire(on(backend, spec)).unwrap();
    // Reads the counters as fast as it can while frames move, and keeps the first snapshot
    // whose books do not balance.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (dp, stop) = (dp.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut reads, mut max_queued, mut bad) = (0u64, 0u64, None);
            while !stop.load(Ordering::Relaxed) {
                let c = dp.counters(id).unwrap();
                reads += 1;
                max_queued = max_queued.max(c.a_to_b.queued);
                if bad.is_none() && !(balances(&c.a_to_b) && balances(&c.b_to_a)) {
                    bad = Some(c);
                }
            }
            (reads, max_queued, bad)
        })
    };
    for i in 0..3000 {
        ta.send(&udp_frame(i)).unwrap();
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(3));
        }
    }
    let flooded = Instant::now();
    // Now no frame comes in: the delayed ones must still leave once due.
    let drained = loop {
        let c = dp.counters(id).unwrap();
        assert!(balances(&c.a_to_b), "{c:?}");
        if c.a_to_b.queued == 0 && c.a_to_b.rx.packets > 0 {
            break flooded.elapsed();
        }
        assert!(
            flooded.elapsed() < Duration::from_secs(3),
            "frames stay queued without new traffic: {c:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    stop.store(true, Ordering::Relaxed);
    let (reads, max_queued, bad) = reader.join().unwrap();
    assert_eq!(bad, None, "counters that did not balance when read");
    assert!(reads >= 100, "only {reads} reads");
    assert!(max_queued > 0, "nothing was ever queued");
    let c = settle(&dp, id);
    let d = &c.a_to_b;
    assert!(
        balances(d) && c.is_conserved(),
        "{c:?} (drained after {drained:?})"
    );
    assert_eq!(d.queued, 0);
    assert!(d.drops().send_error > 0, "no send failed: {c:?}");
    assert!(d.drops().impairment > 0, "no frame lost: {c:?}");
    assert_eq!(d.sent(), d.tx.packets);
    // What the wire counts as sent is what reached end b's peer.
    tb.set_nonblocking(true).unwrap();
    let mut got = 0u64;
    let mut buf = [0u8; 2048];
    while tb.recv(&mut buf).is_ok() {
        got += 1;
    }
    assert_eq!(got, d.sent(), "{c:?}");
}

/// The CPUs each thread named `name` of this process may run on, from /proc (tests run in
/// parallel, so other datapaths' threads may carry the same name).
fn allowed_cpus_of_threads(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let dir = t.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        if let Some(v) = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        {
            out.push(v.trim().to_string());
        }
    }
    out
}

#[test]
fn pinned_workers_run_on_their_cpu_and_still_forward() {
    let dp = Datapath::start_pinned(&[0]).unwrap();
    assert_eq!(dp.threads(), 1);
    let lists = allowed_cpus_of_threads("umlvnf-dp0");
    assert!(lists.iter().any(|l| l == "0"), "{lists:?}");
    let (ta, tb, id) = fd_wire(&dp, Backend::Mmsg, |a, b| WireSpec::new("pinned", a, b));
    ta.send(b"frame").unwrap();
    tb.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    let n = tb.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"frame");
    dp.remove_wire(id).unwrap();
    dp.shutdown();
    let e = Datapath::start_pinned(&[]).unwrap_err().to_string();
    assert!(e.contains("at least one CPU"), "{e}");
    let e = Datapath::start_pinned(&[100_000]).unwrap_err().to_string();
    assert!(e.contains("CPU 100000"), "{e}");
}
