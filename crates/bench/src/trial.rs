//! One measurement: a sink and a generator running together for a while.

use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{BenchError, Result};
use crate::frame::{Flow, FrameSize};
use crate::generator::{generate, GeneratorConfig, GeneratorResult};
use crate::interrupt;
use crate::packet_socket::Port;
use crate::sink::{Sink, SinkResult};
use crate::stats::Latency;

/// How long the sink keeps counting after the generator stopped (frames still in queues).
pub const DRAIN: Duration = Duration::from_millis(300);

static NEXT_RUN: AtomicU16 = AtomicU16::new(1);

/// A fresh run id (never 0), so frames of an earlier run still in flight are not counted.
pub fn next_run_id() -> u16 {
    loop {
        let r = NEXT_RUN.fetch_add(1, Ordering::Relaxed) ^ (std::process::id() as u16);
        if r != 0 {
            return r;
        }
    }
}

/// Where a measurement sends from and counts at, and with which addresses.
#[derive(Debug, Clone)]
pub struct Path {
    /// The generator's interface.
    pub tx: Port,
    /// The sink's interface.
    pub rx: Port,
    /// Addresses of the frames.
    pub flow: Flow,
    /// CPU of the generator thread.
    pub tx_cpu: Option<usize>,
    /// CPU of the sink thread.
    pub rx_cpu: Option<usize>,
}

/// The result of one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Frames sent.
    pub sent: u64,
    /// Frames of the run counted at the sink (at most `sent`; see `duplicates`).
    pub delivered: u64,
    /// `sent - delivered`.
    pub lost: u64,
    /// Frames delivered more than once (counted beyond `sent`).
    pub duplicates: u64,
    /// Frames that arrived after a higher sequence number.
    pub reordered: u64,
    /// Seconds the generator sent for.
    pub seconds: f64,
    /// Frames per second sent.
    pub offered_pps: f64,
    /// Frames per second delivered (delivered / seconds).
    pub delivered_pps: f64,
    /// `lost / sent` (0 when nothing was sent).
    pub loss_ratio: f64,
    /// Delivered bits per second at layer 2 (frames with FCS).
    pub delivered_bps: f64,
    /// Latency percentiles, when frames were timestamped.
    pub latency: Option<Latency>,
    /// Frames the sink's own socket dropped.
    pub sink_drops: u64,
    /// Failed send calls.
    pub send_errors: u64,
    /// CPU seconds the scenario's guests used during the trial (their kernels and what runs
    /// below them), when it has guests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_cpu_seconds: Option<f64>,
}

impl Trial {
    /// Combines a generator's and a sink's counts.
    pub fn from_counts(g: &GeneratorResult, s: &SinkResult) -> Trial {
        let delivered = s.delivered.min(g.sent);
        let lost = g.sent - delivered;
        let secs = g.seconds.max(1e-9);
        Trial {
            sent: g.sent,
            delivered,
            lost,
            duplicates: s.delivered - delivered,
            reordered: s.reordered,
            seconds: g.seconds,
            offered_pps: g.sent as f64 / secs,
            delivered_pps: delivered as f64 / secs,
            loss_ratio: if g.sent == 0 {
                0.0
            } else {
                lost as f64 / g.sent as f64
            },
            delivered_bps: (s.bytes + 4 * s.delivered) as f64 * 8.0 / secs,
            latency: s.latency,
            sink_drops: s.sink_drops,
            send_errors: g.send_errors,
            guest_cpu_seconds: None,
        }
    }
}

/// Runs one measurement on `path` with the `sendmmsg`/`recvmmsg` backend; see
/// [`measure_with`].
pub fn measure(
    path: &Path,
    size: FrameSize,
    rate: Option<u64>,
    duration: Duration,
) -> Result<Trial> {
    measure_with(path, size, rate, duration, Backend::Mmsg)
}

/// Runs one measurement on `path`: starts the sink, sends `size` frames at `rate` (or
/// unpaced) for `duration`, lets the sink drain for [`DRAIN`], and counts; generator and
/// sink move frames with `backend`. When the bench is interrupted the generator stops early
/// and this fails with [`BenchError::Interrupted`] (the sink is stopped either way).
pub fn measure_with(
    path: &Path,
    size: FrameSize,
    rate: Option<u64>,
    duration: Duration,
    backend: Backend,
) -> Result<Trial> {
    interrupt::check()?;
    let run = next_run_id();
    let sink = Sink::start(&path.rx, run, path.rx_cpu, backend)?;
    let cfg = GeneratorConfig {
        port: path.tx.clone(),
        flow: path.flow,
        size,
        rate,
        duration,
        cpu: path.tx_cpu,
        run,
        backend,
    };
    let g = std::thread::Builder::new()
        .name("umlvnf-gen".into())
        .spawn(move || generate(&cfg))
        .map_err(|e| BenchError::os("start the generator thread", e))?
        .join()
        .map_err(|_| BenchError::os("run the generator", std::io::Error::other("it panicked")))??;
    interrupt::check()?;
    interrupt::sleep(DRAIN);
    interrupt::check()?;
    let s = sink.stop()?;
    Ok(Trial::from_counts(&g, &s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_conserve() {
        let g = GeneratorResult {
            sent: 1000,
            bytes: 60_000,
            seconds: 2.0,
            send_errors: 0,
        };
        let s = SinkResult {
            delivered: 900,
            bytes: 54_000,
            reordered: 3,
            latency: None,
            sink_drops: 0,
        };
        let t = Trial::from_counts(&g, &s);
        assert_eq!(t.sent, t.delivered + t.lost);
        assert_eq!((t.delivered, t.lost, t.duplicates), (900, 100, 0));
        assert!((t.loss_ratio - 0.1).abs() < 1e-12);
        assert!((t.offered_pps - 500.0).abs() < 1e-9);
        assert!((t.delivered_pps - 450.0).abs() < 1e-9);
        assert!((t.delivered_bps - 900.0 * 64.0 * 8.0 / 2.0).abs() < 1e-6);
        let dup = SinkResult {
            delivered: 1005,
            ..s
        };
        let t = Trial::from_counts(&g, &dup);
        assert_eq!((t.delivered, t.lost, t.duplicates), (1000, 0, 5));
    }

    #[test]
    fn run_ids_are_never_zero() {
        for _ in 0..70_000 {
            assert_ne!(next_run_id(), 0);
        }
    }
}
