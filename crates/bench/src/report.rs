//! The report: results per scenario and frame size, the tuning comparison, the change
//! against an older report; as a table for people and JSON for machines.

use std::fmt::Write as _;
use std::path::Path as FsPath;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{BenchError, Result};
use crate::frame::FrameSize;
use crate::guest_cpu::seconds_per_million;
use crate::search::ZeroLoss;
use crate::stats::{Latency, Spread};
use crate::trial::Trial;

/// Identifies the report format (see `schema/report.schema.json`).
pub const REPORT_FORMAT: &str = "umlvnf-bench/1";

/// A whole bench run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_FORMAT`].
    pub format: String,
    /// When the run ended, seconds since the Unix epoch.
    pub created_unix: u64,
    /// The machine.
    pub host: HostInfo,
    /// What was asked.
    pub settings: Settings,
    /// One entry per scenario, in the order run.
    pub scenarios: Vec<ScenarioResult>,
    /// Plain against tuned guest, when both were run.
    pub tuning: Option<Tuning>,
    /// Links between two guests (`pair-wire` against `pair-l2tpv3`, `pair-bridge` and
    /// `pair-vde`), when `pair-wire` and at least one of the others were run at 64 bytes.
    /// Absent in older reports.
    #[serde(default)]
    pub guest_pairs: Option<GuestPairs>,
    /// Change against `--compare OLD.json` (empty without it).
    pub comparison: Vec<Change>,
}

/// The machine the run was on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// CPUs available.
    pub cpus: usize,
    /// Host kernel release.
    pub kernel: String,
}

/// The options of the run as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Seconds per trial.
    pub duration_s: f64,
    /// Seconds of warm-up before the trials of each frame size.
    pub warmup_s: f64,
    /// Trials per frame size.
    pub reps: u32,
    /// Offered rate in pps, or `null` for unpaced.
    pub rate_pps: Option<u64>,
    /// Loss bound of the zero-loss search, or `null` when not searched.
    pub zero_loss: Option<f64>,
    /// Frame sizes measured.
    pub frame_sizes: Vec<FrameSize>,
    /// Topology file of the `guest-raw` scenario, or `null` for the built-in quickstart.
    pub topology: Option<String>,
    /// How the generator and the sink moved frames (`mmsg` or `io_uring`); reports written
    /// before the field existed read as `mmsg`, which is what they used.
    #[serde(default)]
    pub backend: Backend,
}

/// Results of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Scenario name (`veth`, `netns-router`, `wire`, `guest-raw`, `trafgen-veth`, ...).
    pub name: String,
    /// What the frames go through.
    pub description: String,
    /// `umlvnf` (own generator) or `trafgen`.
    pub generator: String,
    /// CPU placement, in words.
    pub placement: String,
    /// Why the scenario could not be measured (its points are then missing or partial).
    pub error: Option<String>,
    /// Why the scenario was not run on this host (not an error: it has no points then).
    /// Absent in older reports.
    #[serde(default)]
    pub skipped: Option<String>,
    /// The UML kernel binary its guests ran, as their command lines name it (several,
    /// comma-separated, if they differ); `null` for scenarios without a guest, and absent in
    /// older reports.
    #[serde(default)]
    pub kernel: Option<String>,
    /// One entry per frame size.
    pub points: Vec<Point>,
}

/// Results of one scenario at one frame size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Frame size (with FCS) or `"imix"`.
    pub frame_size: FrameSize,
    /// Delivered frames per second over the trials.
    pub pps: Spread,
    /// Offered frames per second over the trials.
    pub offered_pps: Spread,
    /// Loss ratio over the trials.
    pub loss_ratio: Spread,
    /// Delivered Mbit/s at layer 2 (with FCS) over the trials.
    pub mbps: Spread,
    /// Latency of the trial with the median delivered rate.
    pub latency: Option<Latency>,
    /// Every trial.
    pub trials: Vec<Trial>,
    /// The zero-loss search, when asked for.
    pub zero_loss: Option<ZeroLoss>,
    /// Guest CPU seconds per million delivered frames over the trials (scenarios with
    /// guests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_cpu_s_per_mframe: Option<Spread>,
    /// A trial paced at half the zero-loss rate, for latency and CPU with the path loaded
    /// below its limit (when the search found a rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_half_zero_loss: Option<Trial>,
}

