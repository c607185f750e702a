//! AF_PACKET sockets bound to one interface, opened inside a network namespace (a socket
//! keeps its namespace, so it can then be used from any thread).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{BenchError, Result};

/// `ETH_P_ALL`.
pub const ETH_P_ALL: u16 = 0x0003;
/// `ETH_P_IP`.
pub const ETH_P_IP: u16 = 0x0800;
/// `ETH_P_ARP`.
pub const ETH_P_ARP: u16 = 0x0806;
/// `PACKET_IGNORE_OUTGOING` (Linux 4.20).
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// Where a socket is opened: an interface in a named network namespace, or in the
/// namespace of the calling process when `netns` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Named network namespace, or `None` for the host's.
    pub netns: Option<String>,
    /// Interface name in that namespace.
    pub ifname: String,
}

impl Port {
    /// A port in namespace `netns`.
    pub fn new(netns: Option<&str>, ifname: &str) -> Port {
        Port {
            netns: netns.map(str::to_string),
            ifname: ifname.to_string(),
        }
    }

    /// Runs `f` in this port's namespace.
    pub(crate) fn run<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        match &self.netns {
            Some(ns) => umlvnf_host::run_in_netns(ns, f)?,
            None => f(),
        }
    }

    /// Human description.
    pub fn describe(&self) -> String {
        match &self.netns {
            Some(ns) => format!("`{}` in network namespace `{ns}`", self.ifname),
            None => format!("`{}` in the host namespace", self.ifname),
        }
    }
}

fn setsockopt_int(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> bool {
    // SAFETY: passes a pointer to a live c_int and its size.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &v as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
    }
}

/// Opens an AF_PACKET raw socket on `port` receiving `proto` (0 = send only), with send and
/// receive buffers of `buf` bytes (forced, as root) and, when receiving, without its own
/// outgoing frames. The socket is blocking.
pub fn open(port: &Port, proto: u16, buf: usize) -> Result<OwnedFd> {
    let name = CString::new(port.ifname.clone())
        .map_err(|_| BenchError::InvalidOptions("an interface name contains NUL".into()))?;
    let what = port.describe();
    port.run(move || {
        // SAFETY: plain socket call.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(proto.to_be()),
            )
        };
        if fd < 0 {
            return Err(BenchError::last_os(
                "open an AF_PACKET socket (needs CAP_NET_RAW)",
            ));
        }
        // SAFETY: fd is a fresh descriptor we own.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: `name` is NUL-terminated.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(BenchError::last_os(format!("find interface {what}")));
        }
        let b = buf.min(i32::MAX as usize) as libc::c_int;
        for (force, plain) in [
            (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
            (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        ] {
            if !setsockopt_int(fd, libc::SOL_SOCKET, force, b) {
                setsockopt_int(fd, libc::SOL_SOCKET, plain, b);
            }
        }
        if proto != 0 {
            setsockopt_int(fd, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
        }
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto.to_be();
        sll.sll_ifindex = index as i32;
        // SAFETY: binds to a live, correctly sized sockaddr_ll.
        let rc = unsafe {
            libc::bind(
                fd,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(BenchError::last_os(format!(
                "bind a packet socket to {what}"
            )));
        }
        Ok(sock)
    })
}

/// Sets the receive timeout of a socket.
pub fn set_recv_timeout(fd: &OwnedFd, ms: u64) -> Result<()> {
    let tv = libc::timeval {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_usec: ((ms % 1000) * 1000) as libc::suseconds_t,
    };
    // SAFETY: passes a live timeval and its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(BenchError::last_os("set a socket receive timeout"));
    }
    Ok(())
}

/// Frames the kernel dropped on this packet socket since the last call (PACKET_STATISTICS).
pub fn take_drops(fd: &OwnedFd) -> u64 {
    let mut st = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: reads into a live tpacket_stats with its size.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            &mut st as *mut libc::tpacket_stats as *mut libc::c_void,
            &mut len,
        )
    };
    if rc == 0 {
        u64::from(st.tp_drops)
    } else {
        0
    }
}

/// A batch of buffers with the `mmsghdr`/`iovec` arrays that point into them, for
/// `sendmmsg`/`recvmmsg`. The arrays are rebuilt before each call, so moving the batch is safe.
pub struct Batch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in `iovs`/`msgs` only ever point into `bufs` of the same value and
// are rebuilt before every system call; nothing is shared between threads.
unsafe impl Send for Batch {}

