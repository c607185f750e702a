//! The traffic generator: AF_PACKET `sendmmsg` (or a chain of io_uring SENDMSG requests)
//! in batches of 64, pinned to one CPU, unpaced or paced to a packet rate. It stops early
//! when the bench is interrupted.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use umlvnf_datapath::FrameBatch;

use crate::affinity::{monotonic_ns, pin_current_thread};
use crate::backend::{Backend, BatchIo};
use crate::error::Result;
use crate::frame::{build_frame, stamp, Flow, FrameSize};
use crate::interrupt;
use crate::packet_socket::{self, Port};

/// Frames per `sendmmsg`.
pub const BATCH: usize = 64;
/// Socket buffer asked for the generator.
const SEND_BUF: usize = 4 << 20;

/// What to send.
#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    /// Interface to send on.
    pub port: Port,
    /// Addresses of the frames.
    pub flow: Flow,
    /// Frame size or IMIX.
    pub size: FrameSize,
    /// Frames per second, or `None` for as fast as possible.
    pub rate: Option<u64>,
    /// How long to send.
    pub duration: Duration,
    /// CPU to pin the sending thread to (`None`: not pinned).
    pub cpu: Option<usize>,
    /// Run id written into every frame (the sink counts only its own run).
    pub run: u16,
    /// How batches are sent.
    pub backend: Backend,
}

/// What the generator did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeneratorResult {
    /// Frames the kernel accepted (sequence numbers 0..sent).
    pub sent: u64,
    /// Bytes of those frames on the wire (without FCS).
    pub bytes: u64,
    /// Seconds from the first to the last send.
    pub seconds: f64,
    /// `sendmmsg` calls that failed (ENOBUFS and the like); their frames were not sent.
    pub send_errors: u64,
}

impl GeneratorResult {
    /// Frames per second offered.
    pub fn pps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.sent as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Sends frames per `cfg` on the calling thread (pinning it if asked) and returns the counts.
/// Frame `k` of a run carries sequence number `k` and its send time. Ends early (with the
/// counts so far) when the bench is interrupted.
pub fn generate(cfg: &GeneratorConfig) -> Result<GeneratorResult> {
    let sock = packet_socket::open(&cfg.port, 0, SEND_BUF)?;
    let mut io = BatchIo::new(cfg.backend, BATCH)?;
    if let Some(cpu) = cfg.cpu {
        pin_current_thread(cpu)?;
    }
    // Timer slack of 1 µs makes paced sleeps precise.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1u64, 0u64, 0u64, 0u64) };
    let pattern = cfg.size.pattern();
    let mut templates: Vec<(u16, Vec<u8>)> = Vec::new();
    for &s in &pattern {
        if !templates.iter().any(|(t, _)| *t == s) {
            templates.push((s, build_frame(&cfg.flow, s, cfg.run)));
        }
    }
    let template = |s: u16| -> &[u8] {
        templates
            .iter()
            .find(|(t, _)| *t == s)
            .map_or(&[][..], |(_, f)| f.as_slice())
    };
    let mut batch = FrameBatch::new(BATCH, 1514);
    let mut slot_size = [0u16; BATCH];
    let duration_ns = cfg.duration.as_nanos().min(u128::from(u64::MAX)) as u64;
    let start = monotonic_ns();
    let end = start + duration_ns;
    let mut sent: u64 = 0;
    let mut bytes: u64 = 0;
    let mut errors: u64 = 0;
    let mut last = start;
    loop {
        let now = monotonic_ns();
        if now >= end || interrupt::stop_requested() {
            break;
        }
        let want = match cfg.rate {
            None => BATCH,
            Some(0) => break,
            Some(rate) => {
                let due = (u128::from(now - start) * u128::from(rate) / 1_000_000_000) as u64;
                if due <= sent {
                    let next_ns =
                        ((u128::from(sent) + 1) * 1_000_000_000 / u128::from(rate)) as u64 + start;
                    let wait = next_ns.saturating_sub(now).min(end - now);
                    if wait > 100_000 {
                        std::thread::sleep(Duration::from_nanos(wait - 50_000));
                    } else {
                        std::hint::spin_loop();
                    }
                    continue;
                }
                (due - sent).min(BATCH as u64) as usize
            }
        };
        for (i, slot) in slot_size.iter_mut().enumerate().take(want) {
            let seq = sent + i as u64;
            let size = pattern[(seq % pattern.len() as u64) as usize];
            if *slot != size {
                let t = template(size);
                batch.buf_mut(i)[..t.len()].copy_from_slice(t);
                batch.set_len(i, t.len());
                *slot = size;
            }
            stamp(batch.frame_mut(i), seq as u32, now);
        }
        match io.send(&sock, &mut batch, want) {
            Ok(n) => {
                for i in 0..n {
                    bytes += batch.len(i) as u64;
                }
                sent += n as u64;
                last = monotonic_ns();
            }
            Err(_) => {
                errors += 1;
                std::thread::yield_now();
            }
        }
    }
    Ok(GeneratorResult {
        sent,
        bytes,
        seconds: (last.max(start + 1) - start) as f64 / 1e9,
        send_errors: errors,
    })
}
