//! The io_uring backend of the generator and the sink: one ring per end; each batch is a
//! chain of linked SENDMSG or RECVMSG requests (one per frame, on the same packet socket
//! and message headers as `sendmmsg`/`recvmmsg`), submitted and reaped together.
//!
//! The requests of a batch are linked (`IOSQE_IO_LINK`), so they run in order and the first
//! that fails cancels the rest: a batch sends or receives a prefix of its frames, as
//! `sendmmsg`/`recvmmsg` do, and sequence numbers stay in order.
//! * Sends block like a blocking `sendmmsg` (the kernel waits for room in the socket's send
//!   buffer); a failure such as `ENOBUFS` ends the batch.
//! * Receives mirror `MSG_WAITFORONE`: the first request waits for a frame, the others carry
//!   `MSG_DONTWAIT`, so the batch ends at the first empty read.
//!
//! No request outlives a call: when a wait runs out, the batch is cancelled and every
//! completion reaped before returning, so the batch's buffers can be reused or freed.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use io_uring::types::{Fd, SubmitArgs, Timespec};
use io_uring::{opcode, squeue, IoUring};

use crate::error::{BenchError, Result};
use crate::packet_socket::Batch;

/// How long a batch may wait after its first request completed (or a send batch at all)
/// before it is cancelled. Only a stuck device gets near it.
const WAIT_LIMIT: Duration = Duration::from_secs(1);
/// `user_data` of the cancel request (outside the range of frame indexes).
const CANCEL_TAG: u64 = u64::MAX;
/// Result recorded for a request whose completion never came (ring broken).
const NO_RESULT: i32 = -libc::EIO;

/// An io_uring sized for batches of one end, with the results of its last batch.
pub struct UringBatch {
    ring: IoUring,
    /// Result of each request of the last batch (bytes, or a negated errno).
    res: Vec<i32>,
    /// Created disabled: the first batch enables it, making its thread the only submitter.
    disabled: bool,
    /// Set when `io_uring_enter` failed in a way that leaves requests possibly in flight;
    /// every later batch then fails with `EIO` without touching the ring (or the buffers).
    broken: bool,
}

impl std::fmt::Debug for UringBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringBatch")
            .field("depth", &self.res.len())
            .field("broken", &self.broken)
            .finish()
    }
}

impl UringBatch {
    /// A ring for batches of up to `depth` frames (at least 1). It is created disabled,
    /// single-issuer and with deferred task work where the kernel has them (6.1+), else
    /// plain; it may be created on one thread and used on another.
    /// Fails with [`BenchError::BackendUnavailable`] when the kernel refuses io_uring.
    pub fn new(depth: usize) -> Result<UringBatch> {
        let depth = depth.max(1);
        // Room for a whole batch, then for a cancel request per request of the batch.
        let entries = (depth + 1).next_power_of_two() as u32;
        let (ring, disabled) = match IoUring::builder()
            .setup_r_disabled()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(entries)
        {
            Ok(r) => (r, true),
            Err(_) => (
                IoUring::builder().build(entries).map_err(|source| {
                    BenchError::BackendUnavailable {
                        backend: "io_uring",
                        source,
                    }
                })?,
                false,
            ),
        };
        Ok(UringBatch {
            ring,
            res: vec![NO_RESULT; depth],
            disabled,
            broken: false,
        })
    }

    /// Sends the first `n` frames of `batch` on `fd` as one chain of SENDMSG requests;
    /// returns how many were sent before the first failure (an error when the first failed).
    pub fn send(&mut self, fd: &OwnedFd, batch: &mut Batch, n: usize) -> io::Result<usize> {
        let raw = fd.as_raw_fd();
        let hdrs = batch.send_headers(n.min(self.res.len()));
        let n = hdrs.len();
        let entries = hdrs.iter().enumerate().map(|(i, h)| {
            let e = opcode::SendMsg::new(Fd(raw), &h.msg_hdr)
                .flags(libc::MSG_NOSIGNAL as u32)
                .build()
                .user_data(i as u64);
            if i + 1 < n {
                e.flags(squeue::Flags::IO_LINK)
            } else {
                e
            }
        });
        let was_broken = self.broken;
        // SAFETY: the headers point into `batch`, which is borrowed mutably for this whole
        // call; `run` returns once every request has completed, or marks the ring broken,
        // and then the batch's memory is abandoned (leaked) below, never freed or reused.
        let queued = unsafe { self.run(entries.collect::<Vec<_>>(), WAIT_LIMIT) };
        if self.broken && !was_broken {
            batch.abandon_buffers();
        }
        let done = self.prefix(queued);
        match done {
            0 => Err(self.first_error()),
            k => Ok(k),
        }
    }

