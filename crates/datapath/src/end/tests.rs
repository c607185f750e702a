//! Ends over real sockets on the loopback.

use super::*;
use crate::counters::DropReason;
use crate::encap::{GreParams, L2tpv3Params};
use std::net::UdpSocket;
use std::time::Duration;
use umlvnf_packet::gre::GreRepr;
use umlvnf_packet::l2tpv3::{Cookie, L2tpv3Config, L2tpv3Repr};

fn peer(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind(format!("{ip}:0")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

/// Receives until a batch arrives (the end's socket is non-blocking).
fn recv_some(end: &mut End) -> usize {
    for _ in 0..200 {
        let n = end.recv_batch().unwrap();
        if n > 0 {
            return n;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("nothing arrived at {}", end.describe());
}

fn frame(i: u8) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, i, 0x88, 0xb5]);
    f.extend(std::iter::repeat_n(i, 50));
    f
}

fn l2tp() -> L2tpv3Params {
    L2tpv3Params {
        cfg: L2tpv3Config {
            udp: true,
            cookie_len: 4,
            counter: true,
        },
        rx_session: 0x11,
        tx_session: 0x22,
        rx_cookie: Cookie::C32(0xc0c0_0001),
        tx_cookie: Cookie::C32(0xc0c0_0002),
    }
}

#[test]
fn udp_l2tpv3_encap_and_decap() {
    let p = peer("127.0.0.3");
    let params = l2tp();
    let mut end = End::open(
        EndSpec::Udp {
            local: "127.0.0.2:0".parse().unwrap(),
            remote: Some(p.local_addr().unwrap()),
            encap: Encap::L2tpv3(params),
        },
        8,
    )
    .unwrap();
    let local = end.local_addr().unwrap();
    assert_eq!(local.ip().to_string(), "127.0.0.2");

    // Send: the peer sees our tx session, tx cookie and a counter from 1 up.
    let frames: Vec<Vec<u8>> = (1..=3).map(frame).collect();
    let tx: Vec<TxFrame<'_>> = frames
        .iter()
        .map(|f| TxFrame {
            data: f,
            vnet: None,
        })
        .collect();
    let out = end.send_batch(tx.iter().copied());
    assert_eq!((out.sent, out.failed), (3, 0));
    assert_eq!(out.syscalls, 1);
    assert_eq!(out.bytes, 3 * (16 + 64));
    let mut buf = [0u8; 2048];
    for (k, f) in frames.iter().enumerate() {
        let (n, from) = p.recv_from(&mut buf).unwrap();
        assert_eq!(from, local);
        let (repr, inner) = L2tpv3Repr::parse(&params.cfg, &buf[..n]).unwrap();
        assert_eq!(repr.session, 0x22);
        assert_eq!(repr.cookie, Cookie::C32(0xc0c0_0002));
        assert_eq!(repr.counter, Some(k as u32 + 1));
        assert_eq!(inner, &f[..]);
        assert_eq!(&buf[..4], &[0, 3, 0, 0]);
    }

    // Receive: a good datagram, one with the wrong session, one with the wrong cookie.
    let send = |session, cookie, payload: &[u8]| {
        let repr = L2tpv3Repr {
            session,
            cookie,
            counter: Some(7),
        };
        let mut v = vec![0u8; L2tpv3Repr::header_len(&params.cfg)];
        repr.emit(&params.cfg, &mut v).unwrap();
        v.extend_from_slice(payload);
        p.send_to(&v, local).unwrap();
    };
    send(0x11, Cookie::C32(0xc0c0_0001), &frame(9));
    send(0x12, Cookie::C32(0xc0c0_0001), &frame(10));
    send(0x11, Cookie::C32(0xdead), &frame(11));
    let mut got = Vec::new();
    while got.len() < 3 {
        let n = recv_some(&mut end);
        for i in 0..n {
            got.push(end.frame(i).map(|f| f.data.to_vec()));
        }
    }
    assert_eq!(got[0], Ok(frame(9)));
    assert_eq!(got[1], Err(DropReason::Encap));
    assert_eq!(got[2], Err(DropReason::Encap));

    // A datagram from anyone but the fixed remote is refused.
    let stranger = peer("127.0.0.4");
    let mut v = vec![0u8; 16];
    L2tpv3Repr {
        session: 0x11,
        cookie: Cookie::C32(0xc0c0_0001),
        counter: None,
    }
    .emit(&params.cfg, &mut v)
    .unwrap();
    v.extend_from_slice(&frame(12));
    stranger.send_to(&v, local).unwrap();
    recv_some(&mut end);
    assert_eq!(end.frame(0).map(|f| f.data.len()), Err(DropReason::Encap));
}

#[test]
fn udp_gre_learns_peer() {
    let params = GreParams {
        rx_key: Some(7),
        tx_key: Some(8),
        seq: true,
    };
    let mut end = End::open(
        EndSpec::Udp {
            local: "127.0.0.2:0".parse().unwrap(),
            remote: None,
            encap: Encap::Gre(params),
        },
        4,
    )
    .unwrap();
    let local = end.local_addr().unwrap();
    let f = frame(1);
    // No peer yet: the send fails without a system call.
    let out = end.send_batch([TxFrame {
        data: &f,
        vnet: None,
    }]);
    assert_eq!((out.sent, out.failed, out.syscalls), (0, 1, 0));
    assert_eq!(end.udp_peer(), None);

    let p = peer("127.0.0.3");
    // Wrong key: dropped, and not learned.
    let mut v = vec![0u8; 12];
    GreRepr {
        key: Some(9),
        seq: Some(1),
    }
    .emit(&mut v)
    .unwrap();
    v.extend_from_slice(&f);
    p.send_to(&v, local).unwrap();
    recv_some(&mut end);
    assert_eq!(end.frame(0).map(|_| ()), Err(DropReason::Encap));
    assert_eq!(end.udp_peer(), None);
    // Right key but no sequence number while we expect one: dropped.
    let mut v = vec![0u8; 8];
    GreRepr {
        key: Some(7),
        seq: None,
    }
    .emit(&mut v)
    .unwrap();
    v.extend_from_slice(&f);
    p.send_to(&v, local).unwrap();
    recv_some(&mut end);
    assert_eq!(end.frame(0).map(|_| ()), Err(DropReason::Encap));
    // Right header: accepted and the peer is learned.
    let mut v = vec![0u8; 12];
    GreRepr {
        key: Some(7),
        seq: Some(2),
    }
    .emit(&mut v)
    .unwrap();
    v.extend_from_slice(&f);
    p.send_to(&v, local).unwrap();
    recv_some(&mut end);
    assert_eq!(end.frame(0).map(|x| x.data.to_vec()), Ok(f.clone()));
    assert_eq!(end.udp_peer(), Some(p.local_addr().unwrap()));

    let out = end.send_batch([TxFrame {
        data: &f,
        vnet: None,
    }]);
    assert_eq!(out.sent, 1);
    let mut buf = [0u8; 2048];
    let n = p.recv(&mut buf).unwrap();
    assert_eq!(&buf[..4], &[0x30, 0x00, 0x65, 0x58]);
    let (repr, inner) = GreRepr::parse(&buf[..n]).unwrap();
    assert_eq!(repr.key, Some(8));
    assert_eq!(
        repr.seq,
        Some(1),
        "a send that failed for lack of a peer used no number"
    );
    assert_eq!(inner, &f[..]);
}

#[test]
fn io_uring_end_batches_in_one_enter() {
    let p = peer("127.0.0.3");
    let mut end = End::open_with(
        EndSpec::Udp {
            local: "127.0.0.2:0".parse().unwrap(),
            remote: Some(p.local_addr().unwrap()),
            encap: Encap::None,
        },
        8,
        Backend::IoUring,
    )
    .unwrap();
    assert!(end.is_io_uring());
    let local = end.local_addr().unwrap();
    // Nothing waiting: one enter, no frame, and no request left behind (a left-behind
    // receive would swallow the next datagram and make the count below wrong).
    assert_eq!(end.recv_batch().unwrap(), 0);
    assert_eq!(end.rx_syscalls(), 1);
    for i in 1..=5 {
        p.send_to(&frame(i), local).unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        end.recv_batch().unwrap(),
        5,
        "the linked receives stop at the 6th"
    );
    assert_eq!(end.rx_syscalls(), 1);
    assert_eq!(end.batch_bytes(5), 5 * 64);
    for i in 0..5 {
        assert_eq!(
            end.frame(i).map(|f| f.data.to_vec()),
            Ok(frame(i as u8 + 1))
        );
    }
    // A full batch of 8 out of 10 waiting, then the other 2.
    for i in 1..=10 {
        p.send_to(&frame(i), local).unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(end.recv_batch().unwrap(), 8);
    assert_eq!(end.frame(7).map(|f| f.data.to_vec()), Ok(frame(8)));
    assert_eq!(end.recv_batch().unwrap(), 2);
    assert_eq!(end.frame(1).map(|f| f.data.to_vec()), Ok(frame(10)));
    // Send 11 frames at depth 8: two chunks, one enter each, in order.
    let frames: Vec<Vec<u8>> = (1..=11).map(frame).collect();
    let tx: Vec<TxFrame<'_>> = frames
        .iter()
        .map(|f| TxFrame {
            data: f,
            vnet: None,
        })
        .collect();
    let out = end.send_batch(tx.iter().copied());
    assert_eq!((out.sent, out.failed, out.syscalls), (11, 0, 2));
    assert_eq!(out.bytes, 11 * 64);
    let mut buf = [0u8; 2048];
    for f in &frames {
        let (n, from) = p.recv_from(&mut buf).unwrap();
        assert_eq!(from, local);
        assert_eq!(&buf[..n], &f[..]);
    }
}

#[test]
fn io_uring_send_errors_count_per_frame() {
    // A connected seqpacket pair whose peer is gone: every send fails with EPIPE, the
    // frames count as failed and the end forgets its socket.
    let (mine, theirs) = crate::socket::socket_pair(libc::SOCK_SEQPACKET);
    let mut end = End::open_with(EndSpec::Fd(mine), 4, Backend::IoUring).unwrap();
    drop(theirs);
    let f = frame(1);
    let tx = [TxFrame {
        data: &f,
        vnet: None,
    }; 3];
    let out = end.send_batch(tx.iter().copied());
    assert_eq!((out.sent, out.failed, out.syscalls), (0, 3, 1));
    assert!(!end.is_connected());
    assert_eq!(end.send_batch(tx.iter().copied()).syscalls, 0);
}

#[test]
fn bad_specs_are_refused() {
    let bad_depth = End::open(
        EndSpec::Udp {
            local: "127.0.0.2:0".parse().unwrap(),
            remote: None,
            encap: Encap::None,
        },
        0,
    );
    assert!(matches!(bad_depth, Err(DatapathError::BadDepth(0))));
    let mut p = l2tp();
    p.cfg.udp = false;
    let e = End::open(
        EndSpec::Udp {
            local: "127.0.0.2:0".parse().unwrap(),
            remote: None,
            encap: Encap::L2tpv3(p),
        },
        4,
    )
    .unwrap_err();
    assert!(e.to_string().contains("cfg.udp = true"), "{e}");
    let mut p = l2tp();
    p.rx_cookie = Cookie::C64(1);
    let e = End::open(
        EndSpec::Udp {
            local: "127.0.0.2:0".parse().unwrap(),
            remote: None,
            encap: Encap::L2tpv3(p),
        },
        4,
    )
    .unwrap_err();
    assert!(matches!(e, DatapathError::BadEnd(_)), "{e}");
    let e = End::open(
        EndSpec::Packet {
            ifname: "nosuchif0dp".into(),
            vnet_hdr: false,
        },
        4,
    )
    .unwrap_err();
    assert!(matches!(e, DatapathError::NoSuchInterface(_)), "{e}");
    let long = PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
    let e = End::open(EndSpec::Seqpacket { path: long }, 4).unwrap_err();
    assert!(e.to_string().contains("107 bytes"), "{e}");
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let e = End::open(EndSpec::Fd(tcp.into()), 4).unwrap_err();
    assert!(e.to_string().contains("datagram or seqpacket"), "{e}");
}
