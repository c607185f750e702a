//! Interface configuration through rtnetlink, without spawning `ip`: bringing links up,
//! renaming them, setting their MTU and adding addresses. In a UML guest every fork+exec costs
//! a few milliseconds of the guest kernel's time, and a router's boot configured each
//! interface with three of them; on a host booting a hundred guests at once that was most of
//! their boot.

use std::io;
use std::net::IpAddr;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

/// What to change on one link with one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkChange<'a> {
    /// New name.
    pub name: Option<&'a str>,
    /// New MTU.
    pub mtu: Option<u32>,
    /// Set the link administratively up.
    pub up: bool,
}

/// An rtnetlink socket of the current network namespace.
pub struct Rtnl {
    fd: i32,
    seq: u32,
}

impl Drop for Rtnl {
    fn drop(&mut self) {
        // SAFETY: fd is the socket this value opened, closed once here.
        unsafe { libc::close(self.fd) };
    }
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// Appends one attribute (type, payload) padded to 4 bytes.
fn attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(align(buf.len()), 0);
}

/// A whole message: header, then `body` (family header and attributes).
fn message(kind: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(NLMSG_HDRLEN + body.len());
    m.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(body);
    m
}

/// `RTM_NEWLINK` on link `index` (an `ip link set` request).
pub fn link_message(seq: u32, index: u32, change: &LinkChange) -> Vec<u8> {
    let mut body = Vec::new();
    body.push(libc::AF_UNSPEC as u8);
    body.push(0);
    body.extend_from_slice(&0u16.to_ne_bytes()); // device type
    body.extend_from_slice(&(index as i32).to_ne_bytes());
    let up = if change.up { libc::IFF_UP as u32 } else { 0 };
    body.extend_from_slice(&up.to_ne_bytes()); // flags
    body.extend_from_slice(&up.to_ne_bytes()); // change mask
    if let Some(name) = change.name {
        let mut z = name.as_bytes().to_vec();
        z.push(0);
        attr(&mut body, IFLA_IFNAME, &z);
    }
    if let Some(mtu) = change.mtu {
        attr(&mut body, IFLA_MTU, &mtu.to_ne_bytes());
    }
    message(RTM_NEWLINK, 0, seq, &body)
}

/// `RTM_NEWADDR` adding `addr/prefix` to link `index` (an `ip addr add` request: local and
/// peer address equal, universe scope; fails if the address exists).
pub fn address_message(seq: u32, index: u32, addr: IpAddr, prefix: u8) -> Vec<u8> {
    let (family, bytes) = match addr {
        IpAddr::V4(a) => (libc::AF_INET, a.octets().to_vec()),
        IpAddr::V6(a) => (libc::AF_INET6, a.octets().to_vec()),
    };
    let mut body = vec![family as u8, prefix, 0, 0];
    body.extend_from_slice(&index.to_ne_bytes());
    attr(&mut body, IFA_LOCAL, &bytes);
    attr(&mut body, IFA_ADDRESS, &bytes);
    message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, seq, &body)
}

/// Parses `ADDR/PREFIX` (or a bare address: a host prefix), as `ip addr add` takes it.
pub fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
        None => (text.parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some((addr, prefix))
}

/// The index of interface `name`.
pub fn index_of(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the name"))?;
    // SAFETY: c is a NUL-terminated string that outlives the call.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("Cannot find device \"{name}\""),
        )),
        i => Ok(i),
    }
}

impl Rtnl {
    /// Opens a `NETLINK_ROUTE` socket.
    pub fn open() -> io::Result<Rtnl> {
        // SAFETY: a plain socket call; the descriptor is owned by the returned value.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Rtnl { fd, seq: 1 })
    }

    /// Changes link `name`.
    pub fn set_link(&mut self, name: &str, change: &LinkChange) -> io::Result<()> {
        let index = index_of(name)?;
        let seq = self.next_seq();
        self.call(&link_message(seq, index, change), seq)
    }

