//! The sockets of the kinds of ends: AF_PACKET on an interface, UDP, raw IP, a listening
//! unix seqpacket socket, or an adopted descriptor, with their options.

use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use super::{EndSpec, Kind, IPPROTO_GRE, IPPROTO_L2TP, SOCK_BUF};
use crate::encap::Encap;
use crate::error::{DatapathError, Result};
use crate::packet_socket::{PacketOptions, PacketSocket, ETH_P_ALL};
use crate::sockaddr;
use crate::socket::{cvt, getsockopt_int, grow_buffers, new_socket};

pub(super) fn bind_inet(fd: &OwnedFd, addr: &SocketAddr, what: &str) -> Result<()> {
    let (ss, len) = sockaddr::to_c(addr);
    // SAFETY: `ss` is a valid socket address of `len` bytes living across the call.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &ss as *const _ as *const libc::sockaddr,
            len,
        )
    };
    cvt(r, || format!("bind the {what} socket to {addr}")).map(|_| ())
}

/// The socket of a Packet end: every protocol, non-blocking, not seeing its own sends,
/// bypassing the qdisc.
fn open_packet(ifname: &str, vnet_hdr: bool) -> Result<OwnedFd> {
    let opts = PacketOptions {
        protocol: ETH_P_ALL,
        buffer_bytes: SOCK_BUF as usize,
        blocking: false,
        ignore_outgoing: true,
        qdisc_bypass: true,
        vnet_hdr,
    };
    Ok(PacketSocket::open(ifname, &opts)?.into_fd())
}

pub(super) fn open_rawip(
    proto: u8,
    local: IpAddr,
    remote: IpAddr,
    encap: &Encap,
) -> Result<OwnedFd> {
    match (proto, encap) {
        (IPPROTO_GRE, Encap::Gre(_)) => {}
        (IPPROTO_L2TP, Encap::L2tpv3(p)) if !p.cfg.udp => {}
        _ => {
            return Err(DatapathError::BadEnd(format!(
                "a raw IP end with protocol {proto} and {encap:?} is not valid: use protocol 47 \
                 with Encap::Gre, or 115 with Encap::L2tpv3 whose cfg.udp is false"
            )))
        }
    }
    if sockaddr::family(&local) != sockaddr::family(&remote) {
        return Err(DatapathError::BadEnd(format!(
            "the local address {local} and remote address {remote} must be of the same IP version"
        )));
    }
    let fd = new_socket(
        sockaddr::family(&local),
        libc::SOCK_RAW,
        libc::c_int::from(proto),
    )?;
    grow_buffers(&fd, SOCK_BUF);
    bind_inet(&fd, &SocketAddr::new(local, 0), "raw IP")?;
    let (ss, len) = sockaddr::to_c(&SocketAddr::new(remote, 0));
    // SAFETY: `ss` is a valid socket address of `len` bytes living across the call.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            &ss as *const _ as *const libc::sockaddr,
            len,
        )
    };
    cvt(r, || format!("connect the raw IP socket to {remote}"))?;
    Ok(fd)
}

pub(super) fn open_seqpacket(path: &std::path::Path) -> Result<OwnedFd> {
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain old data for which all-zero bytes are valid.
    let mut sun: libc::sockaddr_un = unsafe { mem::zeroed() };
    if bytes.is_empty() || bytes.len() >= sun.sun_path.len() || bytes.contains(&0) {
        return Err(DatapathError::BadEnd(format!(
            "the socket path {} must be 1 to {} bytes long without NUL bytes",
            path.display(),
            sun.sun_path.len() - 1
        )));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path).map_err(|e| {
            DatapathError::os(format!("remove the stale socket {}", path.display()), e)
        })?,
        Ok(_) => {
            return Err(DatapathError::BadEnd(format!(
                "{} exists and is not a socket: give a path that is free or a stale socket",
                path.display()
            )))
        }
        Err(_) => {}
    }
    let fd = new_socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0)?;
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in sun.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    // SAFETY: `sun` is a valid sockaddr_un living across the call; `len` is within it.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sun as *const libc::sockaddr_un as *const libc::sockaddr,
            len as libc::socklen_t,
        )
    };
    cvt(r, || {
        format!("bind a seqpacket socket to {}", path.display())
    })?;
    // Nobody can connect before listen(), so tightening the mode here leaves no window.
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        let _ = std::fs::remove_file(path);
        return Err(DatapathError::os(
            format!("make {} mode 0600", path.display()),
            e,
        ));
    }
    // SAFETY: plain system call on an owned descriptor.
    let r = unsafe { libc::listen(fd.as_raw_fd(), 4) };
    if let Err(e) = cvt(r, || format!("listen on {}", path.display())) {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(fd)
}

