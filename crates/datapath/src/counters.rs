//! Per-wire counters: written by the thread that owns the wire, readable at any time from any
//! thread as plain snapshots whose books balance.
//!
//! The owning thread counts a batch in a [`Tally`] and adds it to the direction's counters at
//! once, inside a sequence lock (a counter that is odd while the numbers change); a snapshot
//! retries until it read the numbers between two such updates. So every snapshot is of the
//! direction between two batches, where received + duplicated = sent + drops + queued.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{fence, AtomicU64, Ordering};

/// Number of batch-size histogram buckets: sizes 1, 2-3, 4-7, ..., 512-1023, 1024 and more.
pub const BATCH_BUCKETS: usize = 11;

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The direction's cBPF filter rejected the frame.
    Filter,
    /// The impairment delay queue was full.
    QueueFull,
    /// The impairment decided to lose the frame.
    Impairment,
    /// The tunnel header was missing, malformed or did not match (session, key, cookie, peer).
    Encap,
    /// The frame was cut short by the socket, or was a GSO frame that the other end cannot take.
    Truncated,
    /// The wire was set down.
    LinkDown,
    /// The send system call failed for this frame.
    SendError,
}

impl DropReason {
    /// All reasons, in the order of [`DropCounts`]' fields.
    pub const ALL: [DropReason; 7] = [
        DropReason::Filter,
        DropReason::QueueFull,
        DropReason::Impairment,
        DropReason::Encap,
        DropReason::Truncated,
        DropReason::LinkDown,
        DropReason::SendError,
    ];

    /// The reason's short name as used in metrics: `filter`, `queue_full`, `impairment`,
    /// `encap`, `truncated`, `link_down`, `send_error`.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Filter => "filter",
            DropReason::QueueFull => "queue_full",
            DropReason::Impairment => "impairment",
            DropReason::Encap => "encap",
            DropReason::Truncated => "truncated",
            DropReason::LinkDown => "link_down",
            DropReason::SendError => "send_error",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Drops by reason (a snapshot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// Rejected by the direction's filter.
    pub filter: u64,
    /// Delay queue full.
    pub queue_full: u64,
    /// Lost by the impairment.
    pub impairment: u64,
    /// Bad or mismatching tunnel header.
    pub encap: u64,
    /// Truncated frames and GSO frames the other end cannot take.
    pub truncated: u64,
    /// Wire down.
    pub link_down: u64,
    /// Send failures.
    pub send_error: u64,
}

impl DropCounts {
    /// Sum of all reasons.
    pub fn total(&self) -> u64 {
        self.filter
            + self.queue_full
            + self.impairment
            + self.encap
            + self.truncated
            + self.link_down
            + self.send_error
    }

    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::Filter => self.filter,
            DropReason::QueueFull => self.queue_full,
            DropReason::Impairment => self.impairment,
            DropReason::Encap => self.encap,
            DropReason::Truncated => self.truncated,
            DropReason::LinkDown => self.link_down,
            DropReason::SendError => self.send_error,
        }
    }
}

/// One queue (one end's receive path, or one end's send path) as a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounters {
    /// Frames received from (rx) or sent by (tx) the socket. For rx this counts every
    /// message the socket delivered, including those dropped afterwards; for tx only the
    /// frames the kernel took (a frame whose send failed is a `send_error` drop instead).
    pub packets: u64,
    /// Bytes of those frames as seen on the socket (including tunnel and vnet headers).
    pub bytes: u64,
    /// Drops charged to this queue (rx: every reason but `send_error`; tx: `send_error`).
    pub drops: DropCounts,
    /// Batch sizes (frames received, or sent, by one batch of system calls): bucket `i`
    /// counts batches of `2^i ..= 2^(i+1)-1` frames (the last bucket: 1024 and more), so the
    /// sizes add up to `packets`.
    pub batch_hist: [u64; BATCH_BUCKETS],
    /// Receive or send system calls made (including ones that returned nothing).
    pub syscalls: u64,
    /// rx of Packet ends only: frames the kernel dropped before this end could read them
    /// (socket receive buffer full; sampled about every 200 ms). They were never received,
    /// so they are outside the conservation sum.
    pub kernel_drops: u64,
}

/// One direction of a wire (a→b or b→a) as a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionCounters {
    /// The source end's receive path.
    pub rx: QueueCounters,
    /// The destination end's send path.
    pub tx: QueueCounters,
    /// Frames waiting in the impairment delay queue right now.
    pub queued: u64,
    /// Extra copies made by the `duplicate` impairment.
    pub duplicated: u64,
}

impl DirectionCounters {
    /// All drops of this direction (rx and tx queues).
    pub fn drops(&self) -> DropCounts {
        let (r, t) = (&self.rx.drops, &self.tx.drops);
        DropCounts {
            filter: r.filter + t.filter,
            queue_full: r.queue_full + t.queue_full,
            impairment: r.impairment + t.impairment,
            encap: r.encap + t.encap,
            truncated: r.truncated + t.truncated,
            link_down: r.link_down + t.link_down,
            send_error: r.send_error + t.send_error,
        }
    }

