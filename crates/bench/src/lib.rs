//! `umlvnf bench`: packets per second through appliances.
//!
//! A generator and a sink of our own (AF_PACKET `sendmmsg`/`recvmmsg` in batches of 64, or
//! io_uring, through the datapath's packet sockets and batches; pinned to CPUs) measure delivered frames per second, loss, reordering and latency through
//! several scenarios: a bare veth pair (the host's ceiling), a namespace router, umlvnf's
//! datapath wire, and UML guests deployed from topologies with the `umlvnf` binary. Each
//! frame size gets a warm-up and repetitions (median, min, max), optionally a zero-loss
//! search (RFC 2544), and trafgen can run as a peer generator on the veth scenario. The
//! [`Report`] prints as a table, serialises to JSON (schema in `schema/report.schema.json`)
//! and plots as SVG.
//!
//! Entry point: [`run`] with [`BenchOptions`]. Everything needs root (namespaces, raw
//! sockets, booting guests).

pub mod affinity;
pub mod arp;
pub mod backend;
mod error;
pub mod frame;
pub mod generator;
pub mod guest_cpu;
pub mod howto_guest;
pub mod interrupt;
pub mod lab;
pub mod netenv;
pub mod packet_socket;
pub mod pairs;
pub mod report;
pub mod scenario;
pub mod search;
pub mod sink;
pub mod stats;
pub mod svg;
pub mod topologies;
pub mod trafgen;
pub mod trial;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use backend::Backend;
pub use error::{BenchError, Result};
pub use frame::FrameSize;
pub use report::{Change, GuestPairs, HostInfo, Point, Report, ScenarioResult, Settings, Tuning};
pub use scenario::{GuestTransport, PairLink, Scenario};
pub use search::{zero_loss_search, Probe, ZeroLoss};
pub use stats::{Latency, Spread};
pub use trial::Trial;

use guest_cpu::GuestCpu;
use lab::{HostSysctl, Lab};
use topologies::GuestSetup;
use trial::Path;

/// The JSON Schema of [`Report::to_json`] (draft 2020-12).
pub const REPORT_SCHEMA: &str = include_str!("../schema/report.schema.json");

/// Probes of the zero-loss search per scenario and frame size.
pub const ZERO_LOSS_ITERATIONS: usize = 7;

/// What to measure and where to write the results.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    /// Scenarios in the order to run them ([`Scenario::defaults`] by default).
    pub scenarios: Vec<Scenario>,
    /// Fixed frame sizes, bytes with FCS (64..=1518).
    pub frame_sizes: Vec<u16>,
    /// Also measure the IMIX mix (7:4:1 of 64/576/1518).
    pub imix: bool,
    /// Length of each trial.
    pub duration: Duration,
    /// Trials per scenario and frame size (at least 1).
    pub reps: u32,
    /// Unmeasured sending before the trials of each frame size (zero for none).
    pub warmup: Duration,
    /// Offered rate in frames per second; `None` sends as fast as possible.
    pub rate: Option<u64>,
    /// Run a zero-loss search with this loss-ratio bound (e.g. 0.001).
    pub zero_loss: Option<f64>,
    /// A topology of the user's instead of the built-in quickstart (it needs two host nodes,
    /// `h1` sending and `h2` receiving, or the first two host nodes by name): deployed as it is
    /// by `guest-topology`, and with every guest link carried by the scenario's transport by
    /// the `guest-<transport>` scenarios.
    pub topology: Option<PathBuf>,
    /// The `umlvnf` binary used to deploy and tear down guest labs.
    pub umlvnf: PathBuf,
    /// Write the JSON report here.
    pub output_json: Option<PathBuf>,
    /// Write the SVG plot here.
    pub output_svg: Option<PathBuf>,
    /// Compare with this earlier JSON report (read before anything runs).
    pub compare: Option<PathBuf>,
    /// Also run trafgen (netsniff-ng) as a peer generator on the veth scenario.
    pub trafgen: bool,
    /// Print one line per trial on stderr as the run goes.
    pub progress: bool,
    /// How the generator and the sink move frames (`sendmmsg`/`recvmmsg` or io_uring).
    pub backend: Backend,
    /// The host CPU that decides whether `guest-debian` can boot here (Debian's 6.1 kernel
    /// cannot on CPUs with AMX; the scenario is then skipped):
    /// [`umlvnf_kernel::HostCpu::detect`] by default.
    pub host_cpu: umlvnf_kernel::HostCpu,
}

