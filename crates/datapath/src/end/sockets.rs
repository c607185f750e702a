//! The sockets of the kinds of ends: AF_PACKET on an interface, UDP, raw IP, a listening
//! unix seqpacket socket, or an adopted descriptor, with their options.

use std::ffi::CString;
use std::io;
use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use super::{EndSpec, Kind, IPPROTO_GRE, IPPROTO_L2TP, SOCK_BUF};
use crate::encap::Encap;
use crate::error::{DatapathError, Result};
use crate::sockaddr;

pub(super) fn cvt(r: libc::c_int, action: impl FnOnce() -> String) -> Result<libc::c_int> {
    if r < 0 {
        Err(DatapathError::last_os(action()))
    } else {
        Ok(r)
    }
}

pub(super) fn new_socket(
    domain: libc::c_int,
    ty: libc::c_int,
    proto: libc::c_int,
) -> Result<OwnedFd> {
    // SAFETY: plain system call with integer arguments.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, proto) };
    let fd = cvt(fd, || {
        format!("create a socket (domain {domain}, type {ty})")
    })?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(super) fn setsockopt_int(
    fd: &OwnedFd,
    level: libc::c_int,
    opt: libc::c_int,
    val: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `val` lives across the call and its size is passed.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            &val as *const libc::c_int as *const libc::c_void,
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub(super) fn getsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    opt: libc::c_int,
) -> io::Result<libc::c_int> {
    let mut val: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `val` and `len` live across the call and `len` holds val's size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            opt,
            &mut val as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(val)
    }
}

/// Raises the socket buffers (forcing past the sysctl limits when privileged). Best effort.
pub(super) fn grow_buffers(fd: &OwnedFd) {
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if setsockopt_int(fd, libc::SOL_SOCKET, force, SOCK_BUF).is_err() {
            let _ = setsockopt_int(fd, libc::SOL_SOCKET, plain, SOCK_BUF);
        }
    }
}

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

pub(super) fn open_packet(ifname: &str, vnet: bool) -> Result<OwnedFd> {
    let name = CString::new(ifname).map_err(|_| {
        DatapathError::BadEnd(format!("the interface name {ifname:?} contains a NUL byte"))
    })?;
    // SAFETY: `name` is a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(DatapathError::NoSuchInterface(ifname.to_string()));
    }
    // Protocol 0: receive nothing until bound to the one interface.
    let fd = new_socket(libc::AF_PACKET, libc::SOCK_RAW, 0)?;
    let opt = |opt, what: &str| {
        setsockopt_int(&fd, libc::SOL_PACKET, opt, 1).map_err(|e| {
            DatapathError::os(format!("set {what} on the packet socket of `{ifname}`"), e)
        })
    };
    opt(libc::PACKET_IGNORE_OUTGOING, "PACKET_IGNORE_OUTGOING")?;
    opt(libc::PACKET_QDISC_BYPASS, "PACKET_QDISC_BYPASS")?;
    if vnet {
        opt(libc::PACKET_VNET_HDR, "PACKET_VNET_HDR")?;
    }
    grow_buffers(&fd);
    // SAFETY: sockaddr_ll is plain old data for which all-zero bytes are valid.
    let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sll.sll_ifindex = index as libc::c_int;
    // SAFETY: `sll` is a valid sockaddr_ll living across the call, its size is passed.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    cvt(r, || {
        format!("bind a packet socket to interface `{ifname}`")
    })?;
    Ok(fd)
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
    grow_buffers(&fd);
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
            encap.validate().map_err(DatapathError::BadEnd)?;
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
            grow_buffers(&fd);
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
            encap.validate().map_err(DatapathError::BadEnd)?;
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
            grow_buffers(&fd);
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
