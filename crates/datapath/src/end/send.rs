//! Sending a batch: headers prepared per frame, then one `sendmmsg` per run (or one io_uring
//! submission, or one `writev` per frame on a tap).

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, RawFd};

use umlvnf_packet::vnet;

use super::{End, Kind, SendOutcome, TxFrame, MAX_DEPTH};
use crate::encap::MAX_HEADER;
use crate::mmsg;
use crate::sockaddr;
use crate::uring::{Op, Requests, Wait};

/// An end's send batch on io_uring: independent requests (one refused frame fails alone);
/// none waits.
const RING_SEND: Requests = Requests {
    op: Op::Send,
    linked: false,
    wait: Wait::Never,
};

impl End {
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

    /// Sends one chunk of at most `depth` frames.
    fn send_chunk<'a>(&mut self, chunk: impl Iterator<Item = TxFrame<'a>>, out: &mut SendOutcome) {
        let Some(fd) = self.sock.as_ref().map(|s| s.as_raw_fd()) else {
            out.failed += chunk.count();
            return;
        };
        // Read by the kernel through the headers' `msg_name`: alive until the chunk is sent.
        let peer = match &self.kind {
            Kind::Udp { peer: None, .. } => {
                out.failed += chunk.count();
                return;
            }
            Kind::Udp { peer: Some(p), .. } => Some(sockaddr::to_c(p)),
            _ => None,
        };
        let mut lens = [0usize; MAX_DEPTH];
        let count = self.prepare_frames(chunk, &mut lens, out);
        self.prepare_headers(count, peer.as_ref());
        if matches!(self.kind, Kind::Tap) {
            self.write_frames(fd, count, &lens, out);
        } else if self.ring.is_some() {
            self.send_ring(fd, count, &lens, out);
        } else {
            self.send_mmsg(fd, count, &lens, out);
        }
    }

    /// Points two iovecs per frame at its header (vnet or tunnel, written into `tx_hdr`) and
    /// its data, records each message's length in `lens`, and returns how many frames are
    /// ready (a frame whose header cannot be written fails).
    fn prepare_frames<'a>(
        &mut self,
        chunk: impl Iterator<Item = TxFrame<'a>>,
        lens: &mut [usize; MAX_DEPTH],
        out: &mut SendOutcome,
    ) -> usize {
        let vnet = self.has_vnet();
        let mut count = 0;
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
        count
    }

    /// Fills the first `count` message headers: two iovecs each and, for UDP, the peer.
    fn prepare_headers(
        &mut self,
        count: usize,
        name: Option<&(libc::sockaddr_storage, libc::socklen_t)>,
    ) {
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
    }

    /// Sends the first `count` prepared messages through the end's io_uring: one request
    /// per frame, one `io_uring_enter`.
    fn send_ring(&mut self, fd: RawFd, count: usize, lens: &[usize], out: &mut SendOutcome) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        if count == 0 {
            return;
        }
        // SAFETY: mmsg[..count] are initialised headers whose iovecs point into tx_hdr
        // and into the caller's frames, and whose names point at the caller's peer, all
        // alive until `run` returns, which it does only once every request has completed.
        out.syscalls += unsafe { ring.run(fd, &RING_SEND, &mut self.mmsg[..count]) };
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
    }

    /// Sends the first `count` prepared messages with `sendmmsg` until all are sent or the
    /// socket refuses the rest.
    fn send_mmsg(&mut self, fd: RawFd, count: usize, lens: &[usize], out: &mut SendOutcome) {
        let mut idx = 0;
        while idx < count {
            out.syscalls += 1;
            // SAFETY: mmsg[idx..count] are initialised headers whose iovecs point into
            // tx_hdr and into the caller's frames, and whose names point at the caller's
            // peer, all alive for the duration of the call; the kernel only reads them (and
            // writes msg_len).
            let r = unsafe {
                mmsg::send(
                    fd,
                    &mut self.mmsg[idx..count],
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            let e = match r {
                Ok(r) if r > 0 => {
                    out.sent += r;
                    out.bytes += lens[idx..idx + r].iter().map(|&l| l as u64).sum::<u64>();
                    idx += r;
                    continue;
                }
                Ok(_) => io::Error::last_os_error(),
                Err(e) => e,
            };
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