impl Point {
    /// Summarises trials.
    pub fn from_trials(frame_size: FrameSize, trials: Vec<Trial>) -> Point {
        let col = |f: fn(&Trial) -> f64| trials.iter().map(f).collect::<Vec<f64>>();
        let pps = Spread::of(&col(|t| t.delivered_pps));
        let latency = trials
            .iter()
            .min_by(|a, b| {
                (a.delivered_pps - pps.median)
                    .abs()
                    .total_cmp(&(b.delivered_pps - pps.median).abs())
            })
            .and_then(|t| t.latency);
        Point {
            frame_size,
            pps,
            offered_pps: Spread::of(&col(|t| t.offered_pps)),
            loss_ratio: Spread::of(&col(|t| t.loss_ratio)),
            mbps: Spread::of(&col(|t| t.delivered_bps / 1e6)),
            latency,
            guest_cpu_s_per_mframe: {
                let per: Vec<f64> = trials
                    .iter()
                    .filter_map(|t| seconds_per_million(t.guest_cpu_seconds?, t.delivered))
                    .collect();
                (!per.is_empty()).then(|| Spread::of(&per))
            },
            trials,
            zero_loss: None,
            at_half_zero_loss: None,
        }
    }
}

/// Plain against tuned guest at one frame size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tuning {
    /// Frame size compared.
    pub frame_size: FrameSize,
    /// Median delivered pps of `guest-plain`.
    pub plain_pps: f64,
    /// Median delivered pps of `guest-tuned`.
    pub tuned_pps: f64,
    /// `tuned_pps / plain_pps` (0 when plain delivered nothing).
    pub ratio: f64,
    /// Zero-loss rates, when searched: plain and tuned.
    pub zero_loss_pps: Option<[f64; 2]>,
    /// What "tuned" changes.
    pub tuned_means: String,
    /// Median delivered pps of `guest-debian` (the plain command line on Debian's 6.1
    /// kernel), when it ran. Absent in older reports.
    #[serde(default)]
    pub debian_pps: Option<f64>,
}

/// The frame size the guest-pair comparison is made at.
pub const PAIRS_FRAME_SIZE: FrameSize = FrameSize::Fixed(64);
/// Target of `wire / direct L2TPv3`: at least this.
pub const PAIRS_L2TPV3_TARGET: f64 = 0.9;
/// Target of `wire / switch`, for the reference switch (a Linux bridge) and vde_switch: more
/// than this.
pub const PAIRS_SWITCH_TARGET: f64 = 1.0;

/// Target of two routers in a chain against one router alone (`guest-tuned`), for the best
/// link between them.
pub const PAIRS_CHAIN_TARGET: f64 = 0.5;

/// Links between two guests (h1 → r1 ══ X ══ r2 → h2) at 64 bytes: median delivered pps of
/// umlvnf's wire, a direct L2TPv3/UDP link, the reference switch (a Linux bridge with the
/// routers' taps as ports) and vde_switch, and the wire's ratios to the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestPairs {
    /// Frame size compared (always 64).
    pub frame_size: FrameSize,
    /// Median delivered pps of `pair-wire`.
    pub wire_pps: f64,
    /// Median delivered pps of `pair-l2tpv3`, when it ran.
    pub l2tpv3_pps: Option<f64>,
    /// Median delivered pps of `pair-bridge`, when it ran.
    #[serde(default)]
    pub bridge_pps: Option<f64>,
    /// `wire_pps / l2tpv3_pps` (target ≥ [`PAIRS_L2TPV3_TARGET`]); `null` when L2TPv3 did
    /// not run or delivered nothing.
    pub wire_over_l2tpv3: Option<f64>,
    /// `wire_pps / bridge_pps` (target > [`PAIRS_SWITCH_TARGET`]); `null` when the bridge
    /// did not run or delivered nothing.
    #[serde(default)]
    pub wire_over_bridge: Option<f64>,
    /// Median delivered pps of `pair-vde`, when it ran.
    #[serde(default)]
    pub vde_pps: Option<f64>,
    /// `wire_pps / vde_pps` (target > [`PAIRS_SWITCH_TARGET`]); `null` when vde_switch did
    /// not run or delivered nothing.
    #[serde(default)]
    pub wire_over_vde: Option<f64>,
    /// Whether the L2TPv3 and bridge ratios are there and every ratio there meets its
    /// target; `null` when one of those two is missing.
    pub targets_met: Option<bool>,
    /// Median delivered pps of one router alone (`guest-tuned`), when it ran in the same
    /// report: what two routers in a chain are compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_router_pps: Option<f64>,
}

