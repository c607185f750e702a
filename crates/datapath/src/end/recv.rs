//! Receiving a batch: one `recvmmsg` (or one io_uring submission, or `read`s on a tap) into
//! the end's slots, then each frame located behind its tunnel or vnet header.

use std::io;
use std::mem;
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};

use umlvnf_packet::ipv4;
use umlvnf_packet::vnet::{self, VnetHdr};

use super::{End, Kind, RxFrame, SLOT_LEN};
use crate::counters::DropReason;
use crate::mmsg;
use crate::sockaddr;
use crate::uring::{Op, Requests, Wait};

/// An end's receive batch on io_uring: linked, so the first empty read ends it; none waits.
const RING_RECV: Requests = Requests {
    op: Op::Recv,
    linked: true,
    wait: Wait::Never,
};

impl End {
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
                let r = unsafe { mmsg::recv(fd, &mut self.mmsg[..self.depth], libc::MSG_DONTWAIT) };
                match r {
                    Ok(n) => n,
                    Err(e) => return self.recv_failed(e),
                }
            }
            Some(ring) => {
                // SAFETY: as for recvmmsg above; `run` returns only once every request has
                // completed, so nothing writes into the buffers afterwards.
                self.rx_syscalls =
                    unsafe { ring.run(fd, &RING_RECV, &mut self.mmsg[..self.depth]) };
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
}
