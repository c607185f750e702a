//! Wires: two ends and, per direction, filter, vnet conversion, impairment (with a bounded,
//! time-ordered delay queue), capture and link state, with the counters of both directions.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io::Write;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use umlvnf_packet::bpf::{self, BpfInsn};
use umlvnf_packet::impair::{Decision, Impairer, Impairment};
use umlvnf_packet::pcap::PcapWriter;
use umlvnf_packet::vnet::VnetHdr;

pub use umlvnf_datapath_spec::Backend;

use crate::counters::{DropReason, QueueTally, Tally, WireStats};
use crate::end::{End, EndSpec, SendOutcome, TxFrame};
use crate::offload::{to_plain, Plain};

/// Most frames waiting in one direction's delay queue; more are dropped as `queue_full`.
pub const DELAY_QUEUE_LIMIT: usize = 8192;

/// One direction of a wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Frames received on end a, sent on end b.
    AtoB,
    /// Frames received on end b, sent on end a.
    BtoA,
}

impl Direction {
    /// 0 for a→b, 1 for b→a (the index into [`WireSpec::impair`] and [`WireSpec::filter`]).
    pub fn index(self) -> usize {
        match self {
            Direction::AtoB => 0,
            Direction::BtoA => 1,
        }
    }
}

/// What a wire joins and how.
#[derive(Debug)]
pub struct WireSpec {
    /// Name for listings (free text).
    pub name: String,
    /// End a.
    pub a: EndSpec,
    /// End b.
    pub b: EndSpec,
    /// Frames per receive/send system call (1..=1024; UML's default is 64).
    pub depth: usize,
    /// Kernel interface.
    pub backend: Backend,
    /// Impairment of a→b and of b→a.
    pub impair: [Impairment; 2],
    /// cBPF program run on frames received on a, and on b (the Ethernet frame, without
    /// vnet or tunnel header); a frame it returns 0 for is dropped as `filter`.
    pub filter: [Option<Vec<BpfInsn>>; 2],
}

impl WireSpec {
    /// A wire between `a` and `b` with depth 64, the mmsg backend, no impairment, no filter.
    pub fn new(name: impl Into<String>, a: EndSpec, b: EndSpec) -> WireSpec {
        WireSpec {
            name: name.into(),
            a,
            b,
            depth: umlvnf_datapath_spec::DEFAULT_DEPTH as usize,
            backend: Backend::Mmsg,
            impair: [Impairment::default(), Impairment::default()],
            filter: [None, None],
        }
    }
}