impl GuestPairs {
    /// The comparison from a run's results: needs `pair-wire` and `pair-l2tpv3`,
    /// `pair-bridge` or `pair-vde` measured at 64 bytes.
    pub fn of(results: &[ScenarioResult]) -> Option<GuestPairs> {
        let median = |name: &str| {
            results
                .iter()
                .find(|r| r.name == name)?
                .points
                .iter()
                .find(|p| p.frame_size == PAIRS_FRAME_SIZE)
                .map(|p| p.pps.median)
        };
        let one_router = median("guest-tuned");
        let wire = median("pair-wire")?;
        let (l2tpv3, bridge, vde) = (
            median("pair-l2tpv3"),
            median("pair-bridge"),
            median("pair-vde"),
        );
        if l2tpv3.is_none() && bridge.is_none() && vde.is_none() {
            return None;
        }
        let ratio = |other: Option<f64>| {
            other
                .filter(|&o| o > 0.0)
                .map(|o| wire / o)
                .filter(|r| r.is_finite())
        };
        let (over_l2tpv3, over_bridge, over_vde) = (ratio(l2tpv3), ratio(bridge), ratio(vde));
        Some(GuestPairs {
            frame_size: PAIRS_FRAME_SIZE,
            wire_pps: wire,
            l2tpv3_pps: l2tpv3,
            bridge_pps: bridge,
            wire_over_l2tpv3: over_l2tpv3,
            wire_over_bridge: over_bridge,
            vde_pps: vde,
            wire_over_vde: over_vde,
            targets_met: match (over_l2tpv3, over_bridge) {
                (Some(a), Some(b)) => Some(
                    a >= PAIRS_L2TPV3_TARGET
                        && b > PAIRS_SWITCH_TARGET
                        && over_vde.is_none_or(|v| v > PAIRS_SWITCH_TARGET),
                ),
                _ => None,
            },
            one_router_pps: one_router,
        })
    }

