//! Link ends: one socket each, receiving a batch of frames into preallocated buffers with
//! `recvmmsg` and sending a batch with `sendmmsg`, with the end's tunnel encapsulation or
//! virtio-net header added on send and checked/removed on receive.

use std::ffi::CString;
use std::io;
use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;

use umlvnf_datapath_spec::Backend;
use umlvnf_packet::ipv4;
use umlvnf_packet::vnet::{self, VnetHdr};

use crate::counters::DropReason;
use crate::encap::{Encap, EncapState, MAX_HEADER};
use crate::error::{DatapathError, Result};
use crate::sockaddr;
use crate::uring::{Op, Ring};

/// Bytes of one receive slot: a 64 KiB frame plus room for tunnel, IP and vnet headers.
pub const SLOT_LEN: usize = 65536 + 128;
/// Largest batch depth accepted.
pub const MAX_DEPTH: usize = 1024;
/// Receive and send buffer size asked of the kernel for every end (best effort).
const SOCK_BUF: libc::c_int = 4 << 20;
/// Bytes of header scratch per send slot (vnet header or tunnel header).
const HDR_LEN: usize = 64;
/// IP protocol number of GRE.
pub const IPPROTO_GRE: u8 = 47;
/// IP protocol number of L2TPv3 over IP.
pub const IPPROTO_L2TP: u8 = 115;

/// What an end is attached to.
#[derive(Debug)]
pub enum EndSpec {
    /// An AF_PACKET raw socket bound to interface `ifname` (all protocols), not seeing its
    /// own sends, bypassing the qdisc. With `vnet_hdr`, frames carry the 10-byte virtio-net
    /// header on the socket and may be 64 KiB GSO frames. Needs CAP_NET_RAW; the interface
    /// is looked up in the calling thread's network namespace and must be up to pass frames.
    Packet {
        /// Interface name.
        ifname: String,
        /// Whether to use `PACKET_VNET_HDR`.
        vnet_hdr: bool,
    },
    /// A UDP socket bound to `local`, one frame (with `encap`'s header) per datagram. With
    /// `remote` set, only datagrams from it are taken (others drop as `encap`) and frames go
    /// to it; with `None`, the peer is learned from datagrams that decapsulate cleanly (the
    /// latest such sender wins), and sends before the first one drop as `send_error`.
    Udp {
        /// Local address to bind.
        local: SocketAddr,
        /// Fixed peer, or `None` to learn it.
        remote: Option<SocketAddr>,
        /// Tunnel header (for L2TPv3, `cfg.udp` must be true).
        encap: Encap,
    },
    /// A raw IP socket of protocol `proto` (47 GRE with `Encap::Gre`, 115 L2TPv3 with
    /// `Encap::L2tpv3` and `cfg.udp == false`), bound to `local` and connected to `remote`.
    /// Needs CAP_NET_RAW. Only one such end per local address and protocol makes sense.
    RawIp {
        /// IP protocol number.
        proto: u8,
        /// Local address.
        local: IpAddr,
        /// Remote address (same family).
        remote: IpAddr,
        /// Tunnel header.
        encap: Encap,
    },
    /// An AF_UNIX SOCK_SEQPACKET socket listening on `path` (mode 0600, at most 107 bytes;
    /// a stale socket file is replaced, any other file is an error) that accepts one peer at
    /// a time (a newer connection replaces the older one; a peer that goes away is forgotten
    /// and the next connection accepted). One frame per message, no header: UML's
    /// `vecN:transport=bess,dst=PATH`. The path is removed when the end is dropped.
    Seqpacket {
        /// Socket path.
        path: PathBuf,
    },
    /// An already-open datagram or seqpacket socket, one frame per message, no header. It is
    /// made non-blocking. A seqpacket socket whose peer goes away is closed for good.
    Fd(OwnedFd),
    /// An already-open tap descriptor (`/dev/net/tun` attached with `IFF_TAP | IFF_NO_PI |
    /// IFF_VNET_HDR`): one frame per `read`/`writev`, each with the 10-byte virtio-net header,
    /// GSO frames when the tap was given offloads (`TUNSETOFFLOAD`). The datapath writes into
    /// the tap's own interface, one crossing fewer than a veth read with AF_PACKET. Made
    /// non-blocking; the mmsg backend only (a tap is not a socket).
    Tap(OwnedFd),
}