/// A frame waiting in the delay queue (ordered by due time, then arrival).
struct Delayed {
    at: Instant,
    seq: u64,
    data: Vec<u8>,
    vnet: Option<VnetHdr>,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    /// Reversed, so that the max-heap pops the earliest frame first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Per-direction processing state.
struct DirState {
    filter: Option<Vec<BpfInsn>>,
    impairer: Option<Impairer>,
    queue: BinaryHeap<Delayed>,
    seq: u64,
    /// The frames of the batch being moved that passed (slot, frame range, vnet header),
    /// kept between batches so the packet path does not allocate.
    passed: Vec<(usize, Range<usize>, Option<VnetHdr>)>,
}

/// A pcap stream fed by a wire.
pub(crate) type Capture = PcapWriter<Box<dyn Write + Send>>;

/// A running wire, owned by one engine thread.
pub(crate) struct Wire {
    pub(crate) id: u64,
    pub(crate) ends: [End; 2],
    dirs: [DirState; 2],
    pub(crate) stats: Arc<WireStats>,
    pub(crate) up: Arc<AtomicBool>,
    captures: Vec<(u64, Capture)>,
}

fn seed(id: u64, d: usize) -> u64 {
    // splitmix64 of the wire id and direction: distinct, reproducible streams.
    let mut z = id
        .wrapping_mul(2)
        .wrapping_add(d as u64)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn impairer(imp: Impairment, id: u64, d: usize) -> Option<Impairer> {
    (!imp.is_none()).then(|| Impairer::new(imp, seed(id, d)))
}

/// Writes `frames` to every capture; a capture whose writer fails is dropped.
fn capture_all<'a>(
    captures: &mut Vec<(u64, Capture)>,
    frames: impl Iterator<Item = &'a [u8]> + Clone,
) {
    if captures.is_empty() {
        return;
    }
    let now = SystemTime::now();
    captures.retain_mut(|(_, w)| frames.clone().all(|f| w.write_frame(now, f).is_ok()));
}

/// Counts a send: the frames the kernel took are sent, the others `send_error` drops.
fn account_send(tx: &mut QueueTally, out: &SendOutcome) {
    tx.add(out.sent, out.bytes, out.syscalls);
    tx.drop(DropReason::SendError, out.failed as u64);
}

impl Wire {
    /// Builds a wire from already opened ends.
    pub(crate) fn new(
        id: u64,
        ends: [End; 2],
        impair: [Impairment; 2],
        filter: [Option<Vec<BpfInsn>>; 2],
        up: Arc<AtomicBool>,
        stats: Arc<WireStats>,
    ) -> Wire {
        let [ia, ib] = impair;
        let [fa, fb] = filter;
        let dir = |imp, f, d| DirState {
            filter: f,
            impairer: impairer(imp, id, d),
            queue: BinaryHeap::new(),
            seq: 0,
            passed: Vec::new(),
        };
        Wire {
            id,
            ends,
            dirs: [dir(ia, fa, 0), dir(ib, fb, 1)],
            stats,
            up,
            captures: Vec::new(),
        }
    }

    /// Changes the impairment of direction `d` (0 a→b, 1 b→a). Frames already queued keep
    /// their due time.
    pub(crate) fn set_impairment(&mut self, d: usize, imp: Impairment) {
        let Some(dir) = self.dirs.get_mut(d) else {
            return;
        };
        match (&mut dir.impairer, imp.is_none()) {
            (_, true) => dir.impairer = None,
            (Some(i), false) => i.set(imp),
            (None, false) => dir.impairer = impairer(imp, self.id, d),
        }
    }

    /// Adds a capture stream.
    pub(crate) fn add_capture(&mut self, id: u64, w: Capture) {
        self.captures.push((id, w));
    }

    /// Stops (flushes and drops) capture `id`.
    pub(crate) fn stop_capture(&mut self, id: u64) {
        self.captures.retain_mut(|(cid, w)| {
            if *cid == id {
                let _ = w.flush();
                false
            } else {
                true
            }
        });
    }

    /// Flushes every capture.
    pub(crate) fn flush_captures(&mut self) {
        for (_, w) in &mut self.captures {
            let _ = w.flush();
        }
    }

    /// Adds the kernel's receive drops of Packet ends to the counters.
    pub(crate) fn sample_kernel_drops(&self) {
        for (d, end) in self.ends.iter().enumerate() {
            if let Some(n) = end.take_kernel_drops() {
                self.stats.dir[d].rx.kernel_drop(n);
            }
        }
    }

    /// Earliest due time in either delay queue.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.dirs
            .iter()
            .filter_map(|d| d.queue.peek().map(|x| x.at))
            .min()
    }

    /// Receives one batch on end `d` and moves it towards the other end. Returns whether the
    /// batch was full (more frames are probably waiting). Its counters are published at once.
    pub(crate) fn pump(&mut self, d: usize, now: Instant) -> bool {
        let mut t = Tally::default();
        let full = self.pump_counted(d, now, &mut t);
        self.stats.dir[d].publish(&t);
        full
    }

