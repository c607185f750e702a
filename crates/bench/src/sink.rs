//! The sink: AF_PACKET `recvmmsg` (or a chain of io_uring RECVMSG requests) in batches of 64
//! on its own thread (pinned to one CPU), counting the frames of one run, their bytes,
//! reordering and latency.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use umlvnf_datapath::packet_socket::ETH_P_IP;
use umlvnf_datapath::FrameBatch;

use crate::affinity::{monotonic_ns, pin_current_thread};
use crate::backend::{Backend, BatchIo};
use crate::error::{BenchError, Result};
use crate::frame::parse;
use crate::packet_socket::{self, Port};
use crate::stats::Latency;

/// Most latency samples kept per run (later frames are counted but not sampled).
pub const MAX_SAMPLES: usize = 8 << 20;
/// Socket receive buffer asked for the sink.
const RECV_BUF: usize = 32 << 20;
/// Frames per receive batch.
const BATCH: usize = 64;
/// Longest wait for the first frame of a batch (how soon a stop is seen when idle).
const WAIT_MS: u64 = 20;

/// What the sink saw of one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SinkResult {
    /// Frames of the run received (duplicates included).
    pub delivered: u64,
    /// Their bytes as received (without FCS).
    pub bytes: u64,
    /// Frames whose sequence number was below one already seen.
    pub reordered: u64,
    /// Latency percentiles, when the frames were timestamped.
    pub latency: Option<Latency>,
    /// Frames the sink's own socket dropped (its receive buffer was full): if not zero, the
    /// sink, not the device under test, lost them.
    pub sink_drops: u64,
}

/// A running sink; [`Sink::stop`] ends it and returns the counts.
pub struct Sink {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<SinkResult>>>,
}

impl Sink {
    /// Opens the socket on `port` and starts counting frames of run `run` on a thread pinned
    /// to `cpu`, receiving with `backend`. Returns once the socket is open (frames sent after
    /// that are seen); fails when the kernel refuses the backend.
    pub fn start(port: &Port, run: u16, cpu: Option<usize>, backend: Backend) -> Result<Sink> {
        let sock = packet_socket::open(port, ETH_P_IP, RECV_BUF)?;
        sock.set_recv_timeout(std::time::Duration::from_millis(WAIT_MS))?;
        let mut io = BatchIo::new(backend, BATCH)?;
        sock.take_drops();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (ready_tx, ready_rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("umlvnf-sink".into())
            .spawn(move || -> Result<SinkResult> {
                if let Some(c) = cpu {
                    pin_current_thread(c)?;
                }
                let _ = ready_tx.send(());
                let mut batch = FrameBatch::new(BATCH, 2048);
                let wait = std::time::Duration::from_millis(WAIT_MS);
                let mut r = SinkResult {
                    delivered: 0,
                    bytes: 0,
                    reordered: 0,
                    latency: None,
                    sink_drops: 0,
                };
                let mut samples: Vec<u64> = Vec::with_capacity(1 << 16);
                let mut max_seq: Option<u32> = None;
                while !flag.load(Ordering::Relaxed) {
                    let n = io
                        .recv(&sock, &mut batch, wait)
                        .map_err(|e| BenchError::os("receive frames in the sink", e))?;
                    if n == 0 {
                        continue;
                    }
                    let now = monotonic_ns();
                    for i in 0..n {
                        let f = batch.frame(i);
                        let Some(s) = parse(f) else { continue };
                        if s.run != run {
                            continue;
                        }
                        r.delivered += 1;
                        r.bytes += f.len() as u64;
                        match max_seq {
                            Some(m) if s.seq < m => r.reordered += 1,
                            _ => max_seq = Some(s.seq),
                        }
                        if s.ts_ns != 0 && samples.len() < MAX_SAMPLES {
                            samples.push(now.saturating_sub(s.ts_ns));
                        }
                    }
                }
                r.sink_drops = sock.take_drops().unwrap_or(0);
                r.latency = Latency::from_samples(&mut samples);
                Ok(r)
            })
            .map_err(|e| BenchError::os("start the sink thread", e))?;
        let _ = ready_rx.recv();
        Ok(Sink {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the sink (within about 20 ms) and returns what it counted.
    pub fn stop(mut self) -> Result<SinkResult> {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(BenchError::os(
                "finish the sink thread",
                std::io::Error::other("it panicked"),
            )),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
