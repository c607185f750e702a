//! Impairments of one direction of a link (loss, delay, jitter, rate, duplication, reordering),
//! applied per frame by a seeded [`Impairer`]. Their written forms are read by
//! [`crate::units`].

use crate::rng::SplitMix64;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Frames that may wait in the rate limiter's queue; more are dropped (netem's default limit).
pub const QUEUE_LIMIT: usize = 1000;

/// Impairments of one direction of a link.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Impairment {
    /// Probability (0..=1) that a frame is lost.
    pub loss: f64,
    /// Fixed delay added to every frame (except reordered ones).
    pub delay: Duration,
    /// Uniform ± variation of the delay (the total is never negative).
    pub jitter: Duration,
    /// Link rate in bits per second (`None` = unlimited, `Some(0)` = nothing gets through).
    pub rate_bps: Option<u64>,
    /// Probability (0..=1) that a frame is delivered twice.
    pub duplicate: f64,
    /// Probability (0..=1) that a frame skips the delay and so overtakes earlier frames.
    pub reorder: f64,
}

/// True for a probability above zero (false for zero, negatives and NaN).
fn positive(p: f64) -> bool {
    p > 0.0
}

impl Impairment {
    /// True when nothing is impaired (no loss, delay, jitter, rate, duplication or reordering).
    pub fn is_none(&self) -> bool {
        !positive(self.loss)
            && self.delay.is_zero()
            && self.jitter.is_zero()
            && self.rate_bps.is_none()
            && !positive(self.duplicate)
            && !positive(self.reorder)
    }
}

/// What to do with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Discard the frame.
    Drop,
    /// Deliver `copies` (1 or 2) copies of the frame at `at`.
    Deliver {
        /// When to deliver (never earlier than the `now` given to [`Impairer::decide`]).
        at: Instant,
        /// How many copies: 1, or 2 when duplicated.
        copies: u8,
    },
}

/// Applies an [`Impairment`] frame by frame, deterministically for a given seed.
#[derive(Debug, Clone)]
pub struct Impairer {
    imp: Impairment,
    rng: SplitMix64,
    /// When the rate-limited link finishes sending everything queued so far.
    link_free_at: Option<Instant>,
    /// Departure times of frames still in the rate limiter's queue.
    queue: VecDeque<Instant>,
}

impl Impairer {
    /// A new impairer; equal seeds and inputs give equal decisions.
    pub fn new(imp: Impairment, seed: u64) -> Self {
        Self {
            imp,
            rng: SplitMix64::new(seed),
            link_free_at: None,
            queue: VecDeque::new(),
        }
    }

    /// Replaces the impairment; the random stream and the rate limiter's queue carry on.
    pub fn set(&mut self, imp: Impairment) {
        if imp.rate_bps.is_none() {
            self.link_free_at = None;
            self.queue.clear();
        }
        self.imp = imp;
    }

    /// The current impairment.
    pub fn impairment(&self) -> &Impairment {
        &self.imp
    }

    /// True with probability `p` (never for p ≤ 0 or NaN, always for p ≥ 1).
    fn chance(&mut self, p: f64) -> bool {
        if !positive(p) {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.rng.next_f64() < p
        }
    }