impl BenchOptions {
    /// Defaults: [`Scenario::defaults`], 64/512/1518 bytes, no IMIX, 5 s × 3 reps with 1 s of
    /// warm-up, unpaced, no zero-loss search, built-in quickstart, no output files, no
    /// trafgen, progress on, the mmsg backend, this host's CPU.
    pub fn new(umlvnf: PathBuf) -> BenchOptions {
        BenchOptions {
            scenarios: Scenario::defaults(),
            frame_sizes: vec![64, 512, 1518],
            imix: false,
            duration: Duration::from_secs(5),
            reps: 3,
            warmup: Duration::from_secs(1),
            rate: None,
            zero_loss: None,
            topology: None,
            umlvnf,
            output_json: None,
            output_svg: None,
            compare: None,
            trafgen: false,
            progress: true,
            backend: Backend::Mmsg,
            host_cpu: umlvnf_kernel::HostCpu::detect(),
        }
    }

    /// The frame sizes to measure, checked, IMIX last.
    pub fn sizes(&self) -> Result<Vec<FrameSize>> {
        let mut out = Vec::new();
        for &s in &self.frame_sizes {
            let f = FrameSize::fixed(s)?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        if self.imix {
            out.push(FrameSize::Imix);
        }
        if out.is_empty() {
            return Err(BenchError::InvalidOptions(
                "no frame size: give at least one size (64..1518) or IMIX".into(),
            ));
        }
        Ok(out)
    }

    fn check(&self) -> Result<()> {
        self.sizes()?;
        if self.scenarios.is_empty() && !self.trafgen {
            return Err(BenchError::InvalidOptions(
                "no scenario: name at least one (veth, wire, guest, ...)".into(),
            ));
        }
        if self.duration < Duration::from_millis(100) || self.duration > Duration::from_secs(3600) {
            return Err(BenchError::InvalidOptions(
                "the duration must be 0.1 s to 1 h".into(),
            ));
        }
        if self.reps == 0 || self.reps > 100 {
            return Err(BenchError::InvalidOptions("reps must be 1 to 100".into()));
        }
        if self.warmup > Duration::from_secs(600) {
            return Err(BenchError::InvalidOptions(
                "the warm-up must be at most 600 s".into(),
            ));
        }
        if self.rate == Some(0) {
            return Err(BenchError::InvalidOptions(
                "the rate must be at least 1 pps (leave it out for unpaced)".into(),
            ));
        }
        if let Some(z) = self.zero_loss {
            if !(0.0..1.0).contains(&z) {
                return Err(BenchError::InvalidOptions(
                    "the zero-loss bound must be a ratio from 0 up to (not including) 1, such as 0.001"
                        .into(),
                ));
            }
        }
        if let Some(file) = &self.topology {
            umlvnf_topology::load(file).map_err(|e| {
                BenchError::InvalidOptions(format!("the --topology file does not load: {e}"))
            })?;
        }
        if self.scenarios.contains(&Scenario::GuestTopology) && self.topology.is_none() {
            return Err(BenchError::InvalidOptions(
                "the guest-topology scenario deploys the --topology file: give one with \
                 --topology FILE, or leave guest-topology out"
                    .into(),
            ));
        }
        if self.scenarios.iter().any(|s| s.is_guest()) && !self.umlvnf.exists() {
            return Err(BenchError::InvalidOptions(format!(
                "the umlvnf binary {} does not exist: guest scenarios need it",
                self.umlvnf.display()
            )));
        }
        Ok(())
    }
}

/// Runs the bench: every scenario in turn (each set up and torn down on its own; a scenario
/// that fails is recorded with its error and the run goes on; one this host cannot run, such
/// as `guest-debian` on a CPU with AMX, is recorded as skipped with the reason, without
/// setting anything up), then the tuning comparison,
/// the comparison with `compare`, and the output files. Fails on invalid options, a backend
/// the kernel refuses, an unreadable `compare` file or an unwritable output file.
///
/// When a stop is asked for ([`interrupt::catch_signals`] turns SIGINT/SIGTERM into one)
/// the current trial ends early, its scenario's set-up is dropped, no further scenario
/// runs, no file is written, and this fails with [`RunError::Interrupted`] carrying what
/// was measured so far.
pub fn run(opts: &BenchOptions) -> std::result::Result<Report, RunError> {
    opts.check()?;
    let sizes = opts.sizes()?;
    let old = opts.compare.as_deref().map(Report::read).transpose()?;
    opts.backend.check_available()?;
    let mut results = Vec::new();
    let mut trafgen_done = false;
    for &sc in &opts.scenarios {
        if interrupt::stop_requested() {
            break;
        }
        let with_trafgen = opts.trafgen && sc == Scenario::Veth;
        results.extend(run_scenario(opts, sc, &sizes, with_trafgen));
        trafgen_done |= with_trafgen;
    }
    if opts.trafgen && !trafgen_done && !interrupt::stop_requested() {
        let mut r = run_scenario(opts, Scenario::Veth, &sizes, true);
        results.extend(r.drain(1..));
    }
    let tuning = tuning_of(&results, &sizes);
    let guest_pairs = GuestPairs::of(&results);
    let mut report = Report {
        format: report::REPORT_FORMAT.to_string(),
        created_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        host: HostInfo {
            cpus: affinity::cpu_count(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        },
        settings: Settings {
            duration_s: opts.duration.as_secs_f64(),
            warmup_s: opts.warmup.as_secs_f64(),
            reps: opts.reps,
            rate_pps: opts.rate,
            zero_loss: opts.zero_loss,
            frame_sizes: sizes,
            topology: opts.topology.as_ref().map(|p| p.display().to_string()),
            backend: opts.backend,
        },
        scenarios: results,
        tuning,
        guest_pairs,
        comparison: Vec::new(),
    };
    if let Some(old) = &old {
        report.comparison = report.compare(old);
    }
    if interrupt::stop_requested() {
        return Err(RunError::Interrupted {
            partial: Box::new(report),
        });
    }
    if let Some(p) = &opts.output_json {
        write_file(p, &report.to_json())?;
    }
    if let Some(p) = &opts.output_svg {
        write_file(p, &svg::plot(&report))?;
    }
    Ok(report)
}

/// Why [`run`] returned no complete report.
#[derive(Debug)]
pub enum RunError {
    /// A step failed.
    Failed(BenchError),
    /// A stop was asked for; `partial` holds what was measured before it.
    Interrupted {
        /// The report of the scenarios measured so far.
        partial: Box<Report>,
    },
}

impl From<BenchError> for RunError {
    fn from(e: BenchError) -> RunError {
        RunError::Failed(e)
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Failed(e) => e.fmt(f),
            RunError::Interrupted { .. } => BenchError::Interrupted.fmt(f),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Failed(e) => e.source(),
            RunError::Interrupted { .. } => None,
        }
    }
}

fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| BenchError::ReportFile {
        path: path.to_path_buf(),
        reason: format!("it cannot be written: {e}"),
    })
}

