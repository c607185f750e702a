//! AF_PACKET raw sockets bound to one interface, as the datapath's Packet ends and the bench's
//! generator and sink use them: opened with [`PacketSocket::open`] and [`PacketOptions`],
//! then moved in batches with [`crate::FrameBatch`] (or an end's own buffers).

use std::ffi::CString;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::error::{DatapathError, Result};
use crate::socket::{cvt, grow_buffers, new_socket_with, setsockopt_int};

/// `ETH_P_ALL`: every protocol.
pub const ETH_P_ALL: u16 = 0x0003;
/// `ETH_P_IP`: IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// `ETH_P_ARP`: ARP.
pub const ETH_P_ARP: u16 = 0x0806;

/// How a [`PacketSocket`] is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketOptions {
    /// EtherType received (host byte order), e.g. [`ETH_P_ALL`]; 0 receives nothing (a
    /// socket that only sends).
    pub protocol: u16,
    /// Receive and send buffer size asked of the kernel (forced past the sysctl limits when
    /// privileged; best effort).
    pub buffer_bytes: usize,
    /// Blocking socket (sends wait for room, receives for a frame or the receive timeout)
    /// instead of a non-blocking one.
    pub blocking: bool,
    /// `PACKET_IGNORE_OUTGOING`: do not receive the socket's own (or any outgoing) frames.
    pub ignore_outgoing: bool,
    /// `PACKET_QDISC_BYPASS`: send straight to the driver, past the interface's qdisc.
    pub qdisc_bypass: bool,
    /// `PACKET_VNET_HDR`: frames carry the 10-byte virtio-net header and may be GSO frames.
    pub vnet_hdr: bool,
}

/// An AF_PACKET raw socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    /// Opens a socket on interface `ifname`, looked up in the calling thread's network
    /// namespace (the socket keeps that namespace, so it can then be used from any thread).
    /// Needs CAP_NET_RAW. Fails with [`DatapathError::NoSuchInterface`] when there is no such
    /// interface, or when an option is refused.
    pub fn open(ifname: &str, opts: &PacketOptions) -> Result<PacketSocket> {
        let name = CString::new(ifname).map_err(|_| {
            DatapathError::BadEnd(format!("the interface name {ifname:?} contains a NUL byte"))
        })?;
        // SAFETY: `name` is a valid NUL-terminated string.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(DatapathError::NoSuchInterface(ifname.to_string()));
        }
        // Protocol 0: receive nothing until bound to the one interface.
        let fd = new_socket_with(libc::AF_PACKET, libc::SOCK_RAW, 0, opts.blocking)?;
        let opt = |opt, what: &str| {
            setsockopt_int(&fd, libc::SOL_PACKET, opt, 1).map_err(|e| {
                DatapathError::os(format!("set {what} on the packet socket of `{ifname}`"), e)
            })
        };
        if opts.ignore_outgoing {
            opt(libc::PACKET_IGNORE_OUTGOING, "PACKET_IGNORE_OUTGOING")?;
        }
        if opts.qdisc_bypass {
            opt(libc::PACKET_QDISC_BYPASS, "PACKET_QDISC_BYPASS")?;
        }
        if opts.vnet_hdr {
            opt(libc::PACKET_VNET_HDR, "PACKET_VNET_HDR")?;
        }
        grow_buffers(&fd, opts.buffer_bytes.min(i32::MAX as usize) as libc::c_int);
        // SAFETY: sockaddr_ll is plain old data for which all-zero bytes are valid.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        sll.sll_protocol = opts.protocol.to_be();
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
        Ok(PacketSocket { fd })
    }

    /// Sets how long a blocking receive waits for its first frame.
    pub fn set_recv_timeout(&self, wait: Duration) -> Result<()> {
        let tv = libc::timeval {
            tv_sec: wait.as_secs() as libc::time_t,
            tv_usec: wait.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: passes a live timeval and its size.
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        cvt(r, || "set a packet socket's receive timeout".to_string()).map(|_| ())
    }

    /// Frames the kernel dropped on this socket since the last call because its receive
    /// buffer was full (`PACKET_STATISTICS`, which resets on read); `None` when the kernel
    /// does not say.
    pub fn take_drops(&self) -> Option<u64> {
        take_drops(self.fd.as_raw_fd())
    }

    /// The socket's descriptor, given up by this value.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// `PACKET_STATISTICS` drops of packet socket `fd` since the last read (which resets them).
pub(crate) fn take_drops(fd: RawFd) -> Option<u64> {
    /// struct tpacket_stats from <linux/if_packet.h>.
    #[repr(C)]
    #[derive(Default)]
    struct TpacketStats {
        packets: u32,
        drops: u32,
    }
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