impl Batch {
    /// `count` buffers of `cap` bytes each.
    pub fn new(count: usize, cap: usize) -> Batch {
        Batch {
            bufs: vec![vec![0u8; cap]; count],
            lens: vec![0; count],
            iovs: Vec::with_capacity(count),
            // SAFETY: mmsghdr is plain data; zeroed is valid.
            msgs: vec![unsafe { std::mem::zeroed() }; count],
        }
    }

    /// Number of buffers.
    pub fn count(&self) -> usize {
        self.bufs.len()
    }

    /// Buffer `i` (whole capacity).
    pub fn buf_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.bufs[i]
    }

    /// Length of frame `i` (set for sending, filled by receiving).
    pub fn len(&self, i: usize) -> usize {
        self.lens[i]
    }

    /// Sets the length of frame `i` for sending.
    pub fn set_len(&mut self, i: usize, len: usize) {
        self.lens[i] = len.min(self.bufs[i].len());
    }

    /// Frame `i` as received or set.
    pub fn frame(&self, i: usize) -> &[u8] {
        &self.bufs[i][..self.lens[i]]
    }

    /// Frame `i` for stamping.
    pub fn frame_mut(&mut self, i: usize) -> &mut [u8] {
        let n = self.lens[i];
        &mut self.bufs[i][..n]
    }

    fn prepare(&mut self, n: usize, full: bool) {
        self.iovs.clear();
        for i in 0..n {
            let len = if full {
                self.bufs[i].len()
            } else {
                self.lens[i]
            };
            self.iovs.push(libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: len,
            });
        }
        for i in 0..n {
            // SAFETY: msghdr is plain data; zeroed is valid.
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            self.msgs[i].msg_hdr = h;
            self.msgs[i].msg_len = 0;
        }
    }

    /// Message headers for sending the first `n` frames (for the io_uring backend). They
    /// point into this batch's buffers and stay valid until the batch is changed or moved.
    pub(crate) fn send_headers(&mut self, n: usize) -> &mut [libc::mmsghdr] {
        let n = n.min(self.count());
        self.prepare(n, false);
        &mut self.msgs[..n]
    }

    /// Message headers for receiving into every buffer (for the io_uring backend); see
    /// [`Batch::send_headers`].
    pub(crate) fn recv_headers(&mut self) -> &mut [libc::mmsghdr] {
        let n = self.count();
        self.prepare(n, true);
        &mut self.msgs[..n]
    }

    /// Gives up this batch's buffers and headers for ever (leaks them) and puts fresh ones
    /// in their place: for when requests the kernel may still complete point into them.
    pub(crate) fn abandon_buffers(&mut self) {
        let (count, cap) = (self.count(), self.bufs.first().map_or(0, Vec::len));
        let fresh = Batch::new(count, cap);
        std::mem::forget(std::mem::replace(self, fresh));
    }

    /// Records that `len` bytes were received into buffer `i`.
    pub(crate) fn set_received(&mut self, i: usize, len: usize) {
        self.lens[i] = len.min(self.bufs[i].len());
    }

    /// Sends the first `n` frames with one `sendmmsg`; returns how many the kernel took.
    pub fn send(&mut self, fd: &OwnedFd, n: usize) -> std::io::Result<usize> {
        let n = n.min(self.count());
        self.prepare(n, false);
        // SAFETY: msgs[..n] point at iovecs in self.iovs which point into self.bufs, all
        // live and unaliased for the duration of the call.
        let rc = unsafe { libc::sendmmsg(fd.as_raw_fd(), self.msgs.as_mut_ptr(), n as u32, 0) };
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(rc as usize)
        }
    }

    /// Receives up to [`Batch::count`] frames with one `recvmmsg` (waiting for the first
    /// one up to the socket's receive timeout); returns how many arrived and sets their
    /// lengths. A timeout returns `Ok(0)`.
    pub fn recv(&mut self, fd: &OwnedFd) -> std::io::Result<usize> {
        let n = self.count();
        self.prepare(n, true);
        // SAFETY: as in `send`; the kernel writes at most iov_len bytes into each buffer.
        let rc = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                self.msgs.as_mut_ptr(),
                n as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(0),
                _ => Err(e),
            };
        }
        let got = rc as usize;
        for i in 0..got {
            self.lens[i] = (self.msgs[i].msg_len as usize).min(self.bufs[i].len());
        }
        Ok(got)
    }
}
