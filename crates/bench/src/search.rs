//! Zero-loss search (RFC 2544 throughput): binary search on the offered rate for the highest
//! rate whose loss ratio is at most a bound.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::trial::Trial;

/// One probe of the search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Rate asked of the generator (frames per second).
    pub target_pps: u64,
    /// Rate it achieved.
    pub offered_pps: f64,
    /// Rate delivered.
    pub delivered_pps: f64,
    /// Loss ratio.
    pub loss_ratio: f64,
    /// Whether the loss ratio was within the bound.
    pub pass: bool,
}

/// Result of a zero-loss search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZeroLoss {
    /// The loss bound (e.g. 0.001).
    pub max_loss_ratio: f64,
    /// Highest rate offered (as achieved) whose loss was within the bound; 0 if none was.
    pub rate_pps: f64,
    /// What was delivered at that rate.
    pub delivered_pps: f64,
    /// Every probe in order.
    pub probes: Vec<Probe>,
}

/// Searches rates between 0 and `ceiling` pps: first probes `ceiling` itself (done if it
/// passes), then halves the interval between the highest passing and the lowest failing
/// rate, for at most `iterations` probes in all or until the interval is under 1 % of the
/// ceiling. `measure(rate)` runs one trial at `rate` pps.
pub fn zero_loss_search(
    ceiling: u64,
    max_loss_ratio: f64,
    iterations: usize,
    mut measure: impl FnMut(u64) -> Result<Trial>,
) -> Result<ZeroLoss> {
    let mut out = ZeroLoss {
        max_loss_ratio,
        rate_pps: 0.0,
        delivered_pps: 0.0,
        probes: Vec::new(),
    };
    let ceiling = ceiling.max(1);
    let (mut lo, mut hi) = (0u64, ceiling);
    let mut target = ceiling;
    for _ in 0..iterations.max(1) {
        let t = measure(target)?;
        let pass = t.sent > 0 && t.loss_ratio <= max_loss_ratio;
        out.probes.push(Probe {
            target_pps: target,
            offered_pps: t.offered_pps,
            delivered_pps: t.delivered_pps,
            loss_ratio: t.loss_ratio,
            pass,
        });
        if pass {
            if t.offered_pps > out.rate_pps {
                out.rate_pps = t.offered_pps;
                out.delivered_pps = t.delivered_pps;
            }
            lo = target;
            if target == ceiling {
                break;
            }
        } else {
            hi = target;
        }
        if hi - lo <= ceiling / 100 {
            break;
        }
        target = lo + (hi - lo) / 2;
        if target == 0 {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::GeneratorResult;
    use crate::sink::SinkResult;

    /// A device that forwards up to `cap` pps and drops the excess, for a 1 s trial.
    fn fake(cap: u64) -> impl FnMut(u64) -> Result<Trial> {
        move |rate| {
            let g = GeneratorResult {
                sent: rate,
                bytes: rate * 60,
                seconds: 1.0,
                send_errors: 0,
            };
            let s = SinkResult {
                delivered: rate.min(cap),
                bytes: rate.min(cap) * 60,
                reordered: 0,
                latency: None,
                sink_drops: 0,
            };
            Ok(Trial::from_counts(&g, &s))
        }
    }

    #[test]
    fn finds_the_capacity_within_the_resolution() {
        let z = zero_loss_search(100_000, 0.0, 20, fake(30_000)).unwrap();
        assert!(z.rate_pps <= 30_000.0, "{z:?}");
        assert!(z.rate_pps >= 29_000.0, "{z:?}");
        assert!(z.probes.len() <= 20);
        assert!(!z.probes[0].pass);
        for p in &z.probes {
            assert_eq!(p.pass, p.target_pps <= 30_000, "{p:?}");
        }
    }

    #[test]
    fn a_loss_bound_allows_a_little_more() {
        // 1 % allowed: rates up to 30_000 / 0.99 = 30_303 pass.
        let z = zero_loss_search(100_000, 0.01, 20, fake(30_000)).unwrap();
        assert!(z.rate_pps >= 29_300.0 && z.rate_pps <= 30_303.0, "{z:?}");
        for p in &z.probes {
            assert_eq!(p.pass, p.target_pps <= 30_303, "{p:?}");
        }
    }

    #[test]
    fn ceiling_that_passes_ends_at_once() {
        let z = zero_loss_search(10_000, 0.001, 8, fake(50_000)).unwrap();
        assert_eq!(z.probes.len(), 1);
        assert_eq!(z.rate_pps, 10_000.0);
    }

    #[test]
    fn iterations_bound_the_probes_and_nothing_passing_gives_zero() {
        let z = zero_loss_search(1_000_000, 0.0, 3, fake(0)).unwrap();
        assert_eq!(z.probes.len(), 3);
        assert_eq!(z.rate_pps, 0.0);
        let targets: Vec<u64> = z.probes.iter().map(|p| p.target_pps).collect();
        assert_eq!(targets, vec![1_000_000, 500_000, 250_000]);
    }
}
