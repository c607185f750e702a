//! The engine: worker threads that each poll the ends of their wires and move frames, driven
//! by control calls over channels (the packet path never waits on a control call).

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use umlvnf_packet::impair::Impairment;
use umlvnf_packet::pcap::PcapWriter;

use crate::counters::{WireCounters, WireStats};
use crate::end::{End, Role};
use crate::error::{DatapathError, Result};
use crate::wire::{Capture, Direction, Wire, WireSpec};

/// Snap length of captures (whole frames up to 64 KiB).
pub const CAPTURE_SNAPLEN: u32 = 65535;
/// Longest a worker sleeps in `poll` when no delayed frame is due.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// Most batches read from one ready end before the others get a turn.
const ROUNDS_PER_WAKE: usize = 8;
/// How long a control call waits for a worker's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a worker samples the kernel's receive drops of Packet ends.
const KERNEL_DROPS_EVERY: Duration = Duration::from_millis(200);

/// Identifies a wire of a [`Datapath`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WireId(pub u64);

impl fmt::Display for WireId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Identifies a capture stream of a [`Datapath`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaptureId(pub u64);

enum Cmd {
    Add(Box<Wire>),
    Remove(u64, SyncSender<()>),
    Impair(u64, usize, Impairment, SyncSender<()>),
    Capture(u64, u64, Box<Capture>, SyncSender<()>),
    StopCapture(u64, u64, SyncSender<()>),
    Stop,
}

struct Worker {
    tx: Sender<Cmd>,
    wake: Arc<OwnedFd>,
    handle: Option<JoinHandle<()>>,
    wires: usize,
}

struct Entry {
    name: String,
    worker: usize,
    stats: Arc<WireStats>,
    up: Arc<AtomicBool>,
}

#[derive(Default)]
struct Registry {
    wires: HashMap<u64, Entry>,
    captures: HashMap<u64, u64>,
}

/// The datapath engine: a set of worker threads moving frames along wires.
pub struct Datapath {
    workers: Mutex<Vec<Worker>>,
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    stopped: AtomicBool,
}

impl fmt::Debug for Datapath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Datapath")
            .field("wires", &self.list())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn eventfd() -> Result<OwnedFd> {
    // SAFETY: plain system call with integer arguments.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(DatapathError::last_os(
            "create an eventfd to wake a datapath thread",
        ));
    }
    // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn kick(fd: &OwnedFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to an eventfd.
    let _ = unsafe { libc::write(fd.as_raw_fd(), &one as *const u64 as *const libc::c_void, 8) };
}