    /// Receives up to a batch of frames into `batch` on `fd` as one chain of RECVMSG
    /// requests, waiting up to `wait` for the first; returns how many arrived (0 when none
    /// did within `wait`) and sets their lengths.
    pub fn recv(&mut self, fd: &OwnedFd, batch: &mut Batch, wait: Duration) -> io::Result<usize> {
        let raw = fd.as_raw_fd();
        let depth = self.res.len();
        let hdrs = batch.recv_headers();
        let n = hdrs.len().min(depth);
        let entries = hdrs[..n].iter_mut().enumerate().map(|(i, h)| {
            let flags = if i == 0 { 0 } else { libc::MSG_DONTWAIT };
            let e = opcode::RecvMsg::new(Fd(raw), &mut h.msg_hdr)
                .flags(flags as u32)
                .build()
                .user_data(i as u64);
            if i + 1 < n {
                e.flags(squeue::Flags::IO_LINK)
            } else {
                e
            }
        });
        let was_broken = self.broken;
        // SAFETY: as in `send`: the buffers are borrowed mutably from `batch` (nothing else
        // reads them) until every request has completed, or abandoned if the ring broke.
        let queued = unsafe { self.run(entries.collect::<Vec<_>>(), wait) };
        if self.broken && !was_broken {
            batch.abandon_buffers();
        }
        let got = self.prefix(queued);
        for i in 0..got {
            batch.set_received(i, self.res[i] as usize);
        }
        if got > 0 {
            return Ok(got);
        }
        let e = self.first_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) | Some(libc::ECANCELED) => Ok(0),
            _ if queued == 0 && !self.broken => Ok(0),
            _ => Err(e),
        }
    }

    /// How many leading requests of the last batch of `queued` succeeded.
    fn prefix(&self, queued: usize) -> usize {
        self.res[..queued].iter().take_while(|&&r| r >= 0).count()
    }

    /// The error of the first request of the last batch (EIO when the ring is broken).
    fn first_error(&self) -> io::Error {
        let r = if self.broken { NO_RESULT } else { self.res[0] };
        io::Error::from_raw_os_error(if r < 0 { -r } else { libc::EIO })
    }

    /// Queues `entries` (tagged with their index), submits them and reaps until every one
    /// has completed. When `first_wait` passes with requests still pending, they are
    /// cancelled (and then reaped). Returns how many were queued.
    ///
    /// # Safety
    /// Every entry must reference memory that stays valid (and, for receives, writable and
    /// not otherwise accessed) until this function returns. If the ring breaks (an
    /// unexpected `io_uring_enter` error) requests may still be in flight: the ring is then
    /// marked broken and never submits again, and the caller must never free or reuse the
    /// memory the entries reference.
    unsafe fn run(&mut self, entries: Vec<squeue::Entry>, first_wait: Duration) -> usize {
        let n = entries.len().min(self.res.len());
        self.res[..n].fill(NO_RESULT);
        if n == 0 || self.broken {
            return 0;
        }
        if self.disabled {
            if self.ring.submitter().register_enable_rings().is_err() {
                self.broken = true;
                return 0;
            }
            self.disabled = false;
        }
        {
            let mut sq = self.ring.submission();
            for e in &entries[..n] {
                // SAFETY: the caller keeps what the entry points to alive until it completes,
                // and this function does not return before that.
                if unsafe { sq.push(e) }.is_err() {
                    // Cannot happen: the ring has room for a whole batch.
                    // What was queued is never submitted, since a broken ring never enters.
                    self.broken = true;
                    return 0;
                }
            }
        }
        self.reap(n, first_wait);
        n
    }

    /// Submits what is queued and reaps until `want` tagged completions have arrived,
    /// cancelling the batch once `first_wait` (then [`WAIT_LIMIT`]) passes without them.
    fn reap(&mut self, want: usize, first_wait: Duration) {
        let first = Timespec::from(first_wait);
        let later = Timespec::from(WAIT_LIMIT);
        let mut got = 0;
        let mut cancelled = false;
        while got < want {
            let ts = if cancelled { &later } else { &first };
            let args = SubmitArgs::new().timespec(ts);
            match self.ring.submitter().submit_with_args(want - got, &args) {
                Ok(_) => {}
                Err(e) => match e.raw_os_error().unwrap_or(0) {
                    libc::EINTR | libc::EAGAIN | libc::EBUSY => {}
                    libc::ETIME if !cancelled => {
                        cancelled = true;
                        // One cancel per request of the batch (by its tag, which works on
                        // any io_uring kernel): the one in flight is cancelled, and with it
                        // the linked ones not started yet; the others answer ENOENT.
                        let mut sq = self.ring.submission();
                        for i in 0..want {
                            let cancel = opcode::AsyncCancel::new(i as u64)
                                .build()
                                .user_data(CANCEL_TAG);
                            // SAFETY: a cancel request references no memory of ours.
                            if unsafe { sq.push(&cancel) }.is_err() {
                                break;
                            }
                        }
                    }
                    _ => {
                        self.broken = true;
                        return;
                    }
                },
            }
            for cqe in self.ring.completion() {
                if let Some(r) = usize::try_from(cqe.user_data())
                    .ok()
                    .and_then(|i| self.res.get_mut(i))
                {
                    *r = cqe.result();
                    got += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    fn datagram_pair() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two descriptors into the live array.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        // SAFETY: both descriptors are fresh and ours.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    /// A chain of sends arrives in order as one chain of receives; an empty socket gives 0
    /// after the wait, and the ring stays usable.
    #[test]
    fn batches_keep_order_and_an_empty_wait_returns_nothing() {
        let Ok(mut tx) = UringBatch::new(8) else {
            eprintln!("io_uring refused by this kernel: skipped");
            return;
        };
        let mut rx = UringBatch::new(8).expect("a second ring");
        let (a, b) = datagram_pair();
        let mut out = Batch::new(8, 64);
        for i in 0..5 {
            out.buf_mut(i)[..4].copy_from_slice(&(i as u32).to_le_bytes());
            out.set_len(i, 4 + i);
        }
        assert_eq!(tx.send(&a, &mut out, 5).expect("sent"), 5);
        let mut inb = Batch::new(8, 64);
        let got = rx
            .recv(&b, &mut inb, Duration::from_millis(200))
            .expect("received");
        assert_eq!(got, 5);
        for i in 0..5 {
            assert_eq!(inb.len(i), 4 + i);
            assert_eq!(inb.frame(i)[..4], (i as u32).to_le_bytes());
        }
        let t = std::time::Instant::now();
        assert_eq!(
            rx.recv(&b, &mut inb, Duration::from_millis(30))
                .expect("timeout"),
            0
        );
        assert!(t.elapsed() >= Duration::from_millis(25));
        assert_eq!(tx.send(&a, &mut out, 2).expect("sent again"), 2);
        assert_eq!(
            rx.recv(&b, &mut inb, Duration::from_millis(200))
                .expect("again"),
            2
        );
    }

    /// A send on a socket whose peer is gone fails with the socket's error, not a count.
    #[test]
    fn a_failing_first_send_is_an_error() {
        let Ok(mut tx) = UringBatch::new(4) else {
            return;
        };
        let (a, b) = datagram_pair();
        drop(b);
        let mut out = Batch::new(4, 16);
        out.set_len(0, 8);
        out.set_len(1, 8);
        assert!(tx.send(&a, &mut out, 2).is_err());
    }
}