/// The plain/tuned comparison at 64 bytes (else the smallest size), when both ran.
fn tuning_of(results: &[ScenarioResult], sizes: &[FrameSize]) -> Option<Tuning> {
    let find = |sc: Scenario| results.iter().find(|r| r.name == sc.to_string());
    let (plain, tuned) = (find(Scenario::GuestPlain)?, find(Scenario::GuestTuned)?);
    let size = if sizes.contains(&FrameSize::Fixed(64)) {
        FrameSize::Fixed(64)
    } else {
        *sizes.first()?
    };
    let p = plain.points.iter().find(|p| p.frame_size == size)?;
    let t = tuned.points.iter().find(|p| p.frame_size == size)?;
    let debian_pps = find(Scenario::GuestDebian)
        .and_then(|d| d.points.iter().find(|p| p.frame_size == size))
        .map(|p| p.pps.median);
    let zero_loss_pps = match (&p.zero_loss, &t.zero_loss) {
        (Some(a), Some(b)) => Some([a.rate_pps, b.rate_pps]),
        _ => None,
    };
    Some(Tuning {
        frame_size: size,
        plain_pps: p.pps.median,
        tuned_pps: t.pps.median,
        ratio: if p.pps.median > 0.0 {
            t.pps.median / p.pps.median
        } else {
            0.0
        },
        zero_loss_pps,
        tuned_means: format!(
            "guest on CPU 0 (what it sends processed on CPU 1), generator and sink on CPU 1, \
             depth {}, host net.core.rmem_default {} while booting, own frames filtered out; \
             both on the appliance kernel ({})",
            scenario::TUNED_DEPTH,
            scenario::TUNED_RMEM_DEFAULT,
            howto_guest::APPLIANCE_FLAVOUR
        ),
        debian_pps,
    })
}

