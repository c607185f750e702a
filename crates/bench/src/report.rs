//! The report: results per scenario and frame size, the tuning comparison, the change
//! against an older report; as a table for people and JSON for machines.

use std::fmt::Write as _;
use std::path::Path as FsPath;

use serde::{Deserialize, Serialize};

use crate::error::{BenchError, Result};
use crate::frame::FrameSize;
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
            trials,
            zero_loss: None,
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

    /// Whether any scenario failed.
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

    /// The report as a table for people: one line per scenario and frame size (median
    /// delivered pps with min and max, offered pps, loss, latency, zero-loss rate), then the
    /// tuning comparison, the comparison with an older report and any errors.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "umlvnf bench: {} s x {} reps (warm-up {} s), {}, {} CPUs, host kernel {}",
            self.settings.duration_s,
            self.settings.reps,
            self.settings.warmup_s,
            self.settings
                .rate_pps
                .map_or("unpaced".to_string(), |r| format!(
                    "paced to {} pps",
                    human_pps(r as f64)
                )),
            self.host.cpus,
            self.host.kernel
        );
        let _ = writeln!(
            t,
            "{:<14} {:>5} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>10}",
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
            "zero-loss"
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
                let _ = writeln!(
                    t,
                    "{:<14} {:>5} {:>9} {:>9} {:>9} {:>9} {:>7.2} {:>8.1} {:>8} {:>8} {:>10}",
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
                    zl
                );
            }
            if let Some(e) = &s.error {
                let _ = writeln!(t, "{:<14} FAILED: {e}", s.name);
            }
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
            if let Some([p, q]) = tu.zero_loss_pps {
                let _ = writeln!(
                    t,
                    "  zero-loss: plain {} pps, tuned {} pps",
                    human_pps(p),
                    human_pps(q)
                );
            }
        }
        if !self.comparison.is_empty() {
            let _ = writeln!(
                t,
                "\n{:<14} {:>5} {:>9} {:>9} {:>8}",
                "compared", "size", "old pps", "new pps", "change"
            );
            for c in &self.comparison {
                let ch = c
                    .change
                    .map_or("-".to_string(), |x| format!("{:+.1}%", x * 100.0));
                let _ = writeln!(
                    t,
                    "{:<14} {:>5} {:>9} {:>9} {:>8}",
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
