//! Batches over a unix datagram socket pair, with `sendmmsg`/`recvmmsg` and with a ring.

use super::*;
use std::os::fd::OwnedFd;

fn datagram_pair() -> (OwnedFd, OwnedFd) {
    crate::socket::socket_pair(libc::SOCK_DGRAM)
}

/// A batch of `n` frames, frame `i` carrying `i` and `4 + i` bytes long.
fn numbered(n: usize) -> FrameBatch {
    let mut out = FrameBatch::new(8, 64);
    for i in 0..n {
        out.buf_mut(i)[..4].copy_from_slice(&(i as u32).to_le_bytes());
        out.set_len(i, 4 + i);
    }
    out
}

fn assert_numbered(inb: &FrameBatch, n: usize) {
    for i in 0..n {
        assert_eq!(inb.len(i), 4 + i);
        assert_eq!(inb.frame(i)[..4], (i as u32).to_le_bytes());
    }
}

/// `sendmmsg` then `recvmmsg` keep the frames and their order.
#[test]
fn mmsg_batches_keep_order() {
    let (a, b) = datagram_pair();
    let mut out = numbered(5);
    assert_eq!(out.send(&a, 5).expect("sent"), 5);
    let mut inb = FrameBatch::new(8, 64);
    assert_eq!(inb.recv(&b).expect("received"), 5);
    assert_numbered(&inb, 5);
}

/// A chain of sends arrives in order as one chain of receives; an empty socket gives 0
/// after the wait, and the ring stays usable.
#[test]
fn ring_batches_keep_order_and_an_empty_wait_returns_nothing() {
    let Ok(mut tx) = Ring::new(8) else {
        eprintln!("io_uring refused by this kernel: skipped");
        return;
    };
    let mut rx = Ring::new(8).expect("a second ring");
    let (a, b) = datagram_pair();
    let mut out = numbered(5);
    assert_eq!(out.send_ring(&mut tx, &a, 5).expect("sent"), 5);
    let mut inb = FrameBatch::new(8, 64);
    let got = inb
        .recv_ring(&mut rx, &b, Duration::from_millis(200))
        .expect("received");
    assert_eq!(got, 5);
    assert_numbered(&inb, 5);
    let t = std::time::Instant::now();
    assert_eq!(
        inb.recv_ring(&mut rx, &b, Duration::from_millis(30))
            .expect("timeout"),
        0
    );
    assert!(t.elapsed() >= Duration::from_millis(25));
    assert_eq!(out.send_ring(&mut tx, &a, 2).expect("sent again"), 2);
    assert_eq!(
        inb.recv_ring(&mut rx, &b, Duration::from_millis(200))
            .expect("again"),
        2
    );
}

/// A send on a socket whose peer is gone fails with the socket's error, not a count.
#[test]
fn a_failing_first_ring_send_is_an_error() {
    let Ok(mut tx) = Ring::new(4) else {
        return;
    };
    let (a, b) = datagram_pair();
    drop(b);
    let mut out = FrameBatch::new(4, 16);
    out.set_len(0, 8);
    out.set_len(1, 8);
    assert!(out.send_ring(&mut tx, &a, 2).is_err());
}