    /// The block printed after the table.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let opt = |v: Option<f64>| v.map_or("-".to_string(), human_pps);
        let _ = writeln!(
            t,
            "links between two guests at {} bytes (h1 -> r1 -> X -> r2 -> h2, median pps): wire {}, direct L2TPv3 {}, Linux bridge {}, vde_switch {}",
            self.frame_size,
            human_pps(self.wire_pps),
            opt(self.l2tpv3_pps),
            opt(self.bridge_pps),
            opt(self.vde_pps)
        );
        let line = |t: &mut String, what: &str, r: Option<f64>, target: &str, met: bool| {
            let _ = match r {
                Some(r) => writeln!(
                    t,
                    "  wire / {what} = {r:.2} (target {target}): {}",
                    if met { "met" } else { "NOT met" }
                ),
                None => writeln!(
                    t,
                    "  wire / {what} = - (not measured, or it delivered nothing)"
                ),
            };
        };
        if self.l2tpv3_pps.is_some() {
            let r = self.wire_over_l2tpv3;
            let met = r.is_some_and(|r| r >= PAIRS_L2TPV3_TARGET);
            line(&mut t, "direct L2TPv3", r, ">= 0.9", met);
        }
        if self.bridge_pps.is_some() {
            let r = self.wire_over_bridge;
            let met = r.is_some_and(|r| r > PAIRS_SWITCH_TARGET);
            line(&mut t, "Linux bridge", r, "> 1", met);
        }
        if self.vde_pps.is_some() {
            let r = self.wire_over_vde;
            let met = r.is_some_and(|r| r > PAIRS_SWITCH_TARGET);
            line(&mut t, "vde_switch", r, "> 1", met);
        }
        if let Some(one) = self.one_router_pps.filter(|&o| o > 0.0) {
            let links = [
                ("wire", Some(self.wire_pps)),
                ("direct L2TPv3", self.l2tpv3_pps),
                ("Linux bridge", self.bridge_pps),
                ("vde_switch", self.vde_pps),
            ];
            let ratios: Vec<(&str, f64)> = links
                .iter()
                .filter_map(|(name, pps)| Some((*name, (*pps)? / one)))
                .collect();
            let best = ratios.iter().map(|(_, r)| *r).fold(0.0, f64::max);
            let listed: Vec<String> = ratios
                .iter()
                .map(|(name, r)| format!("{name} {r:.2}"))
                .collect();
            let _ = writeln!(
                t,
                "  two routers / one router alone (guest-tuned, {}): {}; best {best:.2} (target >= {PAIRS_CHAIN_TARGET}): {}",
                human_pps(one),
                listed.join(", "),
                if best >= PAIRS_CHAIN_TARGET { "met" } else { "NOT met" }
            );
        }
        t
    }
}

/// The change of one scenario and frame size against an older report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Scenario name.
    pub scenario: String,
    /// Frame size.
    pub frame_size: FrameSize,
    /// Median pps in the old report.
    pub old_pps: f64,
    /// Median pps now.
    pub new_pps: f64,
    /// `new / old - 1` (0.1 = 10 % faster); `null` when old is 0.
    pub change: Option<f64>,
}

