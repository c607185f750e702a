//! The io_uring backend of an end: one ring per end, through which a batch of `recvmsg` or
//! `sendmsg` requests (one per preallocated message header) is submitted and reaped with one
//! `io_uring_enter` in the common case.
//!
//! Every request carries `MSG_DONTWAIT`, so the kernel completes it at once (with data or
//! with `-EAGAIN`) instead of parking it: a batch never leaves a request in flight once
//! [`Ring::run`] returns, which is what lets the end reuse (and eventually free) its buffers.
//! Receive requests are linked (`IOSQE_IO_LINK`): the first that finds no data cancels the
//! rest, like `recvmmsg` stopping at the first empty read.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use io_uring::types::{CancelBuilder, Fd, SubmitArgs, Timespec};
use io_uring::{opcode, squeue, IoUring};

use crate::error::{DatapathError, Result};

/// How long one wait for completions may take before the batch's requests are cancelled.
/// Requests complete immediately (`MSG_DONTWAIT`); this only bounds a misbehaving kernel.
const WAIT_LIMIT: Duration = Duration::from_secs(1);
/// `user_data` of the cancel request (outside the range of message indexes).
const CANCEL_TAG: u64 = u64::MAX;
/// Result recorded for a request whose completion never came (ring broken).
const NO_RESULT: i32 = -libc::EIO;

/// Which system call each request of a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `recvmsg`, linked so that the first empty read cancels the rest.
    Recv,
    /// `sendmsg`, independent of each other.
    Send,
}

/// An io_uring instance sized for one end's batches.
pub(crate) struct Ring {
    ring: IoUring,
    /// Result of each request of the last batch (bytes, or a negated errno).
    res: Vec<i32>,
    /// Created disabled: the first batch enables it (making its thread the submitter).
    disabled: bool,
    /// Set when `io_uring_enter` failed in a way that leaves the ring's state unknown; every
    /// later batch then fails with `EIO` without touching the ring.
    broken: bool,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("entries", &self.res.len())
            .field("broken", &self.broken)
            .finish()
    }
}

impl Ring {
    /// Sets up a ring for batches of up to `depth` requests (`depth >= 1`).
    ///
    /// The ring is created disabled, single-issuer and with deferred task work where the
    /// kernel supports that (6.1+): the thread that runs the first batch becomes its only
    /// submitter, and completions of linked requests run in that thread's own
    /// `io_uring_enter` (no inter-processor interrupts). Older kernels get a plain ring.
    pub(crate) fn new(depth: usize) -> Result<Ring> {
        let entries = depth.max(1).next_power_of_two() as u32;
        let (ring, disabled) = match IoUring::builder()
            .setup_r_disabled()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(entries)
        {
            Ok(r) => (r, true),
            Err(_) => {
                let r = IoUring::builder()
                    .setup_coop_taskrun()
                    .build(entries)
                    .or_else(|_| IoUring::builder().build(entries))
                    .map_err(|source| DatapathError::BackendUnavailable {
                        backend: "io_uring",
                        source,
                    })?;
                (r, false)
            }
        };
        Ok(Ring {
            ring,
            res: vec![0; depth.max(1)],
            disabled,
            broken: false,
        })
    }

    /// Results of the last batch, one per message header given to [`Ring::run`].
    pub(crate) fn results(&self) -> &[i32] {
        &self.res
    }

    /// Submits one `op` request on `fd` per header of `hdrs` (at most the depth given to
    /// [`Ring::new`]), waits until every one has completed, records each result (read them
    /// with [`Ring::results`]) and returns the number of `io_uring_enter` calls made.
    ///
    /// # Safety
    /// Every header in `hdrs` must be a valid `msghdr` whose iovecs, name and control
    /// pointers reference memory that stays alive (and, for receives, writable and not
    /// otherwise accessed) until this function returns.
    pub(crate) unsafe fn run(&mut self, fd: RawFd, op: Op, hdrs: &mut [libc::mmsghdr]) -> usize {
        let n = hdrs.len().min(self.res.len());
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
        let mut queued = 0;
        {
            let mut sq = self.ring.submission();
            for (i, h) in hdrs[..n].iter_mut().enumerate() {
                let entry = match op {
                    Op::Recv => {
                        let e = opcode::RecvMsg::new(Fd(fd), &mut h.msg_hdr)
                            .flags(libc::MSG_DONTWAIT as u32)
                            .build();
                        if i + 1 < n {
                            e.flags(squeue::Flags::IO_LINK)
                        } else {
                            e
                        }
                    }
                    Op::Send => opcode::SendMsg::new(Fd(fd), &h.msg_hdr)
                        .flags((libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) as u32)
                        .build(),
                }
                .user_data(i as u64);
                // SAFETY: the caller guarantees the header and what it points to outlive the
                // request, and this function does not return before the request completes.
                if unsafe { sq.push(&entry) }.is_err() {
                    break;
                }
                queued += 1;
            }
        }
        self.wait_all(queued)
    }

    /// Submits what is queued and reaps until `want` tagged completions have arrived.
    fn wait_all(&mut self, want: usize) -> usize {
        let ts = Timespec::from(WAIT_LIMIT);
        let mut got = 0;
        let mut enters = 0;
        let mut cancelled = false;
        while got < want {
            enters += 1;
            let args = SubmitArgs::new().timespec(&ts);
            match self.ring.submitter().submit_with_args(want - got, &args) {
                Ok(_) => {}
                Err(e) => match e.raw_os_error().unwrap_or(0) {
                    libc::EINTR | libc::EAGAIN | libc::EBUSY => {}
                    libc::ETIME if !cancelled => {
                        cancelled = true;
                        let cancel = opcode::AsyncCancel2::new(CancelBuilder::any())
                            .build()
                            .user_data(CANCEL_TAG);
                        // SAFETY: a cancel request references no memory of ours.
                        let _ = unsafe { self.ring.submission().push(&cancel) };
                    }
                    libc::ETIME => {}
                    _ => {
                        self.broken = true;
                        return enters;
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
        enters
    }
}

/// Whether the kernel lets this process set up an io_uring (e.g. not disabled by the
/// `kernel.io_uring_disabled` sysctl or a seccomp filter).
pub fn io_uring_available() -> io::Result<()> {
    IoUring::new(2).map(|_| ())
}