    /// Frames sent successfully on the destination end (the tx queue's packets).
    pub fn sent(&self) -> u64 {
        self.tx.packets
    }

    /// Whether the books balance: received + duplicated = sent + drops by reason (send
    /// errors included) + queued. Holds for every snapshot, also while frames move.
    pub fn is_conserved(&self) -> bool {
        self.rx.packets + self.duplicated == self.sent() + self.drops().total() + self.queued
    }
}

/// Both directions of a wire (a snapshot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireCounters {
    /// Frames received on end a and sent on end b.
    pub a_to_b: DirectionCounters,
    /// Frames received on end b and sent on end a.
    pub b_to_a: DirectionCounters,
}

impl WireCounters {
    /// Whether both directions conserve frames (see [`DirectionCounters::is_conserved`]).
    pub fn is_conserved(&self) -> bool {
        self.a_to_b.is_conserved() && self.b_to_a.is_conserved()
    }
}

/// Bucket of a batch of `n >= 1` frames.
pub(crate) fn bucket(n: usize) -> usize {
    let n = n.max(1);
    ((usize::BITS - 1 - n.leading_zeros()) as usize).min(BATCH_BUCKETS - 1)
}

/// What one batch did to one queue, counted by the owning thread before it is published.
#[derive(Debug, Default)]
pub(crate) struct QueueTally {
    packets: u64,
    bytes: u64,
    drops: [u64; 7],
    hist: [u64; BATCH_BUCKETS],
    syscalls: u64,
}

impl QueueTally {
    /// Counts `syscalls` system calls that moved `frames` frames of `bytes` bytes in total
    /// (the histogram gets one entry for the whole batch).
    pub(crate) fn add(&mut self, frames: usize, bytes: u64, syscalls: usize) {
        self.syscalls += syscalls as u64;
        if frames > 0 {
            self.packets += frames as u64;
            self.bytes += bytes;
            self.hist[bucket(frames)] += 1;
        }
    }

    /// Counts `n` drops for `reason`.
    pub(crate) fn drop(&mut self, reason: DropReason, n: u64) {
        self.drops[reason.index()] += n;
    }
}

/// What one batch did to one direction: its two queues, the duplicates it made and, when it
/// changed, the delay queue's new length.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) rx: QueueTally,
    pub(crate) tx: QueueTally,
    pub(crate) duplicated: u64,
    pub(crate) queued: Option<u64>,
}

/// Live counters of one queue.
#[derive(Debug, Default)]
pub(crate) struct QueueStats {
    packets: AtomicU64,
    bytes: AtomicU64,
    drops: [AtomicU64; 7],
    hist: [AtomicU64; BATCH_BUCKETS],
    syscalls: AtomicU64,
    kernel_drops: AtomicU64,
}

/// Adds `n` to `a` (written by one thread only, so a load and a store suffice).
fn bump(a: &AtomicU64, n: u64) {
    if n > 0 {
        a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
    }
}

impl QueueStats {
    /// Adds frames the kernel dropped before the socket read them (outside the balance, so
    /// outside the sequence lock).
    pub(crate) fn kernel_drop(&self, n: u64) {
        if n > 0 {
            self.kernel_drops.fetch_add(n, Relaxed);
        }
    }

    /// Adds a tally; called inside the direction's sequence lock.
    fn apply(&self, t: &QueueTally) {
        bump(&self.packets, t.packets);
        bump(&self.bytes, t.bytes);
        bump(&self.syscalls, t.syscalls);
        for (a, n) in self.drops.iter().zip(&t.drops) {
            bump(a, *n);
        }
        for (a, n) in self.hist.iter().zip(&t.hist) {
            bump(a, *n);
        }
    }

    fn snapshot(&self) -> QueueCounters {
        let d = |r: DropReason| self.drops[r.index()].load(Relaxed);
        let mut batch_hist = [0; BATCH_BUCKETS];
        for (h, a) in batch_hist.iter_mut().zip(&self.hist) {
            *h = a.load(Relaxed);
        }
        QueueCounters {
            packets: self.packets.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            drops: DropCounts {
                filter: d(DropReason::Filter),
                queue_full: d(DropReason::QueueFull),
                impairment: d(DropReason::Impairment),
                encap: d(DropReason::Encap),
                truncated: d(DropReason::Truncated),
                link_down: d(DropReason::LinkDown),
                send_error: d(DropReason::SendError),
            },
            batch_hist,
            syscalls: self.syscalls.load(Relaxed),
            kernel_drops: self.kernel_drops.load(Relaxed),
        }
    }
}

/// Live counters of one direction, written by one thread through [`DirStats::publish`].
#[derive(Debug, Default)]
pub(crate) struct DirStats {
    pub(crate) rx: QueueStats,
    pub(crate) tx: QueueStats,
    queued: AtomicU64,
    duplicated: AtomicU64,
    /// Sequence lock: odd while [`DirStats::publish`] changes the numbers.
    seq: AtomicU64,
}