pub(super) fn set_nonblocking(fd: &OwnedFd, what: &str) -> Result<()> {
    // SAFETY: plain fcntl calls on an owned descriptor.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    cvt(flags, || format!("read the flags of {what}"))?;
    // SAFETY: as above.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) };
    cvt(r, || format!("make {what} non-blocking")).map(|_| ())
}

pub(super) fn adopt_fd(fd: &OwnedFd) -> Result<bool> {
    let ty = getsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_TYPE)
        .map_err(|e| DatapathError::os("read the type of the given socket", e))?;
    let conn = match ty {
        libc::SOCK_DGRAM => false,
        libc::SOCK_SEQPACKET => true,
        _ => {
            return Err(DatapathError::BadEnd(format!(
                "the given descriptor is a socket of type {ty}, but only datagram or seqpacket \
                 sockets carry one frame per message"
            )))
        }
    };
    // SAFETY: plain fcntl calls on an owned descriptor.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    cvt(flags, || "read the flags of the given socket".to_string())?;
    // SAFETY: as above.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) };
    cvt(r, || "make the given socket non-blocking".to_string())?;
    Ok(conn)
}

/// An end's socket as opened from its spec.
pub(super) struct Opened {
    /// What kind of end it is, with its kind's state.
    pub kind: Kind,
    /// The data socket (`None` for a seqpacket end until a peer connects).
    pub sock: Option<OwnedFd>,
    /// Connection-oriented: a zero-length message means the peer went away.
    pub conn: bool,
    /// The tunnel header it speaks.
    pub encap: Encap,
}

/// Opens the socket `spec` describes (`io_uring`: the end moves batches through io_uring,
/// which a tap cannot).
pub(super) fn open(spec: EndSpec, io_uring: bool) -> Result<Opened> {
    let (kind, sock, conn, encap) = match spec {
        EndSpec::Packet { ifname, vnet_hdr } => (
            Kind::Packet { vnet: vnet_hdr },
            Some(open_packet(&ifname, vnet_hdr)?),
            false,
            Encap::None,
        ),
        EndSpec::Udp {
            local,
            remote,
            encap,
        } => {
            encap.validate()?;
            if let Encap::L2tpv3(p) = &encap {
                if !p.cfg.udp {
                    return Err(DatapathError::BadEnd(
                        "L2TPv3 on a UDP end needs cfg.udp = true (the header starts with \
                         0x00030000)"
                            .to_string(),
                    ));
                }
            }
            let fd = new_socket(sockaddr::family(&local.ip()), libc::SOCK_DGRAM, 0)?;
            grow_buffers(&fd, SOCK_BUF);
            bind_inet(&fd, &local, "UDP")?;
            (
                Kind::Udp {
                    peer: remote,
                    fixed: remote.is_some(),
                },
                Some(fd),
                false,
                encap,
            )
        }
        EndSpec::RawIp {
            proto,
            local,
            remote,
            encap,
        } => {
            encap.validate()?;
            let fd = open_rawip(proto, local, remote, &encap)?;
            (
                Kind::RawIp {
                    strip_ip: local.is_ipv4(),
                },
                Some(fd),
                false,
                encap,
            )
        }
        EndSpec::Seqpacket { path } => {
            let listener = open_seqpacket(&path)?;
            (Kind::Seqpacket { listener, path }, None, true, Encap::None)
        }
        EndSpec::Fd(fd) => {
            let conn = adopt_fd(&fd)?;
            grow_buffers(&fd, SOCK_BUF);
            (Kind::Fd, Some(fd), conn, Encap::None)
        }
        EndSpec::Tap(fd) => {
            if io_uring {
                return Err(DatapathError::BadEnd(
                    "a tap end is read and written one frame per call, not through \
                     socket batches: use the mmsg backend for it"
                        .to_string(),
                ));
            }
            set_nonblocking(&fd, "the tap")?;
            (Kind::Tap, Some(fd), false, Encap::None)
        }
    };
    Ok(Opened {
        kind,
        sock,
        conn,
        encap,
    })
}
