//! `umlvnf bench`: packets per second through appliances, against the host's own veth pairs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::Result;

/// Options of `umlvnf bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Scenarios, comma-separated: veth, netns-router, wire, guest (= guest-raw), guest-tap,
    /// guest-hybrid, guest-wire, guest-gre, guest-l2tpv3, guest-firewall, guest-plain, guest-tuned, tuning,
    /// pair-wire, pair-l2tpv3, pair-vde, pairs (= the three pair-*), all.
    #[arg(long)]
    scenarios: Option<String>,
    /// Frame sizes in bytes with FCS (64 to 1518), comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [64u16, 512, 1518])]
    sizes: Vec<u16>,
    /// Also measure IMIX (7:4:1 of 64/576/1518 bytes).
    #[arg(long)]
    imix: bool,
    /// Seconds per trial.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Trials per scenario and frame size (median, min and max are reported).
    #[arg(long, default_value_t = 3)]
    reps: u32,
    /// Seconds of unmeasured sending before the trials.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Offered rate in frames per second (default: as fast as the generator goes).
    #[arg(long)]
    rate: Option<u64>,
    /// Search the highest rate whose loss ratio is at most this (RFC 2544 style), e.g. 0.001.
    #[arg(long)]
    zero_loss: Option<f64>,
    /// A topology of yours instead of the built-in quickstart (h1 sends, h2 receives):
    /// guest-topology deploys it as it is, guest-raw, guest-wire, ... with every guest link
    /// carried by that transport.
    #[arg(short = 't', long)]
    topology: Option<PathBuf>,
    /// Write the report as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write an SVG plot of pps against frame size.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Compare with an earlier JSON report.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// Also run trafgen (netsniff-ng) as a peer generator on the veth scenario.
    #[arg(long)]
    trafgen: bool,
    /// No per-trial progress lines.
    #[arg(long)]
    quiet: bool,
    /// How the generator and the sink move frames: mmsg (sendmmsg/recvmmsg) or io_uring
    /// (batches of SENDMSG/RECVMSG requests).
    #[arg(long, default_value = "mmsg", value_parser = ["mmsg", "io_uring"])]
    backend: String,
}

/// Runs the benchmark and prints its table; an interrupted run prints what it measured.
pub fn bench(a: BenchArgs) -> Result<ExitCode> {
    let secs = |v: f64, what: &str| -> Result<Duration> {
        if v.is_finite() && v >= 0.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(format!("--{what} takes a number of seconds, such as 5").into())
        }
    };
    let mut o = umlvnf_bench::BenchOptions::new(std::env::current_exe()?);
    if let Some(s) = &a.scenarios {
        o.scenarios = umlvnf_bench::Scenario::parse_csv(s)?;
    } else if a.topology.is_some() {
        o.scenarios = umlvnf_bench::Scenario::defaults_with_topology();
    }
    o.frame_sizes = a.sizes;
    o.imix = a.imix;
    o.duration = secs(a.duration, "duration")?;
    o.reps = a.reps;
    o.warmup = secs(a.warmup, "warmup")?;
    o.rate = a.rate;
    o.zero_loss = a.zero_loss;
    o.topology = a.topology;
    o.output_json = a.json;
    o.output_svg = a.svg;
    o.compare = a.compare;
    o.trafgen = a.trafgen;
    o.progress = !a.quiet;
    o.backend = a.backend.parse()?;
    // SIGINT/SIGTERM end the current trial and tear the scenario down instead of killing
    // the process (a second one exits at once).
    umlvnf_bench::interrupt::catch_signals()?;
    let report = match umlvnf_bench::run(&o) {
        Ok(r) => r,
        Err(umlvnf_bench::RunError::Interrupted { partial }) => {
            print!("{}", partial.table());
            return Err(umlvnf_bench::BenchError::Interrupted.into());
        }
        Err(e) => return Err(e.into()),
    };
    print!("{}", report.table());
    Ok(if report.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