/// Snapshot attempts that spin before a reader yields to the writer.
const SPINS_BEFORE_YIELD: u32 = 64;

impl DirStats {
    /// Adds what one batch did, so that readers see all of it or none of it. Only the wire's
    /// own thread calls this.
    pub(crate) fn publish(&self, t: &Tally) {
        let s = self.seq.load(Relaxed);
        self.seq.store(s.wrapping_add(1), Relaxed);
        // Orders the odd sequence number before the counter stores below: a reader that sees
        // any of them then sees the sequence change.
        fence(Ordering::Release);
        self.rx.apply(&t.rx);
        self.tx.apply(&t.tx);
        bump(&self.duplicated, t.duplicated);
        if let Some(q) = t.queued {
            self.queued.store(q, Relaxed);
        }
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    fn snapshot(&self) -> DirectionCounters {
        let mut tries = 0u32;
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 0 {
                let c = DirectionCounters {
                    rx: self.rx.snapshot(),
                    tx: self.tx.snapshot(),
                    queued: self.queued.load(Relaxed),
                    duplicated: self.duplicated.load(Relaxed),
                };
                // Orders the loads above before the second read of the sequence number.
                fence(Ordering::Acquire);
                if self.seq.load(Relaxed) == before {
                    return c;
                }
            }
            tries += 1;
            if tries >= SPINS_BEFORE_YIELD {
                tries = 0;
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// Live counters of one wire.
#[derive(Debug, Default)]
pub(crate) struct WireStats {
    pub(crate) dir: [DirStats; 2],
}

impl WireStats {
    pub(crate) fn snapshot(&self) -> WireCounters {
        WireCounters {
            a_to_b: self.dir[0].snapshot(),
            b_to_a: self.dir[1].snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two() {
        assert_eq!(bucket(1), 0);
        assert_eq!(bucket(2), 1);
        assert_eq!(bucket(3), 1);
        assert_eq!(bucket(4), 2);
        assert_eq!(bucket(64), 6);
        assert_eq!(bucket(1023), 9);
        assert_eq!(bucket(1024), 10);
        assert_eq!(bucket(5000), 10);
    }

    #[test]
    fn conservation_arithmetic() {
        let s = WireStats::default();
        let d = &s.dir[0];
        let mut t = Tally::default();
        t.rx.add(10, 1000, 1);
        t.rx.drop(DropReason::Filter, 2);
        t.rx.drop(DropReason::Impairment, 1);
        t.duplicated = 1;
        t.queued = Some(3);
        t.tx.add(5, 500, 1);
        d.publish(&t);
        let c = s.snapshot();
        // 10 received + 1 duplicate = 5 sent + 3 dropped + 3 queued
        assert!(c.a_to_b.is_conserved(), "{c:?}");
        assert_eq!(c.a_to_b.drops().total(), 3);
        assert_eq!(c.a_to_b.rx.batch_hist[3], 1);
        assert_eq!(c.a_to_b.tx.batch_hist[2], 1);
        assert_eq!(c.a_to_b.rx.syscalls, 1);
        // A queued frame whose send fails is a drop and not a send: the books still balance.
        let mut t = Tally::default();
        t.tx.drop(DropReason::SendError, 1);
        t.queued = Some(2);
        d.publish(&t);
        let c = s.snapshot();
        assert!(c.a_to_b.is_conserved(), "{c:?}");
        assert_eq!(c.a_to_b.sent(), 5);
        assert_eq!(c.a_to_b.drops().send_error, 1);
        // A frame received but not accounted for unbalances them.
        let mut t = Tally::default();
        t.rx.add(1, 100, 1);
        d.publish(&t);
        assert!(!s.snapshot().a_to_b.is_conserved());
        assert!(s.snapshot().b_to_a.is_conserved());
    }

    #[test]
    fn readers_never_see_half_a_batch() {
        let s = std::sync::Arc::new(WireStats::default());
        let writer = {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..20_000u64 {
                    // Each batch: 3 received, one dropped, one sent, one more queued.
                    let mut t = Tally::default();
                    t.rx.add(3, 300, 1);
                    t.rx.drop(DropReason::Impairment, 1);
                    t.tx.add(1, 100, 1);
                    t.queued = Some(i + 1);
                    s.dir[0].publish(&t);
                }
            })
        };
        let mut reads = 0u64;
        while !writer.is_finished() || reads == 0 {
            let c = s.snapshot();
            assert!(c.a_to_b.is_conserved(), "{c:?}");
            assert_eq!(c.a_to_b.rx.packets, 3 * c.a_to_b.queued, "{c:?}");
            reads += 1;
        }
        writer.join().unwrap();
        assert_eq!(s.snapshot().a_to_b.queued, 20_000);
    }
}
