//! io_uring batches on a socket: one ring per socket, through which a batch of `recvmsg` or
//! `sendmsg` requests (one per prepared message header) is submitted and reaped with one
//! `io_uring_enter` in the common case. The datapath's ends on the io_uring backend and
//! [`crate::FrameBatch`] (the bench's generator and sink) both move their batches with it.
//!
//! [`Requests`] says how a batch behaves:
//! * an end's requests all carry `MSG_DONTWAIT` ([`Wait::Never`]), so the kernel completes
//!   them at once (with data or with `-EAGAIN`) instead of parking them; its receive
//!   requests are linked, so the first that finds no data cancels the rest, like `recvmmsg`
//!   stopping at the first empty read, and its sends are independent;
//! * a [`crate::FrameBatch`]'s requests are linked, so they run in order and the first that
//!   fails cancels the rest (a batch moves a prefix of its frames, as `sendmmsg`/`recvmmsg`
//!   do); its sends block like a blocking `sendmmsg` ([`Wait::All`]), and its receives
//!   mirror `MSG_WAITFORONE`: the first waits for a frame, the others carry `MSG_DONTWAIT`
//!   ([`Wait::First`]).
//!
//! No request outlives [`Ring::run`]: when a wait runs out, the batch is cancelled and every
//! completion reaped before it returns, which is what lets the caller reuse (and eventually
//! free) its buffers.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use io_uring::types::{Fd, SubmitArgs, Timespec};
use io_uring::{opcode, squeue, IoUring};

use crate::error::{DatapathError, Result};

/// How long one wait for completions may take before the batch's requests are cancelled
/// (after the first wait of [`Wait::First`]). Requests that do not block complete at once;
/// this only bounds a misbehaving kernel or a stuck device.
const WAIT_LIMIT: Duration = Duration::from_secs(1);
/// `user_data` of the cancel request (outside the range of message indexes).
const CANCEL_TAG: u64 = u64::MAX;
/// Result recorded for a request whose completion never came (ring broken).
const NO_RESULT: i32 = -libc::EIO;

/// Which system call each request of a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `recvmsg`.
    Recv,
    /// `sendmsg` (with `MSG_NOSIGNAL`).
    Send,
}

/// Which requests of a batch may block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// None: every request carries `MSG_DONTWAIT` and completes at once.
    Never,
    /// The first request waits up to this long (then the batch is cancelled); the others
    /// carry `MSG_DONTWAIT`.
    First(Duration),
    /// Every request may block (a send waits for room in the socket's send buffer).
    All,
}

/// How the requests of one batch behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requests {
    /// The system call of every request.
    pub op: Op,
    /// Linked (`IOSQE_IO_LINK`): they run in order and the first that fails (or finds no
    /// data) cancels the rest.
    pub linked: bool,
    /// Which of them may block.
    pub wait: Wait,
}

impl Requests {
    /// The `MSG_*` flags of request `i` of a batch.
    fn msg_flags(&self, i: usize) -> libc::c_int {
        let dontwait = match self.wait {
            Wait::Never => true,
            Wait::First(_) => i > 0,
            Wait::All => false,
        };
        let base = match self.op {
            Op::Recv => 0,
            Op::Send => libc::MSG_NOSIGNAL,
        };
        if dontwait {
            base | libc::MSG_DONTWAIT
        } else {
            base
        }
    }

    /// How long the first wait for completions may take.
    fn first_wait(&self) -> Duration {
        match self.wait {
            Wait::First(d) => d,
            Wait::Never | Wait::All => WAIT_LIMIT,
        }
    }
}

/// An io_uring sized for one socket's batches, with the results of its last batch.
pub struct Ring {
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
    /// Sets up a ring for batches of up to `depth` requests (at least 1). Fails with
    /// [`DatapathError::BackendUnavailable`] when the kernel refuses io_uring.
    ///
    /// The ring is created disabled, single-issuer and with deferred task work where the
    /// kernel supports that (6.1+): the thread that runs the first batch becomes its only
    /// submitter, and completions of linked requests run in that thread's own
    /// `io_uring_enter` (no inter-processor interrupts). Older kernels get a plain ring. It
    /// may be created on one thread and used on another.
    pub fn new(depth: usize) -> Result<Ring> {
        // Room for a whole batch, then for a cancel request per request of the batch.
        let entries = (depth.max(1) + 1).next_power_of_two() as u32;
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

    /// The largest batch (the depth given to [`Ring::new`]).
    pub fn depth(&self) -> usize {
        self.res.len()
    }

    /// Results of the last batch (bytes, or a negated errno), one per message header given
    /// to [`Ring::run`]; a request of the batch that was never submitted reads `-EIO`.
    pub fn results(&self) -> &[i32] {
        &self.res
    }

    /// Whether `io_uring_enter` failed in a way that may leave requests in flight: the ring
    /// then never submits again, every batch fails with `EIO`, and the memory its last
    /// batch's headers pointed at must never be freed or reused.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Submits one request as `req` says on `fd` per header of `hdrs` (at most
    /// [`Ring::depth`]), waits until every one has completed (cancelling the batch once
    /// its wait runs out), records each result (read them with [`Ring::results`]) and
    /// returns the number of `io_uring_enter` calls made.
    ///
    /// # Safety
    /// Every header in `hdrs` must be a valid `msghdr` whose iovecs, name and control
    /// pointers reference memory that stays alive (and, for receives, writable and not
    /// otherwise accessed) until this function returns, or for ever if the ring breaks
    /// ([`Ring::is_broken`]).
    pub unsafe fn run(&mut self, fd: RawFd, req: &Requests, hdrs: &mut [libc::mmsghdr]) -> usize {
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
                let flags = req.msg_flags(i) as u32;
                let entry = match req.op {
                    Op::Recv => opcode::RecvMsg::new(Fd(fd), &mut h.msg_hdr)
                        .flags(flags)
                        .build(),
                    Op::Send => opcode::SendMsg::new(Fd(fd), &h.msg_hdr)
                        .flags(flags)
                        .build(),
                };
                let entry = if req.linked && i + 1 < n {
                    entry.flags(squeue::Flags::IO_LINK)
                } else {
                    entry
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
        self.wait_all(queued, req.first_wait())
    }

    /// Submits what is queued and reaps until `want` tagged completions have arrived,
    /// cancelling the batch once `first_wait` (then each [`WAIT_LIMIT`]) passes without them.
    fn wait_all(&mut self, want: usize, first_wait: Duration) -> usize {
        let first = Timespec::from(first_wait);
        let later = Timespec::from(WAIT_LIMIT);
        let mut got = 0;
        let mut enters = 0;
        let mut cancelled = false;
        while got < want {
            enters += 1;
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
