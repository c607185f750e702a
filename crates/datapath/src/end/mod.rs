//! Link ends: one socket each, receiving a batch of frames into preallocated buffers with
//! `recvmmsg` (or io_uring) and sending a batch with `sendmmsg` (or io_uring), with the end's
//! tunnel encapsulation or virtio-net header added on send and checked/removed on receive.
//!
//! `sockets` opens the socket of each kind of end, `recv` receives and locates frames,
//! `send` encapsulates and sends them; this module holds the end itself.

mod recv;
mod send;
mod sockets;

use sockets::Opened;

use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use umlvnf_datapath_spec::Backend;
use umlvnf_packet::vnet::VnetHdr;

use crate::encap::{Encap, EncapState};
use crate::error::{DatapathError, Result};
use crate::packet_socket;
use crate::sockaddr;
use crate::socket::grow_buffers;
use crate::uring::Ring;

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
        let Opened {
            kind,
            sock,
            conn,
            encap,
        } = sockets::open(spec, ring.is_some())?;
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
        packet_socket::take_drops(self.sock.as_ref()?.as_raw_fd())
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
        grow_buffers(&fd, SOCK_BUF);
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
}

impl Drop for End {
    fn drop(&mut self) {
        if let Kind::Seqpacket { path, .. } = &self.kind {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests;