impl EndSpec {
    /// Short human description for errors and listings.
    pub fn describe(&self) -> String {
        match self {
            EndSpec::Packet { ifname, .. } => format!("packet:{ifname}"),
            EndSpec::Udp { local, remote, .. } => match remote {
                Some(r) => format!("udp:{local}->{r}"),
                None => format!("udp:{local}"),
            },
            EndSpec::RawIp {
                proto,
                local,
                remote,
                ..
            } => format!("ip{proto}:{local}->{remote}"),
            EndSpec::Seqpacket { path } => format!("seqpacket:{}", path.display()),
            EndSpec::Fd(fd) => format!("fd:{}", fd.as_raw_fd()),
            EndSpec::Tap(fd) => format!("tap-fd:{}", fd.as_raw_fd()),
        }
    }
}

/// One received frame: the Ethernet frame and, on a vnet end, its virtio-net header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxFrame<'a> {
    /// The Ethernet frame (tunnel, IP and vnet headers removed).
    pub data: &'a [u8],
    /// The virtio-net header it came with (vnet Packet ends only).
    pub vnet: Option<VnetHdr>,
}

/// One frame to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxFrame<'a> {
    /// The Ethernet frame.
    pub data: &'a [u8],
    /// Its virtio-net header; used only by vnet Packet ends (which send a zero header when
    /// this is `None`) and ignored by others.
    pub vnet: Option<VnetHdr>,
}

/// What one [`End::send_batch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendOutcome {
    /// Frames the kernel took.
    pub sent: usize,
    /// Frames that failed (no peer yet, header did not fit, or the send call failed).
    pub failed: usize,
    /// System calls made (`sendmmsg`, or `io_uring_enter` on the io_uring backend).
    pub syscalls: usize,
    /// Bytes handed to the kernel for the frames it took (headers included).
    pub bytes: u64,
}

/// Which of an end's descriptors a poll entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The data socket: read frames.
    Data,
    /// The listening socket of a seqpacket end: accept.
    Listener,
}

#[derive(Debug)]
enum Kind {
    Packet {
        vnet: bool,
    },
    Udp {
        peer: Option<SocketAddr>,
        fixed: bool,
    },
    RawIp {
        strip_ip: bool,
    },
    Seqpacket {
        listener: OwnedFd,
        path: PathBuf,
    },
    Fd,
    Tap,
}

/// One link end: a socket plus preallocated batch buffers.
pub struct End {
    /// The io_uring of an end on that backend. First field, so it is dropped (with nothing
    /// in flight) before the buffers its requests pointed at.
    ring: Option<Ring>,
    kind: Kind,
    sock: Option<OwnedFd>,
    /// Connection-oriented (seqpacket): a zero-length message means the peer went away.
    conn: bool,
    encap: EncapState,
    depth: usize,
    desc: String,
    rx_buf: Vec<u8>,
    rx_len: Vec<usize>,
    rx_flags: Vec<libc::c_int>,
    rx_name: Vec<libc::sockaddr_storage>,
    tx_hdr: Vec<[u8; HDR_LEN]>,
    mmsg: Vec<libc::mmsghdr>,
    iov: Vec<libc::iovec>,
    /// System calls made by the last [`End::recv_batch`].
    rx_syscalls: usize,
}

// SAFETY: the raw pointers inside `mmsg` and `iov` only ever point into this End's own heap
// buffers (or into caller slices during a call), and they are rewritten before every system
// call; nothing is shared with another thread. The io_uring (if any) has no request in
// flight between calls, so no kernel-side reference to the buffers outlives a call.
unsafe impl Send for End {}

impl std::fmt::Debug for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("End")
            .field("desc", &self.desc)
            .field("kind", &self.kind)
            .field("depth", &self.depth)
            .field("io_uring", &self.ring.is_some())
            .finish()
    }
}

fn cvt(r: libc::c_int, action: impl FnOnce() -> String) -> Result<libc::c_int> {
    if r < 0 {
        Err(DatapathError::last_os(action()))
    } else {
        Ok(r)
    }
}