    fn pump_counted(&mut self, d: usize, now: Instant, t: &mut Tally) -> bool {
        let Wire {
            ends,
            dirs,
            up,
            captures,
            ..
        } = self;
        let (src, dst) = match ends {
            [a, b] if d == 0 => (a, b),
            [a, b] => (b, a),
        };
        let dir = &mut dirs[d];
        // A receive error (e.g. an ICMP error queued on a UDP socket) reads as an empty batch.
        let n: usize = src.recv_batch().unwrap_or_default();
        t.rx.add(n, src.batch_bytes(n), src.rx_syscalls());
        if n == 0 {
            return false;
        }
        let up = up.load(Relaxed);
        let dst_vnet = dst.has_vnet();
        let mut ok = std::mem::take(&mut dir.passed);
        ok.clear();
        for i in 0..n {
            let (r, vnet) = match src.locate(i) {
                Ok(x) => x,
                Err(reason) => {
                    t.rx.drop(reason, 1);
                    continue;
                }
            };
            if !up {
                t.rx.drop(DropReason::LinkDown, 1);
                continue;
            }
            if let Some(prog) = &dir.filter {
                if bpf::run(prog, &src.slot(i)[r.clone()]) == 0 {
                    t.rx.drop(DropReason::Filter, 1);
                    continue;
                }
            }
            let vnet_out = match (vnet, dst_vnet) {
                (Some(h), true) => Some(h),
                (Some(h), false) => {
                    if to_plain(&h, &mut src.slot_mut(i)[r.clone()]) == Plain::Drop {
                        t.rx.drop(DropReason::Truncated, 1);
                        continue;
                    }
                    None
                }
                (None, _) => None,
            };
            ok.push((i, r, vnet_out));
        }
        if let Some(imp) = &mut dir.impairer {
            for (i, r, vnet) in ok.drain(..) {
                let data = &src.slot(i)[r];
                match imp.decide(now, data.len()) {
                    Decision::Drop => t.rx.drop(DropReason::Impairment, 1),
                    Decision::Deliver { at, copies } => {
                        let copies = copies.max(1);
                        t.duplicated += u64::from(copies - 1);
                        for _ in 0..copies {
                            if dir.queue.len() >= DELAY_QUEUE_LIMIT {
                                t.rx.drop(DropReason::QueueFull, 1);
                                continue;
                            }
                            dir.seq += 1;
                            dir.queue.push(Delayed {
                                at,
                                seq: dir.seq,
                                data: data.to_vec(),
                                vnet,
                            });
                        }
                    }
                }
            }
            t.queued = Some(dir.queue.len() as u64);
        } else if !ok.is_empty() {
            let src: &End = src;
            let frames = ok.iter().map(|(i, r, vnet)| TxFrame {
                data: &src.slot(*i)[r.clone()],
                vnet: *vnet,
            });
            capture_all(captures, frames.clone().map(|f| f.data));
            let out = dst.send_batch(frames);
            account_send(&mut t.tx, &out);
        }
        dir.passed = ok;
        n == src.depth()
    }

    /// Sends (or, when the wire is down, drops) the queued frames of direction `d` that are
    /// due at `now`, publishing the counters after each batch.
    pub(crate) fn flush_due(&mut self, d: usize, now: Instant) {
        let Wire {
            ends,
            dirs,
            stats,
            up,
            captures,
            ..
        } = self;
        let dir = &mut dirs[d];
        let stats = &stats.dir[d];
        let dst = &mut ends[1 - d];
        let limit = dst.depth();
        let mut due = Vec::new();
        loop {
            due.clear();
            while due.len() < limit && dir.queue.peek().is_some_and(|x| x.at <= now) {
                if let Some(x) = dir.queue.pop() {
                    due.push(x);
                }
            }
            if due.is_empty() {
                break;
            }
            let mut t = Tally::default();
            if !up.load(Relaxed) {
                t.rx.drop(DropReason::LinkDown, due.len() as u64);
            } else {
                let frames = due.iter().map(|x| TxFrame {
                    data: &x.data,
                    vnet: x.vnet,
                });
                capture_all(captures, frames.clone().map(|f| f.data));
                let out = dst.send_batch(frames);
                account_send(&mut t.tx, &out);
            }
            t.queued = Some(dir.queue.len() as u64);
            stats.publish(&t);
        }
    }
}
