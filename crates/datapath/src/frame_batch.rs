//! A batch of frame buffers with the `mmsghdr`/`iovec` arrays that point into them, moved on
//! a blocking socket (such as a [`crate::PacketSocket`]) with one `sendmmsg`/`recvmmsg`, or
//! with one chain of linked requests on a [`Ring`]. The bench's generator and sink move their
//! frames with it.
//!
//! Both ways move a prefix of the batch, in order:
//! * a send blocks like a blocking `sendmmsg` (the kernel waits for room in the socket's
//!   send buffer) and stops at the first frame that fails (e.g. `ENOBUFS`);
//! * a receive waits for the first frame (up to the socket's receive timeout, or the wait
//!   given to the ring) and then takes what is already there, as `MSG_WAITFORONE` does.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use crate::mmsg;
use crate::uring::{Op, Requests, Ring, Wait};

/// A send batch on a ring: linked, so frames go in order and the first failure ends it;
/// every request may block for room in the send buffer.
const RING_SEND: Requests = Requests {
    op: Op::Send,
    linked: true,
    wait: Wait::All,
};

/// A batch of frame buffers for `sendmmsg`/`recvmmsg` or a [`Ring`]. The header arrays are
/// rebuilt before each call, so moving the batch is safe.
pub struct FrameBatch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in `iovs`/`msgs` only ever point into `bufs` of the same value and
// are rebuilt before every system call; nothing is shared between threads.
unsafe impl Send for FrameBatch {}

impl std::fmt::Debug for FrameBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBatch")
            .field("count", &self.count())
            .finish()
    }
}

impl FrameBatch {
    /// `count` buffers of `cap` bytes each.
    pub fn new(count: usize, cap: usize) -> FrameBatch {
        FrameBatch {
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

    /// Sets the length of frame `i` for sending (at most the buffer's capacity).
    pub fn set_len(&mut self, i: usize, len: usize) {
        self.lens[i] = len.min(self.bufs[i].len());
    }

    /// Frame `i` as received or set.
    pub fn frame(&self, i: usize) -> &[u8] {
        &self.bufs[i][..self.lens[i]]
    }

    /// Frame `i`, writable (e.g. for stamping it before sending).
    pub fn frame_mut(&mut self, i: usize) -> &mut [u8] {
        let n = self.lens[i];
        &mut self.bufs[i][..n]
    }

    /// Points the first `n` headers at their buffers: the frame's length to send, the
    /// whole buffer to receive into.
    fn headers(&mut self, n: usize, receive: bool) -> &mut [libc::mmsghdr] {
        let n = n.min(self.count());
        self.iovs.clear();
        for i in 0..n {
            let len = if receive {
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
        &mut self.msgs[..n]
    }

    /// Records that `len` bytes were received into buffer `i`.
    fn set_received(&mut self, i: usize, len: usize) {
        self.lens[i] = len.min(self.bufs[i].len());
    }

    /// Gives up this batch's buffers and headers for ever (leaks them) and puts fresh ones
    /// in their place: for when requests the kernel may still complete point into them.
    fn abandon_buffers(&mut self) {
        let (count, cap) = (self.count(), self.bufs.first().map_or(0, Vec::len));
        let fresh = FrameBatch::new(count, cap);
        std::mem::forget(std::mem::replace(self, fresh));
    }

    /// Sends the first `n` frames with one `sendmmsg` (blocking on a blocking socket);
    /// returns how many the kernel took.
    pub fn send(&mut self, fd: impl AsFd, n: usize) -> io::Result<usize> {
        let raw = fd.as_fd().as_raw_fd();
        let hdrs = self.headers(n, false);
        // SAFETY: the headers point at iovecs in self.iovs which point into self.bufs, all
        // live and unaliased for the duration of the call.
        unsafe { mmsg::send(raw, hdrs, 0) }
    }

    /// Receives up to [`FrameBatch::count`] frames with one `recvmmsg` (waiting for the
    /// first one up to the socket's receive timeout); returns how many arrived and sets
    /// their lengths. A timeout returns `Ok(0)`.
    pub fn recv(&mut self, fd: impl AsFd) -> io::Result<usize> {
        let raw = fd.as_fd().as_raw_fd();
        let n = self.count();
        let hdrs = self.headers(n, true);
        // SAFETY: as in `send`; the kernel writes at most iov_len bytes into each buffer.
        match unsafe { mmsg::recv(raw, hdrs, libc::MSG_WAITFORONE) } {
            Ok(got) => {
                for i in 0..got {
                    let len = self.msgs[i].msg_len as usize;
                    self.set_received(i, len);
                }
                Ok(got)
            }
            Err(e) => match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(0),
                _ => Err(e),
            },
        }
    }

    /// Sends the first `n` frames (at most the ring's depth) on `fd` as one chain of linked
    /// SENDMSG requests on `ring`; returns how many were sent before the first failure (an
    /// error when the first failed).
    pub fn send_ring(&mut self, ring: &mut Ring, fd: impl AsFd, n: usize) -> io::Result<usize> {
        let raw = fd.as_fd().as_raw_fd();
        let was_broken = ring.is_broken();
        let hdrs = self.headers(n.min(ring.depth()), false);
        let n = hdrs.len();
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: the headers point into this batch, borrowed mutably for this whole call;
        // `run` returns once every request has completed, or marks the ring broken, and then
        // the batch's memory is abandoned (leaked) below, never freed or reused.
        unsafe { ring.run(raw, &RING_SEND, hdrs) };
        if ring.is_broken() && !was_broken {
            self.abandon_buffers();
        }
        match prefix(ring, n) {
            0 => Err(first_error(ring)),
            k => Ok(k),
        }
    }

    /// Receives up to a batch of frames (at most the ring's depth) on `fd` as one chain of
    /// linked RECVMSG requests on `ring`, waiting up to `wait` for the first; returns how
    /// many arrived (0 when none did within `wait`) and sets their lengths.
    pub fn recv_ring(
        &mut self,
        ring: &mut Ring,
        fd: impl AsFd,
        wait: Duration,
    ) -> io::Result<usize> {
        let raw = fd.as_fd().as_raw_fd();
        let was_broken = ring.is_broken();
        let n = self.count().min(ring.depth());
        let hdrs = self.headers(n, true);
        if n == 0 {
            return Ok(0);
        }
        let req = Requests {
            op: Op::Recv,
            linked: true,
            wait: Wait::First(wait),
        };
        // SAFETY: as in `send_ring`: the buffers are borrowed mutably from this batch
        // (nothing else reads them) until every request has completed, or abandoned if the
        // ring broke.
        unsafe { ring.run(raw, &req, hdrs) };
        if ring.is_broken() && !was_broken {
            self.abandon_buffers();
        }
        let got = prefix(ring, n);
        for i in 0..got {
            self.set_received(i, ring.results()[i] as usize);
        }
        if got > 0 {
            return Ok(got);
        }
        let e = first_error(ring);
        match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) | Some(libc::ECANCELED) => Ok(0),
            _ => Err(e),
        }
    }
}

/// How many leading requests of the ring's last batch, of `n`, succeeded.
fn prefix(ring: &Ring, n: usize) -> usize {
    ring.results()[..n.min(ring.depth())]
        .iter()
        .take_while(|&&r| r >= 0)
        .count()
}

/// The error of the first request of the ring's last batch (`EIO` when it has none).
fn first_error(ring: &Ring) -> io::Error {
    let r = ring.results().first().copied().unwrap_or(-libc::EIO);
    io::Error::from_raw_os_error(if r < 0 { -r } else { libc::EIO })
}

#[cfg(test)]
mod tests;