    /// Adds `addr/prefix` to link `name`.
    pub fn add_address(&mut self, name: &str, addr: IpAddr, prefix: u8) -> io::Result<()> {
        let index = index_of(name)?;
        let seq = self.next_seq();
        self.call(&address_message(seq, index, addr, prefix), seq)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends one request and waits for its acknowledgement.
    fn call(&mut self, msg: &[u8], seq: u32) -> io::Result<()> {
        // SAFETY: sockaddr_nl is plain data; all zeroes addresses the kernel.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: msg is a valid buffer of msg.len() bytes; addr is a valid sockaddr_nl.
        let sent = unsafe {
            libc::sendto(
                self.fd,
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; 16384];
        loop {
            // SAFETY: buf is a writable buffer of buf.len() bytes.
            let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if let Some(result) = find_ack(&buf[..n as usize], seq) {
                return result;
            }
        }
    }
}

/// The acknowledgement of request `seq` among the messages in `data`, if there is one:
/// `Ok` for success, the kernel's error otherwise.
fn find_ack(data: &[u8], seq: u32) -> Option<io::Result<()>> {
    let mut off = 0;
    while off + NLMSG_HDRLEN <= data.len() {
        let word = |at: usize| u32::from_ne_bytes(data[at..at + 4].try_into().unwrap_or([0; 4]));
        let len = word(off) as usize;
        let kind = u16::from_ne_bytes([data[off + 4], data[off + 5]]);
        let msg_seq = word(off + 8);
        if len < NLMSG_HDRLEN || off + len > data.len() {
            return None;
        }
        if kind == NLMSG_ERROR && msg_seq == seq && len >= NLMSG_HDRLEN + 4 {
            let code = word(off + NLMSG_HDRLEN) as i32;
            return Some(if code == 0 {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(-code))
            });
        }
        off += align(len);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_message_layout() {
        let m = link_message(
            7,
            3,
            &LinkChange {
                name: Some("eth0"),
                mtu: Some(1400),
                up: true,
            },
        );
        // header 16 + ifinfomsg 16 + IFLA_IFNAME (4 + "eth0\0" padded to 8) + IFLA_MTU 8.
        assert_eq!(m.len(), 16 + 16 + 12 + 8);
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()),
            m.len() as u32
        );
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWLINK);
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 7);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 3);
        assert_eq!(u32::from_ne_bytes(m[24..28].try_into().unwrap()), 1); // IFF_UP
        assert_eq!(u16::from_ne_bytes([m[32], m[33]]), 9);
        assert_eq!(u16::from_ne_bytes([m[34], m[35]]), IFLA_IFNAME);
        assert_eq!(&m[36..41], b"eth0\0");
        assert_eq!(u32::from_ne_bytes(m[48..52].try_into().unwrap()), 1400);
    }

    #[test]
    fn address_message_layout() {
        let m = address_message(1, 2, "10.1.0.254".parse().unwrap(), 24);
        assert_eq!(m.len(), 16 + 8 + 8 + 8);
        assert_eq!(
            u16::from_ne_bytes([m[6], m[7]]),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        );
        assert_eq!(&m[16..20], &[libc::AF_INET as u8, 24, 0, 0]);
        assert_eq!(&m[28..32], &[10, 1, 0, 254]);
        let m6 = address_message(1, 2, "2001:db8::1".parse().unwrap(), 64);
        assert_eq!(m6.len(), 16 + 8 + 20 + 20);
    }

    #[test]
    fn cidr_texts() {
        assert_eq!(
            parse_cidr("10.1.0.254/24"),
            Some(("10.1.0.254".parse().unwrap(), 24))
        );
        assert_eq!(
            parse_cidr("2001:db8::1"),
            Some(("2001:db8::1".parse().unwrap(), 128))
        );
        assert_eq!(parse_cidr("10.0.0.1/33"), None);
        assert_eq!(parse_cidr("10.0.0.1/x"), None);
        assert_eq!(parse_cidr("eth0"), None);
    }

    #[test]
    fn acks_are_found_by_sequence() {
        let ack = |seq: u32, code: i32| {
            let mut m = Vec::new();
            m.extend_from_slice(&36u32.to_ne_bytes());
            m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
            m.extend_from_slice(&0u16.to_ne_bytes());
            m.extend_from_slice(&seq.to_ne_bytes());
            m.extend_from_slice(&0u32.to_ne_bytes());
            m.extend_from_slice(&code.to_ne_bytes());
            m.extend_from_slice(&[0; 16]);
            m
        };
        let mut two = ack(4, 0);
        two.extend(ack(5, -libc::EEXIST));
        assert!(matches!(find_ack(&two, 4), Some(Ok(()))));
        let e = find_ack(&two, 5).unwrap().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        assert!(find_ack(&two, 6).is_none());
        assert!(find_ack(&two[..20], 4).is_none());
    }

    /// The MTU of `name` in this thread's network namespace (`SIOCGIFMTU`).
    fn mtu_of(name: &str) -> i32 {
        #[repr(C)]
        struct IfMtu {
            name: [u8; 16],
            mtu: i32,
            _pad: [u8; 20],
        }
        let mut req = IfMtu {
            name: [0; 16],
            mtu: 0,
            _pad: [0; 20],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: a datagram socket, closed below; req is a valid ifreq for SIOCGIFMTU.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
            assert!(fd >= 0);
            assert_eq!(libc::ioctl(fd, libc::SIOCGIFMTU as _, &mut req), 0);
            libc::close(fd);
        }
        req.mtu
    }

    /// In a network namespace of its own (this thread only): loopback up, addresses added,
    /// a duplicate refused with the kernel's error, an unknown device named.
    #[test]
    fn root_netlink_configures_a_private_namespace() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            panic!("this test needs root: run `make test` as root");
        }
        std::thread::spawn(|| {
            // SAFETY: unshare on this thread only; the thread ends with the test.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
            let mut nl = Rtnl::open().unwrap();
            nl.set_link(
                "lo",
                &LinkChange {
                    up: true,
                    mtu: Some(9000),
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(mtu_of("lo"), 9000);
            let (a, p) = parse_cidr("10.9.0.1/24").unwrap();
            nl.add_address("lo", a, p).unwrap();
            let (a6, p6) = parse_cidr("2001:db8:9::1/64").unwrap();
            nl.add_address("lo", a6, p6).unwrap();
            let dup = nl.add_address("lo", a, p).unwrap_err();
            assert_eq!(dup.raw_os_error(), Some(libc::EEXIST));
            let missing = nl.set_link("nosuch0", &LinkChange::default()).unwrap_err();
            assert!(missing.to_string().contains("nosuch0"), "{missing}");
            let v6 = std::fs::read_to_string("/proc/thread-self/net/if_inet6").unwrap();
            assert!(v6.contains("20010db8000900000000000000000001"), "{v6}");
            // The address answers: a UDP socket binds to it only if it is configured.
            let sock = std::net::UdpSocket::bind("10.9.0.1:0").expect("10.9.0.1 is configured");
            sock.send_to(b"x", sock.local_addr().unwrap()).unwrap();
            let mut b = [0u8; 1];
            sock.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            assert_eq!(sock.recv(&mut b).unwrap(), 1, "loopback is up");
        })
        .join()
        .unwrap();
    }
}