fn drain(fd: RawFd) {
    let mut v: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64 from a non-blocking eventfd.
    let _ = unsafe { libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
}

impl Datapath {
    /// Starts `threads` worker threads (0 = one per available core), not pinned.
    pub fn start(threads: usize) -> Result<Datapath> {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        Datapath::spawn(&vec![None; threads])
    }

    /// Starts one worker thread per entry of `cpus`, each pinned to that CPU (so the
    /// datapath can own cores apart from what it serves). Fails when `cpus` is empty or a
    /// CPU cannot be used.
    pub fn start_pinned(cpus: &[usize]) -> Result<Datapath> {
        if cpus.is_empty() {
            return Err(DatapathError::BadCpus(
                "a pinned datapath needs at least one CPU".to_string(),
            ));
        }
        let cpus: Vec<Option<usize>> = cpus.iter().copied().map(Some).collect();
        Datapath::spawn(&cpus)
    }

    fn spawn(cpus: &[Option<usize>]) -> Result<Datapath> {
        let mut workers: Vec<Worker> = Vec::with_capacity(cpus.len());
        let stop_all = |workers: Vec<Worker>| {
            for mut w in workers {
                let _ = w.tx.send(Cmd::Stop);
                kick(&w.wake);
                if let Some(h) = w.handle.take() {
                    let _ = h.join();
                }
            }
        };
        for (i, cpu) in cpus.iter().enumerate() {
            let wake = match eventfd() {
                Ok(fd) => Arc::new(fd),
                Err(e) => {
                    stop_all(workers);
                    return Err(e);
                }
            };
            let (tx, rx) = mpsc::channel();
            let w = Arc::clone(&wake);
            let cpu = *cpu;
            let (pinned_tx, pinned_rx) = mpsc::sync_channel(1);
            let handle = std::thread::Builder::new()
                .name(format!("umlvnf-dp{i}"))
                .spawn(move || {
                    let pinned = cpu.map_or(Ok(()), |c| {
                        umlvnf_host::pin_current_thread(c)
                            .map_err(|e| DatapathError::BadCpus(e.to_string()))
                    });
                    let ok = pinned.is_ok();
                    let _ = pinned_tx.send(pinned);
                    if ok {
                        run(rx, w);
                    }
                });
            let handle = match handle {
                Ok(h) => h,
                Err(e) => {
                    stop_all(workers);
                    return Err(DatapathError::os("start a datapath thread", e));
                }
            };
            // The worker reports whether it could pin itself before it moves any frame.
            let pinned = pinned_rx.recv().unwrap_or_else(|_| {
                Err(DatapathError::BadCpus(
                    "a datapath thread ended before it could pin itself".to_string(),
                ))
            });
            if let Err(e) = pinned {
                let _ = handle.join();
                stop_all(workers);
                return Err(e);
            }
            workers.push(Worker {
                tx,
                wake,
                handle: Some(handle),
                wires: 0,
            });
        }
        Ok(Datapath {
            workers: Mutex::new(workers),
            registry: Mutex::new(Registry::default()),
            next_id: AtomicU64::new(1),
            stopped: AtomicBool::new(false),
        })
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        lock(&self.workers).len()
    }

    fn send(&self, worker: usize, cmd: Cmd) -> Result<()> {
        let workers = lock(&self.workers);
        let w = workers.get(worker).ok_or(DatapathError::ShutDown)?;
        w.tx.send(cmd).map_err(|_| DatapathError::ShutDown)?;
        kick(&w.wake);
        Ok(())
    }

    fn wait(ack: Receiver<()>) -> Result<()> {
        ack.recv_timeout(ACK_TIMEOUT)
            .map_err(|_| DatapathError::ShutDown)
    }

    fn worker_of(&self, id: WireId) -> Result<usize> {
        lock(&self.registry)
            .wires
            .get(&id.0)
            .map(|e| e.worker)
            .ok_or(DatapathError::NoSuchWire(id.0))
    }

    /// Opens both ends (in the calling thread, so interface names resolve in its network
    /// namespace and errors come back here) and hands the wire to the least loaded thread.
    /// The wire starts up.
    pub fn add_wire(&self, spec: WireSpec) -> Result<WireId> {
        if self.stopped.load(Relaxed) {
            return Err(DatapathError::ShutDown);
        }
        if spec.filter.iter().flatten().any(|p| p.is_empty()) {
            return Err(DatapathError::BadEnd(
                "a filter program is empty: give at least one instruction (a `ret`)".to_string(),
            ));
        }
        let a = End::open_with(spec.a, spec.depth, spec.backend)?;
        let b = End::open_with(spec.b, spec.depth, spec.backend)?;
        let id = self.next_id.fetch_add(1, Relaxed);
        let stats = Arc::new(WireStats::default());
        let up = Arc::new(AtomicBool::new(true));
        let wire = Wire::new(
            id,
            [a, b],
            spec.impair,
            spec.filter,
            Arc::clone(&up),
            Arc::clone(&stats),
        );
        let worker = {
            let mut workers = lock(&self.workers);
            let (idx, w) = workers
                .iter_mut()
                .enumerate()
                .min_by_key(|(_, w)| w.wires)
                .ok_or(DatapathError::ShutDown)?;
            w.wires += 1;
            idx
        };
        lock(&self.registry).wires.insert(
            id,
            Entry {
                name: spec.name,
                worker,
                stats,
                up,
            },
        );
        if let Err(e) = self.send(worker, Cmd::Add(Box::new(wire))) {
            lock(&self.registry).wires.remove(&id);
            return Err(e);
        }
        Ok(WireId(id))
    }

    /// Stops a wire: its sockets are closed, its captures flushed and ended, a seqpacket
    /// end's path removed, and queued frames discarded. Returns once its thread has done so.
    pub fn remove_wire(&self, id: WireId) -> Result<()> {
        let worker = {
            let mut reg = lock(&self.registry);
            let entry = reg
                .wires
                .remove(&id.0)
                .ok_or(DatapathError::NoSuchWire(id.0))?;
            reg.captures.retain(|_, w| *w != id.0);
            entry.worker
        };
        if let Some(w) = lock(&self.workers).get_mut(worker) {
            w.wires = w.wires.saturating_sub(1);
        }
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(worker, Cmd::Remove(id.0, tx))?;
        Self::wait(rx)
    }

    /// Replaces the impairment of one direction (frames already delayed keep their time).
    /// Returns once the wire's thread applies it: later frames get the new impairment.
    pub fn set_impairment(&self, id: WireId, dir: Direction, imp: Impairment) -> Result<()> {
        let worker = self.worker_of(id)?;
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(worker, Cmd::Impair(id.0, dir.index(), imp, tx))?;
        Self::wait(rx)
    }

    /// Sets the wire up or down; while down every frame (received or coming out of the delay
    /// queue) is dropped as `link_down`. Takes effect at the next batch.
    pub fn set_up(&self, id: WireId, up: bool) -> Result<()> {
        let reg = lock(&self.registry);
        let e = reg
            .wires
            .get(&id.0)
            .ok_or(DatapathError::NoSuchWire(id.0))?;
        e.up.store(up, Relaxed);
        Ok(())
    }

    /// Starts a pcap stream (header written now, snaplen 65535) of every frame that crosses
    /// the wire in either direction, at the moment it is handed to the sending socket. The
    /// writer is called from the wire's thread, so give it something fast (a `BufWriter`);
    /// a writer that fails ends its capture. Returns once the wire's thread has the stream,
    /// so every frame handed to a socket from then on is in it.
    pub fn capture(&self, id: WireId, w: Box<dyn Write + Send>) -> Result<CaptureId> {
        let worker = self.worker_of(id)?;
        let writer = PcapWriter::new(w, CAPTURE_SNAPLEN).map_err(DatapathError::Capture)?;
        let cid = self.next_id.fetch_add(1, Relaxed);
        lock(&self.registry).captures.insert(cid, id.0);
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(worker, Cmd::Capture(id.0, cid, Box::new(writer), tx))?;
        Self::wait(rx)?;
        Ok(CaptureId(cid))
    }

    /// Ends a capture: its writer is flushed and dropped by the wire's thread before this
    /// returns.
    pub fn stop_capture(&self, cid: CaptureId) -> Result<()> {
        let wire = lock(&self.registry)
            .captures
            .remove(&cid.0)
            .ok_or(DatapathError::NoSuchCapture(cid.0))?;
        let worker = self.worker_of(WireId(wire))?;
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(worker, Cmd::StopCapture(wire, cid.0, tx))?;
        Self::wait(rx)
    }

    /// A snapshot of the wire's counters.
    pub fn counters(&self, id: WireId) -> Result<WireCounters> {
        lock(&self.registry)
            .wires
            .get(&id.0)
            .map(|e| e.stats.snapshot())
            .ok_or(DatapathError::NoSuchWire(id.0))
    }

    /// Wires and their names, by id.
    pub fn list(&self) -> Vec<(WireId, String)> {
        let reg = lock(&self.registry);
        let mut v: Vec<_> = reg
            .wires
            .iter()
            .map(|(id, e)| (WireId(*id), e.name.clone()))
            .collect();
        v.sort();
        v
    }

    /// Stops every thread (closing all ends, flushing captures) and waits for them.
    /// Idempotent; later control calls fail with [`DatapathError::ShutDown`].
    pub fn shutdown(&self) {
        self.stopped.store(true, Relaxed);
        let mut workers = lock(&self.workers);
        for w in workers.iter() {
            let _ = w.tx.send(Cmd::Stop);
            kick(&w.wake);
        }
        for w in workers.iter_mut() {
            if let Some(h) = w.handle.take() {
                let _ = h.join();
            }
        }
        workers.clear();
        let mut reg = lock(&self.registry);
        reg.wires.clear();
        reg.captures.clear();
    }
}

impl Drop for Datapath {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Applies one command; returns false on `Stop`.
fn apply(wires: &mut Vec<Wire>, cmd: Cmd) -> bool {
    let find = |wires: &mut Vec<Wire>, id: u64| wires.iter().position(|w| w.id == id);
    match cmd {
        Cmd::Add(w) => wires.push(*w),
        Cmd::Remove(id, ack) => {
            if let Some(i) = find(wires, id) {
                let mut w = wires.swap_remove(i);
                w.flush_captures();
                drop(w);
            }
            let _ = ack.send(());
        }
        Cmd::Impair(id, d, imp, ack) => {
            if let Some(i) = find(wires, id) {
                wires[i].set_impairment(d, imp);
            }
            let _ = ack.send(());
        }
        Cmd::Capture(id, cid, writer, ack) => {
            if let Some(i) = find(wires, id) {
                wires[i].add_capture(cid, *writer);
            }
            let _ = ack.send(());
        }
        Cmd::StopCapture(id, cid, ack) => {
            if let Some(i) = find(wires, id) {
                wires[i].stop_capture(cid);
            }
            let _ = ack.send(());
        }
        Cmd::Stop => return false,
    }
    true
}

/// A worker thread's loop.
fn run(rx: Receiver<Cmd>, wake: Arc<OwnedFd>) {
    let mut wires: Vec<Wire> = Vec::new();
    let mut pfds: Vec<libc::pollfd> = Vec::new();
    let mut map: Vec<(usize, usize, Role)> = Vec::new();
    let mut fds = Vec::new();
    let mut sampled = Instant::now();
    'outer: loop {
        loop {
            match rx.try_recv() {
                Ok(cmd) => {
                    if !apply(&mut wires, cmd) {
                        break 'outer;
                    }
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => break 'outer,
            }
        }
        pfds.clear();
        map.clear();
        pfds.push(libc::pollfd {
            fd: wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        for (wi, w) in wires.iter().enumerate() {
            for (e, end) in w.ends.iter().enumerate() {
                fds.clear();
                end.poll_fds(&mut fds);
                for &(fd, role) in &fds {
                    pfds.push(libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    });
                    map.push((wi, e, role));
                }
            }
        }
        let now = Instant::now();
        let timeout = wires
            .iter()
            .filter_map(Wire::next_due)
            .min()
            .map_or(IDLE_POLL, |t| {
                t.saturating_duration_since(now).min(IDLE_POLL)
            });
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: pfds is a live array of pfds.len() pollfd entries; ts lives across the call.
        let r = unsafe {
            libc::ppoll(
                pfds.as_mut_ptr(),
                pfds.len() as libc::nfds_t,
                &ts,
                std::ptr::null(),
            )
        };
        let now = Instant::now();
        if r > 0 {
            if pfds[0].revents != 0 {
                drain(wake.as_raw_fd());
            }
            for (k, &(wi, e, role)) in map.iter().enumerate() {
                let rev = pfds[k + 1].revents;
                if rev == 0 {
                    continue;
                }
                let Some(w) = wires.get_mut(wi) else { continue };
                match role {
                    Role::Listener => {
                        w.ends[e].accept();
                    }
                    Role::Data => {
                        let mut rounds = 0;
                        while w.pump(e, now) && rounds < ROUNDS_PER_WAKE {
                            rounds += 1;
                        }
                        if rev & (libc::POLLHUP | libc::POLLERR) != 0 && w.ends[e].is_conn() {
                            w.ends[e].hang_up();
                        }
                    }
                }
            }
        }
        for w in wires.iter_mut() {
            w.flush_due(0, now);
            w.flush_due(1, now);
        }
        if now.duration_since(sampled) >= KERNEL_DROPS_EVERY {
            sampled = now;
            wires.iter().for_each(Wire::sample_kernel_drops);
        }
    }
    for w in wires.iter_mut() {
        w.sample_kernel_drops();
        w.flush_captures();
    }
}