    /// Decides the fate of one frame of `frame_len` bytes arriving at `now`, in this order:
    /// loss (drop); rate (the frame leaves when the link has serialised it after every earlier
    /// frame, `frame_len × 8 / rate` each; more than [`QUEUE_LIMIT`] queued frames → drop);
    /// reorder (the frame gets no delay, so it overtakes delayed frames) or else delay ±
    /// uniform jitter (never below zero); duplicate (`copies = 2`). Times that cannot be
    /// represented drop the frame. Call with non-decreasing `now`.
    pub fn decide(&mut self, now: Instant, frame_len: usize) -> Decision {
        if self.chance(self.imp.loss) {
            return Decision::Drop;
        }
        let mut base = now;
        if let Some(rate) = self.imp.rate_bps {
            if rate == 0 {
                return Decision::Drop;
            }
            while self.queue.front().is_some_and(|t| *t <= now) {
                self.queue.pop_front();
            }
            if self.queue.len() >= QUEUE_LIMIT {
                return Decision::Drop;
            }
            let start = self.link_free_at.map_or(now, |t| t.max(now));
            let bits = (frame_len as u128).saturating_mul(8);
            let nanos = bits.saturating_mul(1_000_000_000) / u128::from(rate);
            let tx = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
            let Some(done) = start.checked_add(tx) else {
                return Decision::Drop;
            };
            self.link_free_at = Some(done);
            self.queue.push_back(done);
            base = done;
        }
        let at = if self.chance(self.imp.reorder) {
            base
        } else {
            let delay = self.imp.delay.as_nanos() as i128;
            let jitter = self.imp.jitter.as_nanos() as i128;
            let offset = if jitter > 0 {
                let span = (2 * jitter + 1) as u128;
                (u128::from(self.rng.next_u64()) % span) as i128 - jitter
            } else {
                0
            };
            let total = (delay + offset).max(0);
            let total = Duration::from_nanos(u64::try_from(total).unwrap_or(u64::MAX));
            match base.checked_add(total) {
                Some(t) => t,
                None => return Decision::Drop,
            }
        };
        let copies = if self.chance(self.imp.duplicate) {
            2
        } else {
            1
        };
        Decision::Deliver { at, copies }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn is_none() {
        assert!(Impairment::default().is_none());
        assert!(!Impairment {
            loss: 0.01,
            ..Default::default()
        }
        .is_none());
        assert!(!Impairment {
            rate_bps: Some(1),
            ..Default::default()
        }
        .is_none());
        assert!(!Impairment {
            jitter: ms(1),
            ..Default::default()
        }
        .is_none());
    }

    #[test]
    fn unimpaired_delivers_now_once() {
        let mut i = Impairer::new(Impairment::default(), 1);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(
                i.decide(now, 1500),
                Decision::Deliver { at: now, copies: 1 }
            );
        }
    }

    #[test]
    fn loss_half_with_fixed_seed() {
        let mut i = Impairer::new(
            Impairment {
                loss: 0.5,
                ..Default::default()
            },
            42,
        );
        let now = Instant::now();
        let drops = (0..10_000)
            .filter(|_| i.decide(now, 100) == Decision::Drop)
            .count();
        assert!((4800..=5200).contains(&drops), "dropped {drops} of 10000");
        // Same seed, same decisions.
        let mut a = Impairer::new(
            Impairment {
                loss: 0.3,
                ..Default::default()
            },
            7,
        );
        let mut b = Impairer::new(
            Impairment {
                loss: 0.3,
                ..Default::default()
            },
            7,
        );
        for _ in 0..1000 {
            assert_eq!(a.decide(now, 60), b.decide(now, 60));
        }
        let mut all = Impairer::new(
            Impairment {
                loss: 1.0,
                ..Default::default()
            },
            7,
        );
        assert_eq!(all.decide(now, 60), Decision::Drop);
    }

    #[test]
    fn delay_and_jitter_stay_in_bounds() {
        let imp = Impairment {
            delay: ms(10),
            jitter: ms(2),
            ..Default::default()
        };
        let mut i = Impairer::new(imp, 3);
        let now = Instant::now();
        let mut lo = Duration::MAX;
        let mut hi = Duration::ZERO;
        let mut sum = Duration::ZERO;
        for _ in 0..10_000 {
            let Decision::Deliver { at, copies: 1 } = i.decide(now, 100) else {
                panic!("unexpected drop or duplicate");
            };
            let d = at - now;
            assert!(d >= ms(8) && d <= ms(12), "{d:?}");
            lo = lo.min(d);
            hi = hi.max(d);
            sum += d;
        }
        assert!(
            lo < Duration::from_micros(8100) && hi > Duration::from_micros(11900),
            "{lo:?} {hi:?}"
        );
        let mean = sum / 10_000;
        assert!(
            mean > Duration::from_micros(9900) && mean < Duration::from_micros(10100),
            "{mean:?}"
        );
        // Jitter larger than the delay never schedules before now.
        let mut i = Impairer::new(
            Impairment {
                delay: ms(1),
                jitter: ms(5),
                ..Default::default()
            },
            9,
        );
        for _ in 0..1000 {
            let Decision::Deliver { at, .. } = i.decide(now, 1) else {
                panic!("drop")
            };
            assert!(at >= now && at <= now + ms(6));
        }
    }

