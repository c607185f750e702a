//! Helpers shared by the integration tests: frame builders and socket helpers.
#![allow(dead_code)]

use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use umlvnf_datapath::{Datapath, WireCounters, WireId};

/// Ones' complement checksum of `data`.
pub fn csum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet frame.
pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// IPv4 packet with a correct header checksum.
pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = csum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// UDP datagram (checksum 0 = none, valid over IPv4).
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// ICMP echo request.
pub fn icmp_echo(id: u16, seq: u16) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(b"umlvnf-datapath-test");
    let c = csum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

pub const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
pub const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

/// A whole Ethernet/IPv4/ICMP echo request frame.
pub fn icmp_frame(seq: u16) -> Vec<u8> {
    let ip = ipv4(
        Ipv4Addr::new(10, 9, 0, 1),
        Ipv4Addr::new(10, 9, 0, 2),
        1,
        &icmp_echo(0x77, seq),
    );
    eth(MAC_B, MAC_A, 0x0800, &ip)
}

/// A whole Ethernet/IPv4/UDP frame whose payload is `seq` (4 bytes, big-endian) plus padding.
pub fn udp_frame(seq: u32) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.extend_from_slice(&[0x5a; 14]);
    let ip = ipv4(
        Ipv4Addr::new(10, 9, 0, 1),
        Ipv4Addr::new(10, 9, 0, 2),
        17,
        &udp(5000, 6000, &p),
    );
    eth(MAC_B, MAC_A, 0x0800, &ip)
}

/// Two UDP sockets on loopback connected to each other: (test side, wire side).
pub fn udp_pair(test_ip: &str, wire_ip: &str) -> (UdpSocket, UdpSocket) {
    let t = UdpSocket::bind(format!("{test_ip}:0")).unwrap();
    let w = UdpSocket::bind(format!("{wire_ip}:0")).unwrap();
    t.connect(w.local_addr().unwrap()).unwrap();
    w.connect(t.local_addr().unwrap()).unwrap();
    t.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    (t, w)
}

/// Receives datagrams until none arrives for the socket's read timeout.
pub fn drain(sock: &UdpSocket) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

/// Waits until the wire's counters stop changing and conserve, and returns them.
pub fn settle(dp: &Datapath, id: WireId) -> WireCounters {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = dp.counters(id).unwrap();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = dp.counters(id).unwrap();
        if (now == last && now.is_conserved()) || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Connects a SOCK_SEQPACKET client to `path`, with a receive timeout of `recv_timeout`.
pub fn seqpacket_connect(path: &std::path::Path, recv_timeout: Duration) -> OwnedFd {
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: test code; plain socket call.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    // SAFETY: fd is fresh and owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: zeroed sockaddr_un is valid.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in sun.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
        *d = *s as libc::c_char;
    }
    // SAFETY: sun is a valid address of the given size.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            &sun as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "connect: {}", std::io::Error::last_os_error());
    let tv = libc::timeval {
        tv_sec: recv_timeout.as_secs() as libc::time_t,
        tv_usec: recv_timeout.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: tv lives across the call.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    fd
}