/// Formats a rate: `512.3k`, `1.20M`, `950`.
pub fn human_pps(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn human_us(ns: u64) -> String {
    let us = ns as f64 / 1e3;
    if us >= 100.0 {
        format!("{us:.0}")
    } else {
        format!("{us:.1}")
    }
}

impl Report {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Reads a report written by [`Report::to_json`].
    pub fn read(path: &FsPath) -> Result<Report> {
        let text = std::fs::read_to_string(path).map_err(|e| BenchError::ReportFile {
            path: path.to_path_buf(),
            reason: format!("it cannot be read: {e}"),
        })?;
        let r: Report = serde_json::from_str(&text).map_err(|e| BenchError::ReportFile {
            path: path.to_path_buf(),
            reason: format!("it is not a umlvnf bench report: {e}"),
        })?;
        if r.format != REPORT_FORMAT {
            return Err(BenchError::ReportFile {
                path: path.to_path_buf(),
                reason: format!("its format is `{}`, expected `{REPORT_FORMAT}`", r.format),
            });
        }
        Ok(r)
    }

    /// Whether any scenario failed (a skipped scenario did not).
    pub fn has_errors(&self) -> bool {
        self.scenarios.iter().any(|s| s.error.is_some())
    }

    /// The change of every (scenario, frame size) present in both `old` and this report.
    pub fn compare(&self, old: &Report) -> Vec<Change> {
        let mut out = Vec::new();
        for s in &self.scenarios {
            let Some(o) = old.scenarios.iter().find(|o| o.name == s.name) else {
                continue;
            };
            for p in &s.points {
                let Some(op) = o.points.iter().find(|q| q.frame_size == p.frame_size) else {
                    continue;
                };
                out.push(Change {
                    scenario: s.name.clone(),
                    frame_size: p.frame_size,
                    old_pps: op.pps.median,
                    new_pps: p.pps.median,
                    change: (op.pps.median > 0.0).then(|| p.pps.median / op.pps.median - 1.0),
                });
            }
        }
        out
    }

    /// The trials at half the zero-loss rate, a line each, under a heading; empty when no
    /// search found a rate.
    fn half_zero_loss_table(&self, w: usize) -> String {
        let mut t = String::new();
        for s in &self.scenarios {
            for p in &s.points {
                let Some(h) = &p.at_half_zero_loss else {
                    continue;
                };
                if t.is_empty() {
                    let _ = writeln!(
                        t,
                        "\nat half the zero-loss rate:\n{:<w$} {:>5} {:>9} {:>7} {:>8} {:>8} {:>9}",
                        "scenario", "size", "offered", "loss%", "p50 us", "p99 us", "cpu s/Mf"
                    );
                }
                let (p50, p99) = h.latency.map_or(("-".into(), "-".into()), |l| {
                    (human_us(l.p50_ns), human_us(l.p99_ns))
                });
                let cpu = h
                    .guest_cpu_seconds
                    .and_then(|c| seconds_per_million(c, h.delivered))
                    .map_or("-".to_string(), |c| format!("{c:.2}"));
                let _ = writeln!(
                    t,
                    "{:<w$} {:>5} {:>9} {:>7.2} {:>8} {:>8} {:>9}",
                    s.name,
                    p.frame_size.to_string(),
                    human_pps(h.offered_pps),
                    h.loss_ratio * 100.0,
                    p50,
                    p99,
                    cpu
                );
            }
        }
        t
    }

    /// The report as a table for people: one line per scenario and frame size (median
    /// delivered pps with min and max, offered pps, loss, latency, zero-loss rate), then the
    /// tuning comparison, the comparison with an older report and any errors.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "umlvnf bench: {} s x {} reps (warm-up {} s), {}, {} backend, {} CPUs, host kernel {}",
            self.settings.duration_s,
            self.settings.reps,
            self.settings.warmup_s,
            self.settings
                .rate_pps
                .map_or("unpaced".to_string(), |r| format!(
                    "paced to {} pps",
                    human_pps(r as f64)
                )),
            self.settings.backend,
            self.host.cpus,
            self.host.kernel
        );
        // The scenario column is as wide as its longest name (`guest-l2tpv3:chain` and such).
        let w = self
            .scenarios
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0)
            .max(14);
        let _ = writeln!(
            t,
            "{:<w$} {:>5} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>10} {:>9}",
            "scenario",
            "size",
            "pps",
            "min",
            "max",
            "offered",
            "loss%",
            "Mbit/s",
            "p50 us",
            "p99 us",
            "zero-loss",
            "cpu s/Mf"
        );
        for s in &self.scenarios {
            for p in &s.points {
                let (p50, p99) = p.latency.map_or(("-".into(), "-".into()), |l| {
                    (human_us(l.p50_ns), human_us(l.p99_ns))
                });
                let zl = p
                    .zero_loss
                    .as_ref()
                    .map_or("-".to_string(), |z| human_pps(z.rate_pps));
                let cpu = p
                    .guest_cpu_s_per_mframe
                    .map_or("-".to_string(), |c| format!("{:.2}", c.median));
                let _ = writeln!(
                    t,
                    "{:<w$} {:>5} {:>9} {:>9} {:>9} {:>9} {:>7.2} {:>8.1} {:>8} {:>8} {:>10} {:>9}",
                    s.name,
                    p.frame_size.to_string(),
                    human_pps(p.pps.median),
                    human_pps(p.pps.min),
                    human_pps(p.pps.max),
                    human_pps(p.offered_pps.median),
                    p.loss_ratio.median * 100.0,
                    p.mbps.median,
                    p50,
                    p99,
                    zl,
                    cpu
                );
            }
            if let Some(e) = &s.error {
                let _ = writeln!(t, "{:<w$} FAILED: {e}", s.name);
            }
            if let Some(why) = &s.skipped {
                let _ = writeln!(t, "{:<w$} SKIPPED: {why}", s.name);
            }
        }
        t.push_str(&self.half_zero_loss_table(w));
        // Which kernel the guests of each scenario ran, one line per kernel.
        let mut kernels: Vec<(&str, Vec<&str>)> = Vec::new();
        for s in &self.scenarios {
            if let Some(k) = s.kernel.as_deref() {
                match kernels.iter_mut().find(|(kk, _)| *kk == k) {
                    Some((_, names)) => names.push(&s.name),
                    None => kernels.push((k, vec![&s.name])),
                }
            }
        }
        if !kernels.is_empty() {
            let _ = writeln!(t);
        }
        for (k, names) in &kernels {
            let _ = writeln!(t, "kernel {k}: {}", names.join(", "));
        }
        if let Some(tu) = &self.tuning {
            let _ = writeln!(
                t,
                "\ntuning at {} bytes: plain {} pps, tuned {} pps, ratio {:.2} (tuned: {})",
                tu.frame_size,
                human_pps(tu.plain_pps),
                human_pps(tu.tuned_pps),
                tu.ratio,
                tu.tuned_means
            );
            if let Some(d) = tu.debian_pps {
                let _ = writeln!(
                    t,
                    "  the plain command line on Debian's 6.1 kernel (guest-debian): {} pps, \
                     plain / debian {}",
                    human_pps(d),
                    if d > 0.0 {
                        format!("{:.2}", tu.plain_pps / d)
                    } else {
                        "-".to_string()
                    }
                );
            }
            if let Some([p, q]) = tu.zero_loss_pps {
                let _ = writeln!(
                    t,
                    "  zero-loss (RFC 2544 throughput): plain {} pps, tuned {} pps, ratio {}",
                    human_pps(p),
                    human_pps(q),
                    if p > 0.0 {
                        format!("{:.2}", q / p)
                    } else {
                        "-".to_string()
                    }
                );
            }
        }
        if let Some(gp) = &self.guest_pairs {
            let _ = write!(t, "\n{}", gp.text());
        }
        if !self.comparison.is_empty() {
            let _ = writeln!(
                t,
                "\n{:<w$} {:>5} {:>9} {:>9} {:>8}",
                "compared", "size", "old pps", "new pps", "change"
            );
            for c in &self.comparison {
                let ch = c
                    .change
                    .map_or("-".to_string(), |x| format!("{:+.1}%", x * 100.0));
                let _ = writeln!(
                    t,
                    "{:<w$} {:>5} {:>9} {:>9} {:>8}",
                    c.scenario,
                    c.frame_size.to_string(),
                    human_pps(c.old_pps),
                    human_pps(c.new_pps),
                    ch
                );
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, size: FrameSize, pps: f64) -> ScenarioResult {
        let mut point = Point::from_trials(size, Vec::new());
        point.pps = Spread {
            median: pps,
            min: pps,
            max: pps,
        };
        ScenarioResult {
            name: name.into(),
            description: String::new(),
            generator: "umlvnf".into(),
            placement: String::new(),
            error: None,
            skipped: None,
            kernel: None,
            points: vec![point],
        }
    }

    fn report(scenarios: Vec<ScenarioResult>) -> Report {
        Report {
            format: REPORT_FORMAT.into(),
            created_unix: 1,
            host: HostInfo {
                cpus: 2,
                kernel: "6.1".into(),
            },
            settings: Settings {
                duration_s: 1.0,
                warmup_s: 0.0,
                reps: 1,
                rate_pps: None,
                zero_loss: None,
                frame_sizes: vec![PAIRS_FRAME_SIZE],
                topology: None,
                backend: Default::default(),
            },
            guest_pairs: GuestPairs::of(&scenarios),
            scenarios,
            tuning: None,
            comparison: Vec::new(),
        }
    }

    #[test]
    fn guest_pairs_ratios_and_block() {
        let s64 = PAIRS_FRAME_SIZE;
        let all = [
            result("pair-wire", s64, 36_000.0),
            result("pair-l2tpv3", s64, 30_000.0),
            result("pair-bridge", s64, 18_000.0),
            result("pair-vde", s64, 24_000.0),
        ];
        let gp = GuestPairs::of(&all).expect("all four ran");
        assert_eq!(gp.wire_over_l2tpv3, Some(1.2));
        assert_eq!(gp.wire_over_bridge, Some(2.0));
        assert_eq!(gp.wire_over_vde, Some(1.5));
        assert_eq!(gp.targets_met, Some(true));
        let r = report(all.to_vec());
        let table = r.table();
        assert!(
            table.contains("wire / direct L2TPv3 = 1.20 (target >= 0.9): met"),
            "{table}"
        );
        assert!(
            table.contains("wire / Linux bridge = 2.00 (target > 1): met"),
            "{table}"
        );
        assert!(
            table.contains("wire / vde_switch = 1.50 (target > 1): met"),
            "{table}"
        );
        // vde_switch ahead of the wire misses its target, and so do the targets.
        let mut vde_ahead = all.clone();
        vde_ahead[3] = result("pair-vde", s64, 40_000.0);
        assert_eq!(
            GuestPairs::of(&vde_ahead).and_then(|g| g.targets_met),
            Some(false)
        );
        // Without the bridge, the targets are not known, whatever vde_switch did.
        let no_bridge = [all[0].clone(), all[1].clone(), all[3].clone()];
        let gp = GuestPairs::of(&no_bridge).expect("wire, l2tpv3 and vde ran");
        assert_eq!((gp.bridge_pps, gp.targets_met), (None, None));
        assert!(!gp.text().contains("Linux bridge ="), "{}", gp.text());
        // Wire alone, or not at 64 bytes: no comparison.
        assert_eq!(GuestPairs::of(&all[..1]), None);
        let at512 = [
            result("pair-wire", FrameSize::Fixed(512), 1.0),
            result("pair-bridge", FrameSize::Fixed(512), 1.0),
        ];
        assert_eq!(GuestPairs::of(&at512), None);
        // With one router alone in the report, the chain is compared with it.
        assert_eq!(gp.one_router_pps, None);
        assert!(!gp.text().contains("two routers"), "{}", gp.text());
        let mut with_one = all.to_vec();
        with_one.push(result("guest-tuned", s64, 80_000.0));
        let gp = GuestPairs::of(&with_one).expect("pairs ran");
        assert_eq!(gp.one_router_pps, Some(80_000.0));
        assert!(
            gp.text().contains(
                "two routers / one router alone (guest-tuned, 80.0k): wire 0.45, direct L2TPv3 0.38, \
                 Linux bridge 0.23, vde_switch 0.30; best 0.45 (target >= 0.5): NOT met"
            ),
            "{}",
            gp.text()
        );
        with_one[4] = result("guest-tuned", s64, 70_000.0);
        let text = GuestPairs::of(&with_one).expect("pairs ran").text();
        assert!(text.contains("best 0.51 (target >= 0.5): met"), "{text}");
        // A variant that delivered nothing gives no ratio; a missed target shows.
        let some = [
            result("pair-wire", s64, 20_000.0),
            result("pair-l2tpv3", s64, 30_000.0),
            result("pair-bridge", s64, 0.0),
        ];
        let gp = GuestPairs::of(&some).expect("wire and l2tpv3 ran");
        assert_eq!(gp.wire_over_bridge, None);
        assert_eq!(gp.targets_met, None);
        let text = gp.text();
        assert!(text.contains("= 0.67 (target >= 0.9): NOT met"), "{text}");
        assert!(text.contains("wire / Linux bridge = -"), "{text}");
    }

    #[test]
    fn reports_without_guest_pairs_still_read_and_validate() {
        let schema: serde_json::Value =
            serde_json::from_str(crate::REPORT_SCHEMA).expect("schema is JSON");
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let r = report(vec![
            result("pair-wire", PAIRS_FRAME_SIZE, 2.0),
            result("pair-l2tpv3", PAIRS_FRAME_SIZE, 1.0),
        ]);
        let mut v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("JSON");
        // Points without trials are not valid reports; the comparison block is.
        v["scenarios"] = serde_json::json!([]);
        assert!(v["guest_pairs"].is_object());
        assert!(validator.is_valid(&v), "{v:#}");
        let obj = v.as_object_mut().expect("object");
        obj.remove("guest_pairs");
        assert!(validator.is_valid(&v), "an old report must validate");
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join("old.json");
        std::fs::write(&old, v.to_string()).expect("write");
        let back = Report::read(&old).expect("an old report reads");
        assert_eq!(back.guest_pairs, None);
        v["guest_pairs"] = serde_json::json!({"frame_size": 64});
        assert!(!validator.is_valid(&v), "an incomplete block is refused");
        // A report from before the bridge replaced vde_switch: it validates and reads, with
        // no bridge figures.
        v["guest_pairs"] = serde_json::json!({
            "frame_size": 64, "wire_pps": 2.0, "l2tpv3_pps": 1.0, "vde_pps": 1.0,
            "wire_over_l2tpv3": 2.0, "wire_over_vde": 2.0, "targets_met": true
        });
        assert!(validator.is_valid(&v), "{v:#}");
        std::fs::write(&old, v.to_string()).expect("write");
        let back = Report::read(&old).expect("a pre-bridge report reads");
        let gp = back.guest_pairs.expect("its block");
        assert_eq!((gp.bridge_pps, gp.wire_over_bridge), (None, None));
        assert_eq!((gp.vde_pps, gp.wire_over_vde), (Some(1.0), Some(2.0)));
        // Without either switch's figures the block is refused.
        let obj = v["guest_pairs"].as_object_mut().expect("object");
        obj.remove("vde_pps");
        obj.remove("wire_over_vde");
        assert!(!validator.is_valid(&v), "{v:#}");
    }

    #[test]
    fn skipped_scenarios_and_kernels_in_the_table() {
        let mut plain = result("guest-plain", FrameSize::Fixed(64), 50_000.0);
        plain.kernel = Some("/store/smp/linux".into());
        let mut tuned = result("guest-tuned", FrameSize::Fixed(64), 100_000.0);
        tuned.kernel = Some("/store/smp/linux".into());
        let mut debian = result("guest-debian", FrameSize::Fixed(64), 0.0);
        debian.points.clear();
        debian.skipped = Some("its CPU has AMX".into());
        let mut r = report(vec![plain, tuned, debian]);
        r.tuning = Some(Tuning {
            frame_size: FrameSize::Fixed(64),
            plain_pps: 50_000.0,
            tuned_pps: 100_000.0,
            ratio: 2.0,
            zero_loss_pps: None,
            tuned_means: "pinned".into(),
            debian_pps: Some(25_000.0),
        });
        assert!(
            r.table()
                .contains("on Debian's 6.1 kernel (guest-debian): 25.0k pps, plain / debian 2.00"),
            "{}",
            r.table()
        );
        r.tuning = None;
        assert!(!r.has_errors(), "a skipped scenario is not an error");
        let table = r.table();
        assert!(
            table.contains("guest-debian   SKIPPED: its CPU has AMX"),
            "{table}"
        );
        assert!(!table.contains("FAILED"), "{table}");
        assert!(
            table.contains("kernel /store/smp/linux: guest-plain, guest-tuned\n"),
            "{table}"
        );
        // Skipped and kernel are in the JSON and validate (points without trials aside).
        let schema: serde_json::Value =
            serde_json::from_str(crate::REPORT_SCHEMA).expect("schema is JSON");
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let mut v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("JSON");
        assert_eq!(v["scenarios"][2]["skipped"], "its CPU has AMX");
        assert_eq!(v["scenarios"][0]["kernel"], "/store/smp/linux");
        for s in v["scenarios"].as_array_mut().expect("array") {
            s["points"] = serde_json::json!([]);
        }
        assert!(validator.is_valid(&v), "{v:#}");
        v["scenarios"][2]["skipped"] = serde_json::json!(7);
        assert!(!validator.is_valid(&v), "skipped is a reason or null");
    }
}
