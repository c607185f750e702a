//! Percentiles of latency samples and median/min/max over repetitions.

use serde::{Deserialize, Serialize};

/// The nearest-rank percentile `p` (0..=100) of `sorted` (ascending): the smallest sample
/// such that at least `p` % of the samples are at or below it. `None` when empty.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Latency percentiles of one trial, in nanoseconds (send timestamp to sink receive, same
/// host clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Largest sample.
    pub max_ns: u64,
    /// Samples the percentiles are from.
    pub samples: u64,
}

impl Latency {
    /// Percentiles of `samples` (sorted in place); `None` when there are none.
    pub fn from_samples(samples: &mut [u64]) -> Option<Latency> {
        samples.sort_unstable();
        Some(Latency {
            p50_ns: percentile(samples, 50.0)?,
            p90_ns: percentile(samples, 90.0)?,
            p99_ns: percentile(samples, 99.0)?,
            max_ns: *samples.last()?,
            samples: samples.len() as u64,
        })
    }
}

/// Median, smallest and largest of a value over repetitions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Median (the mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; all zero when empty. NaNs are ignored.
    pub fn of(values: &[f64]) -> Spread {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return Spread {
                median: 0.0,
                min: 0.0,
                max: 0.0,
            };
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Spread {
            median,
            min: v[0],
            max: v[n - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 90.0), Some(90));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        // The classic example: 15, 20, 35, 40, 50.
        let w = [15, 20, 35, 40, 50];
        assert_eq!(percentile(&w, 30.0), Some(20));
        assert_eq!(percentile(&w, 40.0), Some(20));
        assert_eq!(percentile(&w, 50.0), Some(35));
        assert_eq!(percentile(&w, 100.0), Some(50));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7], 99.0), Some(7));
    }

    #[test]
    fn latency_from_unsorted_samples() {
        let mut s: Vec<u64> = (1..=1000).rev().collect();
        let l = Latency::from_samples(&mut s).unwrap();
        assert_eq!(
            (l.p50_ns, l.p90_ns, l.p99_ns, l.max_ns),
            (500, 900, 990, 1000)
        );
        assert_eq!(l.samples, 1000);
        assert_eq!(Latency::from_samples(&mut []), None);
    }

    #[test]
    fn spread_median_min_max() {
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = Spread::of(&[4.0, 1.0, 2.0, 3.0]);
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        let s = Spread::of(&[]);
        assert_eq!((s.median, s.min, s.max), (0.0, 0.0, 0.0));
    }
}
