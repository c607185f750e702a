//! Per-wire counters: written by the thread that owns the wire (relaxed atomics), readable at
//! any time from any thread as plain snapshots.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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
    /// Frames received from (rx) or handed to (tx) the socket. For rx this counts every
    /// message the socket delivered, including those dropped afterwards.
    pub packets: u64,
    /// Bytes of those frames as seen on the socket (including tunnel and vnet headers).
    pub bytes: u64,
    /// Drops charged to this queue (rx: every reason but `send_error`; tx: `send_error`).
    pub drops: DropCounts,
    /// Batch sizes per system call: bucket `i` counts batches of `2^i ..= 2^(i+1)-1` frames
    /// (the last bucket: 1024 and more).
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

    /// Frames sent successfully on the destination end.
    pub fn sent(&self) -> u64 {
        self.tx.packets - self.tx.drops.send_error.min(self.tx.packets)
    }

    /// Whether the books balance: received + duplicated = sent + drops + queued. Holds whenever
    /// the owning thread is between batches (e.g. once traffic has stopped).
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

impl QueueStats {
    /// Counts one system call that moved `frames` frames of `bytes` bytes in total.
    #[cfg(test)]
    pub(crate) fn batch(&self, frames: usize, bytes: u64) {
        self.add(frames, bytes, 1);
    }

    /// Counts `syscalls` system calls that moved `frames` frames of `bytes` bytes in total
    /// (the histogram gets one entry for the whole batch).
    pub(crate) fn add(&self, frames: usize, bytes: u64, syscalls: usize) {
        self.syscalls.fetch_add(syscalls as u64, Relaxed);
        if frames > 0 {
            self.packets.fetch_add(frames as u64, Relaxed);
            self.bytes.fetch_add(bytes, Relaxed);
            self.hist[bucket(frames)].fetch_add(1, Relaxed);
        }
    }

    /// Adds frames the kernel dropped before the socket read them.
    pub(crate) fn kernel_drop(&self, n: u64) {
        if n > 0 {
            self.kernel_drops.fetch_add(n, Relaxed);
        }
    }

    /// Counts `n` drops for `reason`.
    pub(crate) fn drop(&self, reason: DropReason, n: u64) {
        if n > 0 {
            self.drops[reason.index()].fetch_add(n, Relaxed);
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

/// Live counters of one direction.
#[derive(Debug, Default)]
pub(crate) struct DirStats {
    pub(crate) rx: QueueStats,
    pub(crate) tx: QueueStats,
    pub(crate) queued: AtomicU64,
    pub(crate) duplicated: AtomicU64,
}

impl DirStats {
    fn snapshot(&self) -> DirectionCounters {
        // Read tx before rx so that a concurrent batch can only make rx look larger, never
        // make sent look larger than received.
        let tx = self.tx.snapshot();
        let queued = self.queued.load(Relaxed);
        let duplicated = self.duplicated.load(Relaxed);
        DirectionCounters {
            rx: self.rx.snapshot(),
            tx,
            queued,
            duplicated,
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
        d.rx.batch(10, 1000);
        d.rx.drop(DropReason::Filter, 2);
        d.rx.drop(DropReason::Impairment, 1);
        d.duplicated.fetch_add(1, Relaxed);
        d.queued.fetch_add(3, Relaxed);
        d.tx.batch(5, 500);
        d.tx.drop(DropReason::SendError, 0);
        let c = s.snapshot();
        // 10 received + 1 duplicate = 5 sent + 3 dropped + 3 queued
        assert!(c.a_to_b.is_conserved(), "{c:?}");
        assert_eq!(c.a_to_b.drops().total(), 3);
        assert_eq!(c.a_to_b.rx.batch_hist[3], 1);
        assert_eq!(c.a_to_b.tx.batch_hist[2], 1);
        assert_eq!(c.a_to_b.rx.syscalls, 1);
        // A send error is a drop and not a send: the books still balance.
        d.tx.drop(DropReason::SendError, 1);
        let c = s.snapshot();
        assert!(c.a_to_b.is_conserved(), "{c:?}");
        assert_eq!(c.a_to_b.sent(), 4);
        // A frame received but not accounted for unbalances them.
        d.rx.batch(1, 100);
        assert!(!s.snapshot().a_to_b.is_conserved());
        assert!(s.snapshot().b_to_a.is_conserved());
    }
}