/// What a scenario's set-up holds until its measurements end.
enum Held {
    Net(#[allow(dead_code)] Box<netenv::NetEnv>),
    Lab(Lab),
    Howto(Box<howto_guest::HowtoGuest>),
    Pair(Box<pairs::PairLab>),
}

impl Held {
    /// The UML kernel binaries its guests run, as their command lines name them (none for a
    /// set-up without a guest).
    fn kernels(&self) -> Result<Vec<String>> {
        match self {
            Held::Net(_) => Ok(Vec::new()),
            Held::Lab(lab) => lab.guest_kernels(),
            Held::Howto(g) => Ok(vec![g.kernel.path.display().to_string()]),
            Held::Pair(p) => p.lab().guest_kernels(),
        }
    }

    /// Its guests, to measure their CPU time.
    fn guest_cpu(&self) -> Result<GuestCpu> {
        Ok(GuestCpu::of(match self {
            Held::Net(_) => Vec::new(),
            Held::Lab(lab) => lab.guest_pids()?,
            Held::Howto(g) => g.pid().map(|p| p as i32).into_iter().collect(),
            Held::Pair(p) => p.lab().guest_pids()?,
        }))
    }
}

/// Why `sc` cannot run on this host (it is then skipped, not set up), or `None`.
fn skip_reason(opts: &BenchOptions, sc: Scenario) -> Option<String> {
    match sc {
        Scenario::GuestDebian => howto_guest::HowtoKernel::Debian.refusal(opts.host_cpu),
        _ => None,
    }
}

fn setup(opts: &BenchOptions, sc: Scenario) -> Result<(Held, Path)> {
    let (tx, rx, guest_cpu) = sc.placement();
    let (tx, rx) = (Some(tx), Some(rx));
    let guest = |setup: GuestSetup, rmem: bool| -> Result<(Held, Path)> {
        let name = lab::unique_lab_name();
        let topology = topologies::quickstart(&name, &setup);
        let raised = if rmem {
            Some(HostSysctl::set(
                "net.core.rmem_default",
                &scenario::TUNED_RMEM_DEFAULT.to_string(),
            )?)
        } else {
            None
        };
        let lab = Lab::up_generated(&opts.umlvnf, &topology)?;
        drop(raised);
        let path = lab.path(tx, rx)?;
        Ok((Held::Lab(lab), path))
    };
    // A topology of the user's: as it is, or with every guest link on the scenario's transport.
    if let Some(file) = opts.topology.as_deref() {
        let lab = match sc {
            Scenario::GuestTopology => Some(Lab::up_file(&opts.umlvnf, file)?),
            Scenario::Guest(t) => {
                let name = lab::unique_lab_name();
                let topology = topologies::retransported(file, &name, t.transport())?;
                Some(Lab::up_generated(&opts.umlvnf, &topology)?)
            }
            _ => None,
        };
        if let Some(lab) = lab {
            let path = lab.path(tx, rx)?;
            return Ok((Held::Lab(lab), path));
        }
    }
    match sc {
        Scenario::Veth => {
            let env = netenv::veth(tx, rx)?;
            let p = env.path.clone();
            Ok((Held::Net(Box::new(env)), p))
        }
        Scenario::NetnsRouter => {
            let env = netenv::netns_router(tx, rx)?;
            let p = env.path.clone();
            Ok((Held::Net(Box::new(env)), p))
        }
        Scenario::Wire => {
            let env = netenv::wire(tx, rx, guest_cpu, generator::BATCH, false)?;
            let p = env.path.clone();
            Ok((Held::Net(Box::new(env)), p))
        }
        Scenario::WireTap => {
            let env = netenv::wire(tx, rx, guest_cpu, generator::BATCH, true)?;
            let p = env.path.clone();
            Ok((Held::Net(Box::new(env)), p))
        }
        Scenario::GuestTopology => Err(BenchError::InvalidOptions(
            "the guest-topology scenario needs --topology FILE".into(),
        )),
        Scenario::Guest(t) => guest(
            GuestSetup {
                transport: t.transport(),
                cpu: None,
                depth: None,
                iptables: None,
            },
            false,
        ),
        Scenario::GuestFirewall => guest(
            GuestSetup {
                transport: umlvnf_topology::Transport::Raw,
                cpu: None,
                depth: None,
                iptables: Some(scenario::firewall_rules()),
            },
            false,
        ),
        Scenario::GuestNftables => {
            let name = lab::unique_lab_name();
            let topology = topologies::bridge_firewall(&name, &scenario::nftables_bridge_rules());
            let lab = Lab::up_generated(&opts.umlvnf, &topology)?;
            let path = lab.path(tx, rx)?;
            Ok((Held::Lab(lab), path))
        }
        Scenario::GuestPlain | Scenario::GuestDebian => {
            let kernel = if sc == Scenario::GuestPlain {
                howto_guest::HowtoKernel::Appliance
            } else {
                howto_guest::HowtoKernel::Debian
            };
            let kernel = kernel.resolve(&opts.umlvnf, !opts.progress)?;
            let (g, path) = howto_guest::start(&opts.umlvnf, kernel, tx, rx)?;
            Ok((Held::Howto(Box::new(g)), path))
        }
        Scenario::GuestTuned => guest(
            GuestSetup {
                transport: umlvnf_topology::Transport::Raw,
                cpu: guest_cpu.and_then(|c| u32::try_from(c).ok()),
                depth: Some(scenario::TUNED_DEPTH),
                iptables: None,
            },
            true,
        ),
        Scenario::Pair(link) => {
            let pair = pairs::PairLab::up(&opts.umlvnf, link)?;
            let path = pair.path()?;
            Ok((Held::Pair(Box::new(pair)), path))
        }
    }
}

/// Runs one scenario; with `trafgen`, also the trafgen series on the same set-up (returned
/// second).
fn run_scenario(
    opts: &BenchOptions,
    sc: Scenario,
    sizes: &[FrameSize],
    trafgen: bool,
) -> Vec<ScenarioResult> {
    let (tx, rx, guest_cpu) = sc.placement();
    let placement = match sc {
        Scenario::Pair(_) => pairs::PLACEMENT.to_string(),
        _ => format!(
            "generator CPU {tx}, sink CPU {rx}, {}",
            match guest_cpu {
                Some(c) if matches!(sc, Scenario::Wire | Scenario::WireTap) => {
                    format!("datapath thread CPU {c}")
                }
                Some(c) => format!("guest CPU {c}"),
                None if sc.is_guest() => "guest not pinned".to_string(),
                None => "kernel forwarding wherever it runs".to_string(),
            }
        ),
    };
    let mut name = sc.to_string();
    let mut description = sc.description().to_string();
    if let Some(file) = &opts.topology {
        let stem = file
            .file_stem()
            .map_or("topology".into(), |s| s.to_string_lossy().to_string());
        match sc {
            Scenario::GuestTopology => {
                name = format!("guest:{stem}");
                description = format!("h1 -> {} as it is -> h2", file.display());
            }
            Scenario::Guest(t) => {
                name = format!("{sc}:{stem}");
                description = format!(
                    "h1 -> {} with every guest link as {} -> h2",
                    file.display(),
                    t.as_str()
                );
            }
            _ => {}
        }
    }
    let mut ours = ScenarioResult {
        name,
        description,
        generator: "umlvnf".into(),
        placement: placement.clone(),
        error: None,
        skipped: None,
        kernel: None,
        points: Vec::new(),
    };
    if let Some(why) = skip_reason(opts, sc) {
        if opts.progress {
            eprintln!("{}: skipped: {why}", ours.name);
        }
        ours.skipped = Some(why);
        return vec![ours];
    }
    let mut peer = ScenarioResult {
        name: "trafgen-veth".into(),
        description: "trafgen (netsniff-ng) -> veth pair -> sink".into(),
        generator: "trafgen".into(),
        placement: "trafgen CPU 0 (one process), sink CPU 1".into(),
        error: None,
        skipped: None,
        kernel: None,
        points: Vec::new(),
    };
    let outcome = (|| -> Result<()> {
        if opts.progress {
            eprintln!("{}: setting up", ours.name);
        }
        let (held, path) = setup(opts, sc)?;
        let kernels = held.kernels()?;
        if !kernels.is_empty() {
            ours.kernel = Some(kernels.join(", "));
        }
        let cpu = held.guest_cpu()?;
        interrupt::check()?;
        if opts.progress {
            eprintln!("{}: set up, measuring", ours.name);
        }
        for &size in sizes {
            let p = measure_point(
                opts,
                &ours.name,
                (&path, &cpu),
                size,
                trial::measure_with,
                true,
            )?;
            ours.points.push(p);
            if trafgen {
                let none = GuestCpu::default();
                match measure_point(
                    opts,
                    &peer.name,
                    (&path, &none),
                    size,
                    trafgen::measure,
                    false,
                ) {
                    Ok(p) => peer.points.push(p),
                    Err(e) => peer.error = Some(e.to_string()),
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = outcome {
        if opts.progress {
            eprintln!("{}: FAILED: {e}", ours.name);
        }
        ours.error = Some(e.to_string());
    }
    if trafgen {
        vec![ours, peer]
    } else {
        vec![ours]
    }
}

type MeasureFn = fn(&Path, FrameSize, Option<u64>, Duration, Backend) -> Result<Trial>;

/// One trial of `measure` at `rate` (unpaced if `None`), with the CPU time of the guests of
/// `cpu` over it.
fn metered(
    measure: MeasureFn,
    (path, cpu): (&Path, &GuestCpu),
    size: FrameSize,
    rate: Option<u64>,
    duration: Duration,
    backend: Backend,
) -> Result<Trial> {
    let before = cpu.seconds();
    let mut t = measure(path, size, rate, duration, backend)?;
    if let (Some(a), Some(b)) = (before, cpu.seconds()) {
        t.guest_cpu_seconds = Some((b - a).max(0.0));
    }
    Ok(t)
}

fn measure_point(
    opts: &BenchOptions,
    name: &str,
    on: (&Path, &GuestCpu),
    size: FrameSize,
    measure: MeasureFn,
    search: bool,
) -> Result<Point> {
    if !opts.warmup.is_zero() {
        measure(on.0, size, opts.rate, opts.warmup, opts.backend)?;
        interrupt::check()?;
    }
    let mut trials = Vec::new();
    for rep in 0..opts.reps {
        let t = metered(measure, on, size, opts.rate, opts.duration, opts.backend)?;
        interrupt::check()?;
        if opts.progress {
            eprintln!(
                "{name} {size} rep {}: offered {} pps, delivered {} pps, loss {:.2} %",
                rep + 1,
                report::human_pps(t.offered_pps),
                report::human_pps(t.delivered_pps),
                t.loss_ratio * 100.0
            );
        }
        trials.push(t);
    }
    let mut point = Point::from_trials(size, trials);
    if let (Some(bound), true) = (opts.zero_loss, search) {
        let ceiling = opts
            .rate
            .unwrap_or(point.offered_pps.max.round() as u64)
            .max(1);
        let z = zero_loss_search(ceiling, bound, ZERO_LOSS_ITERATIONS, |rate| {
            let t = measure(on.0, size, Some(rate), opts.duration, opts.backend)?;
            interrupt::check()?;
            if opts.progress {
                eprintln!(
                    "{name} {size} zero-loss probe {} pps: loss {:.3} %",
                    report::human_pps(rate as f64),
                    t.loss_ratio * 100.0
                );
            }
            Ok(t)
        })?;
        // Latency and CPU at half the zero-loss rate: the path loaded but not at its limit.
        let half = (z.rate_pps / 2.0).round() as u64;
        if half > 0 {
            let t = metered(measure, on, size, Some(half), opts.duration, opts.backend)?;
            interrupt::check()?;
            point.at_half_zero_loss = Some(t);
        }
        point.zero_loss = Some(z);
    }
    Ok(point)
}