fn new_socket(domain: libc::c_int, ty: libc::c_int, proto: libc::c_int) -> Result<OwnedFd> {
    // SAFETY: plain system call with integer arguments.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, proto) };
    let fd = cvt(fd, || {
        format!("create a socket (domain {domain}, type {ty})")
    })?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setsockopt_int(
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

fn getsockopt_int(fd: RawFd, level: libc::c_int, opt: libc::c_int) -> io::Result<libc::c_int> {
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
fn grow_buffers(fd: &OwnedFd) {
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if setsockopt_int(fd, libc::SOL_SOCKET, force, SOCK_BUF).is_err() {
            let _ = setsockopt_int(fd, libc::SOL_SOCKET, plain, SOCK_BUF);
        }
    }
}

fn bind_inet(fd: &OwnedFd, addr: &SocketAddr, what: &str) -> Result<()> {
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

fn open_packet(ifname: &str, vnet: bool) -> Result<OwnedFd> {
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

fn open_rawip(proto: u8, local: IpAddr, remote: IpAddr, encap: &Encap) -> Result<OwnedFd> {
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

fn open_seqpacket(path: &std::path::Path) -> Result<OwnedFd> {
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

fn set_nonblocking(fd: &OwnedFd, what: &str) -> Result<()> {
    // SAFETY: plain fcntl calls on an owned descriptor.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    cvt(flags, || format!("read the flags of {what}"))?;
    // SAFETY: as above.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) };
    cvt(r, || format!("make {what} non-blocking")).map(|_| ())
}

fn adopt_fd(fd: &OwnedFd) -> Result<bool> {
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

impl End {
    /// Opens the socket described by `spec`, with buffers for batches of `depth` frames
    /// (1..=1024), on the mmsg backend.
    pub fn open(spec: EndSpec, depth: usize) -> Result<End> {
        End::open_with(spec, depth, Backend::Mmsg)
    }

    /// Opens the socket described by `spec`, with buffers for batches of `depth` frames
    /// (1..=1024), moving batches with `backend`. With [`Backend::IoUring`] the end gets its
    /// own ring (fails with [`DatapathError::BackendUnavailable`] when the kernel refuses
    /// one); the first thread that receives or sends on it becomes the only one that may
    /// (another thread's batches then fail: receives as errors, sends as failed frames).
    pub fn open_with(spec: EndSpec, depth: usize, backend: Backend) -> Result<End> {
        if depth == 0 || depth > MAX_DEPTH {
            return Err(DatapathError::BadDepth(depth));
        }
        let ring = match backend {
            Backend::Mmsg => None,
            Backend::IoUring => Some(Ring::new(depth)?),
        };
        let desc = spec.describe();
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
                if ring.is_some() {
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
        // SAFETY: sockaddr_storage and mmsghdr are plain old data for which all-zero bytes
        // are valid (null pointers, zero lengths).
        let (name0, mmsg0): (libc::sockaddr_storage, libc::mmsghdr) =
            unsafe { (mem::zeroed(), mem::zeroed()) };
        let iov0 = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        Ok(End {
            ring,
            kind,
            sock,
            conn,
            encap: EncapState::new(encap),
            depth,
            desc,
            rx_buf: vec![0; depth * SLOT_LEN],
            rx_len: vec![0; depth],
            rx_flags: vec![0; depth],
            rx_name: vec![name0; depth],
            tx_hdr: vec![[0; HDR_LEN]; depth],
            mmsg: vec![mmsg0; depth],
            iov: vec![iov0; 2 * depth],
            rx_syscalls: 0,
        })
    }

    /// Short description of the end (e.g. `packet:veth0`, `udp:127.0.0.2:1701`).
    pub fn describe(&self) -> &str {
        &self.desc
    }

    /// Batch depth.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Whether frames on this end's socket carry the virtio-net header (and may be GSO).
    pub fn has_vnet(&self) -> bool {
        matches!(self.kind, Kind::Packet { vnet: true } | Kind::Tap)
    }

    /// Whether the end has a data socket now (a seqpacket end without a peer has none).
    pub fn is_connected(&self) -> bool {
        self.sock.is_some()
    }

    /// The UDP peer frames go to (fixed or learned), if any.
    pub fn udp_peer(&self) -> Option<SocketAddr> {
        match self.kind {
            Kind::Udp { peer, .. } => peer,
            _ => None,
        }
    }

    /// The local address of an IP (UDP or raw IP) end's socket, e.g. to learn the port the
    /// kernel chose for a UDP end bound to port 0.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        let fd = self.sock.as_ref()?.as_raw_fd();
        // SAFETY: sockaddr_storage is plain old data for which all-zero bytes are valid.
        let mut ss: libc::sockaddr_storage = unsafe { mem::zeroed() };
        let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `ss` and `len` live across the call and `len` holds the storage's size.
        let r =
            unsafe { libc::getsockname(fd, &mut ss as *mut _ as *mut libc::sockaddr, &mut len) };
        if r < 0 {
            return None;
        }
        sockaddr::from_c(&ss)
    }

    /// Frames the kernel dropped on a Packet end since the last call because the socket's
    /// receive buffer was full (`PACKET_STATISTICS`, which resets on read); `None` for other
    /// ends.
    pub fn take_kernel_drops(&self) -> Option<u64> {
        if !matches!(self.kind, Kind::Packet { .. }) {
            return None;
        }
        /// struct tpacket_stats from <linux/if_packet.h>.
        #[repr(C)]
        #[derive(Default)]
        struct TpacketStats {
            packets: u32,
            drops: u32,
        }
        let fd = self.sock.as_ref()?.as_raw_fd();
        let mut st = TpacketStats::default();
        let mut len = mem::size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: `st` and `len` live across the call and `len` holds st's size.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                &mut st as *mut TpacketStats as *mut libc::c_void,
                &mut len,
            )
        };
        (r == 0).then_some(u64::from(st.drops))
    }

    /// Accepts a waiting connection on a seqpacket end, replacing the current peer.
    /// Returns whether a peer was accepted.
    pub fn accept(&mut self) -> bool {
        let Kind::Seqpacket { listener, .. } = &self.kind else {
            return false;
        };
        // SAFETY: null address pointers are allowed; the listener is an owned descriptor.
        let fd = unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            return false;
        }
        // SAFETY: `fd` was just returned by accept4 and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        grow_buffers(&fd);
        self.sock = Some(fd);
        true
    }

    /// Forgets a connection-oriented peer that went away.
    pub(crate) fn hang_up(&mut self) {
        if self.conn {
            self.sock = None;
        }
    }

    /// Whether a hang-up on the data socket should close it.
    pub(crate) fn is_conn(&self) -> bool {
        self.conn
    }

    /// Descriptors to poll for input.
    pub(crate) fn poll_fds(&self, out: &mut Vec<(RawFd, Role)>) {
        if let Kind::Seqpacket { listener, .. } = &self.kind {
            out.push((listener.as_raw_fd(), Role::Listener));
        }
        if let Some(s) = &self.sock {
            out.push((s.as_raw_fd(), Role::Data));
        }
    }

    /// Receives up to `depth` messages without blocking into the end's buffers and returns
    /// how many arrived (0 when none is waiting or there is no peer). Read each with
    /// [`End::frame`]. A seqpacket peer that went away is forgotten.
    pub fn recv_batch(&mut self) -> io::Result<usize> {
        self.rx_syscalls = 0;
        let Some(fd) = self.sock.as_ref().map(|s| s.as_raw_fd()) else {
            return Ok(0);
        };
        if matches!(self.kind, Kind::Tap) {
            return self.read_frames(fd);
        }
        let want_name = matches!(self.kind, Kind::Udp { .. });
        let base = self.rx_buf.as_mut_ptr();
        for i in 0..self.depth {
            self.iov[i] = libc::iovec {
                // SAFETY: slot i lies inside rx_buf (depth * SLOT_LEN bytes).
                iov_base: unsafe { base.add(i * SLOT_LEN) } as *mut libc::c_void,
                iov_len: SLOT_LEN,
            };
            let h = &mut self.mmsg[i].msg_hdr;
            // SAFETY: msghdr is plain old data for which all-zero bytes are valid.
            *h = unsafe { mem::zeroed() };
            h.msg_iov = &mut self.iov[i];
            h.msg_iovlen = 1;
            if want_name {
                h.msg_name = &mut self.rx_name[i] as *mut _ as *mut libc::c_void;
                h.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            }
            self.mmsg[i].msg_len = 0;
        }
        let mut n = match self.ring.as_mut() {
            None => {
                self.rx_syscalls = 1;
                // SAFETY: mmsg holds `depth` headers whose iovecs and names point into this
                // End's buffers, which stay alive and unaliased for the duration of the call.
                let n = unsafe {
                    libc::recvmmsg(
                        fd,
                        self.mmsg.as_mut_ptr(),
                        self.depth as libc::c_uint,
                        libc::MSG_DONTWAIT,
                        std::ptr::null_mut(),
                    )
                };
                if n < 0 {
                    return self.recv_failed(io::Error::last_os_error());
                }
                n as usize
            }
            Some(ring) => {
                // SAFETY: as for recvmmsg above; `run` returns only once every request has
                // completed, so nothing writes into the buffers afterwards.
                self.rx_syscalls = unsafe { ring.run(fd, Op::Recv, &mut self.mmsg[..self.depth]) };
                let res = ring.results();
                let n = res.iter().take_while(|&&r| r >= 0).count();
                for (m, &r) in self.mmsg.iter_mut().zip(&res[..n]) {
                    m.msg_len = r as libc::c_uint;
                }
                match res.get(n) {
                    Some(&r) if n == 0 && r != -libc::ECANCELED => {
                        return self.recv_failed(io::Error::from_raw_os_error(-r));
                    }
                    _ => n,
                }
            }
        };
        for i in 0..n {
            self.rx_len[i] = (self.mmsg[i].msg_len as usize).min(SLOT_LEN);
            self.rx_flags[i] = self.mmsg[i].msg_hdr.msg_flags;
            if self.conn && self.rx_len[i] == 0 {
                // End of stream: the peer went away.
                self.sock = None;
                n = i;
                break;
            }
        }
        Ok(n)
    }

    /// Reads up to `depth` frames one `read` each (a tap), until none is waiting.
    fn read_frames(&mut self, fd: RawFd) -> io::Result<usize> {
        let mut n = 0;
        while n < self.depth {
            self.rx_syscalls += 1;
            let slot = &mut self.rx_buf[n * SLOT_LEN..(n + 1) * SLOT_LEN];
            // SAFETY: reads at most SLOT_LEN bytes into slot n, which is SLOT_LEN bytes long.
            let r = unsafe { libc::read(fd, slot.as_mut_ptr() as *mut libc::c_void, SLOT_LEN) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if n > 0 {
                    break;
                }
                return self.recv_failed(e);
            }
            if r == 0 {
                break;
            }
            self.rx_len[n] = r as usize;
            self.rx_flags[n] = 0;
            n += 1;
        }
        Ok(n)
    }

    /// What a failed receive means: nothing waiting (no frames), a seqpacket peer gone
    /// (forgotten, no frames), or an error to report.
    fn recv_failed(&mut self, e: io::Error) -> io::Result<usize> {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
            _ => {
                if self.conn {
                    self.sock = None;
                    Ok(0)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// System calls (`recvmmsg`, or `io_uring_enter`) the last [`End::recv_batch`] made.
    pub fn rx_syscalls(&self) -> usize {
        self.rx_syscalls
    }

    /// Whether the end moves its batches through io_uring.
    pub fn is_io_uring(&self) -> bool {
        self.ring.is_some()
    }

    /// Bytes of the first `n` messages of the last batch, as they were on the socket.
    pub fn batch_bytes(&self, n: usize) -> u64 {
        self.rx_len[..n.min(self.depth)]
            .iter()
            .map(|&l| l as u64)
            .sum()
    }

    /// Locates the Ethernet frame of message `i` of the last batch inside its slot, checking
    /// truncation, the tunnel header and (UDP) the sender. Learns the UDP peer.
    pub(crate) fn locate(
        &mut self,
        i: usize,
    ) -> Result<(Range<usize>, Option<VnetHdr>), DropReason> {
        if i >= self.depth {
            return Err(DropReason::Truncated);
        }
        if self.rx_flags[i] & libc::MSG_TRUNC != 0 {
            return Err(DropReason::Truncated);
        }
        let len = self.rx_len[i];
        let pkt = &self.rx_buf[i * SLOT_LEN..i * SLOT_LEN + len];
        match &mut self.kind {
            Kind::Packet { vnet: true } | Kind::Tap => {
                let hdr = VnetHdr::parse(pkt).map_err(|_| DropReason::Truncated)?;
                Ok((vnet::LEN..len, Some(hdr)))
            }
            Kind::Packet { vnet: false } | Kind::Seqpacket { .. } | Kind::Fd => Ok((0..len, None)),
            Kind::RawIp { strip_ip } => {
                let inner = if *strip_ip {
                    ipv4::strip_header(pkt).map_err(|_| DropReason::Encap)?
                } else {
                    pkt
                };
                let off = len - inner.len();
                let r = self.encap.decap(inner).ok_or(DropReason::Encap)?;
                Ok((off + r.start..off + r.end, None))
            }
            Kind::Udp { peer, fixed } => {
                let from = sockaddr::from_c(&self.rx_name[i]);
                if *fixed && from != *peer {
                    return Err(DropReason::Encap);
                }
                let r = self.encap.decap(pkt).ok_or(DropReason::Encap)?;
                if !*fixed && from.is_some() {
                    *peer = from;
                }
                Ok((r, None))
            }
        }
    }

    /// The Ethernet frame of message `i` of the last batch, or why it must be dropped
    /// (`truncated`: cut short by the socket or a short vnet header; `encap`: bad or foreign
    /// tunnel header, or a UDP datagram from a sender other than the fixed remote).
    pub fn frame(&mut self, i: usize) -> Result<RxFrame<'_>, DropReason> {
        let (r, vnet) = self.locate(i)?;
        let base = i * SLOT_LEN;
        Ok(RxFrame {
            data: &self.rx_buf[base + r.start..base + r.end],
            vnet,
        })
    }

    /// Mutable slot `i` of the receive buffers (for in-place checksum completion).
    pub(crate) fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.rx_buf[i * SLOT_LEN..(i + 1) * SLOT_LEN]
    }

    /// Slot `i` of the receive buffers.
    pub(crate) fn slot(&self, i: usize) -> &[u8] {
        &self.rx_buf[i * SLOT_LEN..(i + 1) * SLOT_LEN]
    }

    /// Sends `frames` without blocking, `depth` per `sendmmsg`, adding this end's tunnel or
    /// vnet header. Frames the kernel refuses are counted as failed (a full socket buffer
    /// fails the rest of the batch; other errors fail only the frame at fault).
    /// Takes the frames from an iterator, so a caller can send from its own buffers without
    /// collecting them first.
    pub fn send_batch<'a>(&mut self, frames: impl IntoIterator<Item = TxFrame<'a>>) -> SendOutcome {
        let mut out = SendOutcome::default();
        let mut frames = frames.into_iter().peekable();
        while frames.peek().is_some() {
            let chunk = frames.by_ref().take(self.depth);
            self.send_chunk(chunk, &mut out);
        }
        out
    }

    fn send_chunk<'a>(&mut self, chunk: impl Iterator<Item = TxFrame<'a>>, out: &mut SendOutcome) {
        let Some(fd) = self.sock.as_ref().map(|s| s.as_raw_fd()) else {
            out.failed += chunk.count();
            return;
        };
        let peer = match &self.kind {
            Kind::Udp { peer: None, .. } => {
                out.failed += chunk.count();
                return;
            }
            Kind::Udp { peer: Some(p), .. } => Some(sockaddr::to_c(p)),
            _ => None,
        };
        let vnet = self.has_vnet();
        let mut count = 0;
        let mut lens = [0usize; MAX_DEPTH];
        for f in chunk {
            let hdr = &mut self.tx_hdr[count];
            let hlen = if vnet {
                if f.vnet
                    .unwrap_or_default()
                    .emit(&mut hdr[..vnet::LEN])
                    .is_err()
                {
                    None
                } else {
                    Some(vnet::LEN)
                }
            } else {
                self.encap.emit(&mut hdr[..MAX_HEADER])
            };
            let Some(hlen) = hlen else {
                out.failed += 1;
                continue;
            };
            self.iov[2 * count] = libc::iovec {
                iov_base: hdr.as_mut_ptr() as *mut libc::c_void,
                iov_len: hlen,
            };
            self.iov[2 * count + 1] = libc::iovec {
                iov_base: f.data.as_ptr() as *mut libc::c_void,
                iov_len: f.data.len(),
            };
            lens[count] = hlen + f.data.len();
            count += 1;
        }
        let name = peer.as_ref();
        for i in 0..count {
            let h = &mut self.mmsg[i].msg_hdr;
            // SAFETY: msghdr is plain old data for which all-zero bytes are valid.
            *h = unsafe { mem::zeroed() };
            h.msg_iov = &mut self.iov[2 * i];
            h.msg_iovlen = 2;
            if let Some((ss, len)) = name {
                h.msg_name = ss as *const libc::sockaddr_storage as *mut libc::c_void;
                h.msg_namelen = *len;
            }
            self.mmsg[i].msg_len = 0;
        }
        if matches!(self.kind, Kind::Tap) {
            self.write_frames(fd, count, &lens, out);
            return;
        }
        if let Some(ring) = self.ring.as_mut() {
            if count == 0 {
                return;
            }
            // SAFETY: mmsg[..count] are initialised headers whose iovecs point into tx_hdr
            // and into the caller's frames, and whose names point at `peer`, all alive until
            // `run` returns, which it does only once every request has completed.
            out.syscalls += unsafe { ring.run(fd, Op::Send, &mut self.mmsg[..count]) };
            let mut gone = false;
            for (&r, &len) in ring.results()[..count].iter().zip(&lens[..count]) {
                if r >= 0 {
                    out.sent += 1;
                    out.bytes += len as u64;
                } else {
                    out.failed += 1;
                    gone |= matches!(-r, libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN);
                }
            }
            if gone && self.conn {
                self.sock = None;
            }
            return;
        }
        let mut idx = 0;
        while idx < count {
            out.syscalls += 1;
            // SAFETY: mmsg[idx..count] are initialised headers whose iovecs point into
            // tx_hdr and into the caller's frames, and whose names point at `peer`, all alive
            // for the duration of the call; the kernel only reads them (and writes msg_len).
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    self.mmsg.as_mut_ptr().add(idx),
                    (count - idx) as libc::c_uint,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if r > 0 {
                let r = r as usize;
                out.sent += r;
                out.bytes += lens[idx..idx + r].iter().map(|&l| l as u64).sum::<u64>();
                idx += r;
                continue;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error().unwrap_or(0) {
                libc::EINTR => {}
                libc::EAGAIN | libc::ENOBUFS => {
                    out.failed += count - idx;
                    return;
                }
                libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN if self.conn => {
                    self.sock = None;
                    out.failed += count - idx;
                    return;
                }
                _ => {
                    out.failed += 1;
                    idx += 1;
                }
            }
        }
    }
}

impl End {
    /// Writes the first `count` prepared messages one `writev` each (a tap).
    fn write_frames(&mut self, fd: RawFd, count: usize, lens: &[usize], out: &mut SendOutcome) {
        for (i, &len) in lens[..count].iter().enumerate() {
            out.syscalls += 1;
            // SAFETY: iov[2i..2i+2] point into tx_hdr and the caller's frame, both alive for
            // the call; the kernel only reads them.
            let r = unsafe { libc::writev(fd, self.iov.as_ptr().add(2 * i), 2) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    out.failed += count - i;
                    return;
                }
                out.failed += 1;
            } else {
                out.sent += 1;
                out.bytes += len as u64;
            }
        }
    }
}

impl Drop for End {
    fn drop(&mut self) {
        if let Kind::Seqpacket { path, .. } = &self.kind {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair writes.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        assert_eq!(r, 0);
        // SAFETY: both descriptors were just created and are owned here.
        let (mine, theirs) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
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
}