    #[test]
    fn rate_spaces_frames_by_serialisation_time() {
        // 1 Mbit/s and 1250-byte frames: 10 ms each.
        let imp = Impairment {
            rate_bps: Some(1_000_000),
            ..Default::default()
        };
        let mut i = Impairer::new(imp, 5);
        let now = Instant::now();
        for n in 1..=5u64 {
            assert_eq!(
                i.decide(now, 1250),
                Decision::Deliver {
                    at: now + ms(10 * n),
                    copies: 1
                }
            );
        }
        // After the link has drained, a frame only waits for its own serialisation.
        let later = now + ms(200);
        assert_eq!(
            i.decide(later, 125),
            Decision::Deliver {
                at: later + ms(1),
                copies: 1
            }
        );
        // The queue holds at most QUEUE_LIMIT frames.
        let mut i = Impairer::new(
            Impairment {
                rate_bps: Some(1000),
                ..Default::default()
            },
            5,
        );
        for _ in 0..QUEUE_LIMIT {
            assert!(matches!(i.decide(now, 10), Decision::Deliver { .. }));
        }
        assert_eq!(i.decide(now, 10), Decision::Drop);
        let mut i = Impairer::new(
            Impairment {
                rate_bps: Some(0),
                ..Default::default()
            },
            5,
        );
        assert_eq!(i.decide(now, 10), Decision::Drop);
    }

    #[test]
    fn duplicate_ratio() {
        let mut i = Impairer::new(
            Impairment {
                duplicate: 0.1,
                ..Default::default()
            },
            11,
        );
        let now = Instant::now();
        let dups = (0..10_000)
            .filter(|_| matches!(i.decide(now, 64), Decision::Deliver { copies: 2, .. }))
            .count();
        assert!((850..=1150).contains(&dups), "{dups} duplicates of 10000");
    }

    #[test]
    fn reordered_frames_overtake() {
        let imp = Impairment {
            delay: ms(10),
            reorder: 0.25,
            ..Default::default()
        };
        let mut i = Impairer::new(imp, 13);
        let start = Instant::now();
        let mut undelayed = 0;
        let mut overtakes = 0;
        let mut last_at = start;
        for n in 0..10_000u64 {
            let now = start + Duration::from_micros(100 * n);
            let Decision::Deliver { at, .. } = i.decide(now, 64) else {
                panic!("drop")
            };
            if at == now {
                undelayed += 1;
            } else {
                assert_eq!(at, now + ms(10));
            }
            if at < last_at {
                overtakes += 1;
            }
            last_at = last_at.max(at);
        }
        assert!(
            (2300..=2700).contains(&undelayed),
            "{undelayed} reordered of 10000"
        );
        assert!(
            overtakes >= 2000,
            "{overtakes} frames overtook an earlier one"
        );
    }

    #[test]
    fn set_changes_behaviour() {
        let mut i = Impairer::new(
            Impairment {
                loss: 1.0,
                ..Default::default()
            },
            1,
        );
        let now = Instant::now();
        assert_eq!(i.decide(now, 1), Decision::Drop);
        i.set(Impairment {
            delay: ms(5),
            ..Default::default()
        });
        assert_eq!(i.impairment().delay, ms(5));
        assert_eq!(
            i.decide(now, 1),
            Decision::Deliver {
                at: now + ms(5),
                copies: 1
            }
        );
    }
}
