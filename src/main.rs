//! The `umlvnf` command: parse, call the library, print.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use umlvnf::control::{self, Request};
use umlvnf::graph::GraphFormat;
use umlvnf::plan;
use umlvnf::runtime::{self, UpOptions};
use umlvnf::state::{self, LabState};

/// Deploy User Mode Linux routers and firewalls from topology files.
#[derive(Parser)]
#[command(name = "umlvnf", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which lab a command is about.
#[derive(clap::Args, Clone)]
struct LabArgs {
    /// The topology file of the lab.
    #[arg(short = 't', long = "topology")]
    topology: Option<PathBuf>,
    /// The lab name.
    #[arg(long)]
    lab: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Check topology files and print every error with its location.
    Validate {
        /// Topology files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of topology files.
    Schema,
    /// Print what `up` would create, including every UML command line.
    Plan {
        /// Topology file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
    },
    /// Draw the topology as Graphviz DOT or Mermaid.
    Graph {
        /// Topology file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Deploy a lab and hold it (Ctrl-C tears it down).
    Up {
        /// Topology file.
        file: PathBuf,
        /// Return once every node is ready; the lab keeps running in the background.
        #[arg(short, long)]
        detach: bool,
        /// Once ready, ping between every pair of host nodes and print what is reachable.
        #[arg(long)]
        check: bool,
        /// Serve Prometheus metrics here (default: the topology's `metrics.listen`, else
        /// 127.0.0.1:9477, or a free port when another lab has that one).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<std::net::SocketAddr>,
        /// Do not serve metrics.
        #[arg(long, conflicts_with = "metrics")]
        no_metrics: bool,
    },
    /// Tear a lab down, leaving nothing behind.
    Down {
        #[command(flatten)]
        lab: LabArgs,
    },
    /// Show the nodes and links of a running lab.
    Inspect {
        #[command(flatten)]
        lab: LabArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = InspectFormat::Table)]
        format: InspectFormat,
    },
    /// Run a command on a node; its exit status becomes umlvnf's.
    Exec {
        #[command(flatten)]
        lab: LabArgs,
        /// Node name.
        node: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Attach to a guest's console (Ctrl-] detaches).
    Console {
        #[command(flatten)]
        lab: LabArgs,
        /// Guest name.
        node: String,
    },
    /// Copy a file into or out of a guest: `cp FILE NODE:PATH` or `cp NODE:PATH FILE`.
    Cp {
        #[command(flatten)]
        lab: LabArgs,
        /// Source.
        src: String,
        /// Destination.
        dst: String,
    },
    /// Build or list guest base images.
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Build, list and prune umlvnf's appliance kernels.
    Kernel {
        #[command(subcommand)]
        command: KernelCommand,
    },
    /// Capture a wire's frames as pcap (both directions) to a file or stdout.
    Capture {
        #[command(flatten)]
        lab: LabArgs,
        /// Wire name (`link3`, as `link show` lists) or one of its endpoints (`r1:eth5`).
        link: String,
        /// Output file; `-` or absent: stdout (pipe it to `tcpdump -r -`).
        #[arg(short = 'w', long = "write")]
        write: Option<PathBuf>,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long)]
        duration: Option<f64>,
    },
    /// Show or change the links carried by umlvnf's datapath.
    Link {
        #[command(subcommand)]
        command: LinkCommand,
    },
    /// Packets per second through appliances, against the host's own veth pairs, side by side.
    Bench(BenchArgs),
    /// Classic BPF socket filters from pcap expressions.
    Bpf {
        #[command(subcommand)]
        command: BpfCommand,
    },
}

/// Options of `umlvnf bench`.
#[derive(clap::Args)]
struct BenchArgs {
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

#[derive(Subcommand)]
enum LinkCommand {
    /// Counters of every wire, per direction, with drops by reason.
    Show {
        #[command(flatten)]
        lab: LabArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = InspectFormat::Table)]
        format: InspectFormat,
    },
    /// Change a wire's impairments (they replace the current ones) or state.
    Set {
        #[command(flatten)]
        lab: LabArgs,
        /// Wire name or one of its endpoints.
        link: String,
        /// Only the frames this endpoint sends (default: both directions).
        #[arg(long)]
        from: Option<String>,
        #[command(flatten)]
        impair: control::ImpairArgs,
        /// Remove every impairment.
        #[arg(long)]
        clear: bool,
        /// Take the link down (frames are dropped as `link_down`).
        #[arg(long, conflicts_with = "up")]
        down: bool,
        /// Bring the link up again.
        #[arg(long)]
        up: bool,
    },
}

#[derive(Subcommand)]
enum BpfCommand {
    /// Compile a pcap expression (as tcpdump takes) into the blob UML loads with `bpffile=`.
    Compile {
        /// The expression, such as `not icmp` (quote it as one argument).
        expr: String,
        /// Output file; without it the program is printed as `tcpdump -ddd` does.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Build a base image (`minimal` or `debian`) unless it is current.
    Build {
        /// Image kind.
        kind: String,
        /// Build again even if current.
        #[arg(long)]
        force: bool,
    },
    /// List built images.
    List,
    /// Delete images that are neither current nor used by a running guest.
    Prune,
}

#[derive(Subcommand)]
enum KernelCommand {
    /// Build the appliance kernel (every flavour unless --flavour) from the newest Debian
    /// linux-source the host's mirror offers, or from --source; a build that is current is kept.
    Build {
        /// Only this flavour: `smp` or `time-travel`.
        #[arg(long)]
        flavour: Option<String>,
        /// A kernel source tarball instead of Debian's package.
        #[arg(long)]
        source: Option<PathBuf>,
        /// Build again even if current.
        #[arg(long)]
        force: bool,
    },
    /// List built kernels.
    List,
    /// Print the binary of a flavour's current build (building it if there is none).
    Path {
        /// `smp` (default) or `time-travel`.
        #[arg(long, default_value = "smp")]
        flavour: String,
    },
    /// Delete builds that are neither current nor run by a guest.
    Prune,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlanFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum InspectFormat {
    Table,
    Json,
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    // Like any shell tool: a closed pipe (`umlvnf inspect | head`) ends the process quietly.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate { files } => validate(&files),
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&umlvnf_topology::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { file, format } => {
            let p = match planned(&file)? {
                Ok(p) => p.plan,
                Err(diagnostic) => {
                    eprintln!("{diagnostic}");
                    return Ok(ExitCode::from(1));
                }
            };
            match format {
                PlanFormat::Text => print!("{}", plan::render_text(&p)),
                PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&p)?),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph { file, format } => {
            let topo = umlvnf_topology::load(&file)?;
            print!("{}", umlvnf::graph::render(&topo, format));
            Ok(ExitCode::SUCCESS)
        }
        Command::Up {
            file,
            detach,
            check,
            metrics,
            no_metrics,
        } => {
            let mut claim = runtime::LabClaim::default();
            let planned = plan::plan_file(&file, &mut claim)?;
            runtime::up(
                planned,
                claim,
                &UpOptions {
                    topology: file,
                    detach,
                    check,
                    metrics: if no_metrics {
                        Some(runtime::Listen::Off)
                    } else {
                        metrics.map(runtime::Listen::Given)
                    },
                },
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Down { lab } => down(&lab),
        Command::Inspect { lab, format } => inspect(&lab, format),
        Command::Exec {
            lab,
            node,
            timeout,
            command,
        } => exec(&lab, &node, timeout, &command),
        Command::Console { lab, node } => console(&lab, &node),
        Command::Cp { lab, src, dst } => copy(&lab, &src, &dst),
        Command::Image { command } => image(command),
        Command::Kernel { command } => kernel(command),
        Command::Capture {
            lab,
            link,
            write,
            duration,
        } => capture(&lab, &link, write, duration),
        Command::Link { command } => link(command),
        Command::Bench(args) => bench(args),
        Command::Bpf {
            command: BpfCommand::Compile { expr, output },
        } => {
            let prog = umlvnf_packet::bpf::compile(&expr)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, umlvnf_packet::bpf::to_blob(&prog))
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    eprintln!("{} instructions written to {}", prog.len(), path.display());
                }
                None => {
                    println!("{}", prog.len());
                    for i in &prog {
                        println!("{} {} {} {}", i.code, i.jt, i.jf, i.k);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The plan `umlvnf plan` shows, or the limit it breaks placed in the topology file (limits
/// such as UML's command-line length depend on how the topology is rendered).
fn planned(file: &Path) -> Result<std::result::Result<plan::Planned, umlvnf_topology::Diagnostic>> {
    match plan::plan_file(file, &mut umlvnf::images::PlannedHere) {
        Ok(p) => Ok(Ok(p)),
        Err(plan::PlanFileError::Plan(e)) => Ok(Err(e.diagnostic(file))),
        Err(e) => Err(e.into()),
    }
}

fn validate(files: &[PathBuf]) -> Result<ExitCode> {
    let mut ok = true;
    for f in files {
        match plan::plan_file(f, &mut umlvnf::images::PlannedHere) {
            Ok(p) => println!(
                "{}: valid ({} nodes, {} links)",
                f.display(),
                p.topology.nodes.len(),
                p.topology.links.len()
            ),
            Err(plan::PlanFileError::Load(e)) => {
                ok = false;
                eprintln!("{e}");
            }
            Err(plan::PlanFileError::Plan(e)) => {
                ok = false;
                eprintln!("{}", e.diagnostic(f));
            }
            Err(plan::PlanFileError::Context(e)) => return Err(e.into()),
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Finds the lab a command is about.
fn select_lab(args: &LabArgs) -> Result<String> {
    if let Some(l) = &args.lab {
        return Ok(l.clone());
    }
    if let Some(t) = &args.topology {
        return Ok(umlvnf_topology::load(t)?.name);
    }
    let labs = state::list_labs();
    match labs.len() {
        0 => match std::fs::read_dir(state::labs_dir()) {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!(
                "cannot read {} (permission denied): labs belong to root, so run umlvnf as root",
                state::labs_dir().display()
            )
            .into()),
            _ => Err("no lab is up (start one with `umlvnf up FILE`)".into()),
        },
        1 => Ok(labs[0].clone()),
        _ => Err(format!(
            "{} labs are up ({}); choose one with --lab NAME or -t FILE",
            labs.len(),
            labs.join(", ")
        )
        .into()),
    }
}

fn lab_state(lab: &str) -> Result<(PathBuf, LabState)> {
    let dir = state::labs_dir().join(lab);
    match LabState::load(&dir) {
        Ok(st) => Ok((dir, st)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("lab `{lab}` is not up (no {})", dir.display()).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Sends one request to the runtime of the chosen lab; a refused request is an error.
fn request(
    args: &LabArgs,
    req: &Request,
    timeout: Duration,
) -> Result<(control::Reply, std::os::unix::net::UnixStream)> {
    let lab = select_lab(args)?;
    let (_, st) = lab_state(&lab)?;
    request_to(&lab, &st, req, timeout)
}

/// Sends one request to the runtime of a lab whose state is loaded.
fn request_to(
    lab: &str,
    st: &LabState,
    req: &Request,
    timeout: Duration,
) -> Result<(control::Reply, std::os::unix::net::UnixStream)> {
    let (reply, stream) = control::call(lab, &st.control, req, Some(timeout))?;
    if !reply.ok {
        return Err(reply.error.unwrap_or_default().into());
    }
    Ok((reply, stream))
}

fn down(args: &LabArgs) -> Result<ExitCode> {
    let lab = select_lab(args)?;
    let (dir, st) = lab_state(&lab)?;
    if st.supervisor.is_some_and(|p| p.is_alive()) {
        match control::call(
            &lab,
            &st.control,
            &Request::Down,
            Some(Duration::from_secs(120)),
        ) {
            Ok((reply, _)) if reply.ok => {
                println!("lab {lab} is down");
                return Ok(ExitCode::SUCCESS);
            }
            Ok((reply, _)) => {
                eprintln!("the runtime reported: {}", reply.error.unwrap_or_default());
            }
            Err(e) => eprintln!("{e}; removing the lab from its recorded state"),
        }
    }
    let problems = runtime::down_stale(&lab, &dir);
    if problems.is_empty() {
        println!("lab {lab} is down");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(format!(
            "lab {lab}: some objects could not be removed: {}",
            problems.join("; ")
        )
        .into())
    }
}

fn inspect(args: &LabArgs, format: InspectFormat) -> Result<ExitCode> {
    let lab = select_lab(args)?;
    let (_, st) = lab_state(&lab)?;
    let status = match control::call(
        &lab,
        &st.control,
        &Request::Status,
        Some(Duration::from_secs(10)),
    ) {
        Ok((reply, _)) if reply.ok && reply.status.is_some() => reply.status.expect("checked"),
        _ => {
            let mut s = runtime::status_from_state(&st);
            s.phase = "stale".into();
            s
        }
    };
    match format {
        InspectFormat::Json => println!("{}", serde_json::to_string_pretty(&status)?),
        InspectFormat::Table => {
            println!(
                "lab {} ({}), runtime pid {}, metrics {}",
                status.lab,
                status.phase,
                status
                    .supervisor_pid
                    .map(|p| p.to_string())
                    .unwrap_or("-".into()),
                status
                    .metrics
                    .map(|a| format!("http://{a}/metrics"))
                    .unwrap_or("off".into())
            );
            println!(
                "{:<12} {:<5} {:<11} {:>8} {:>7} {:>8}  NETNS/ERROR",
                "NODE", "KIND", "STATE", "PID", "BOOT", "RESTARTS"
            );
            for n in &status.nodes {
                println!(
                    "{:<12} {:<5} {:<11} {:>8} {:>7} {:>8}  {}",
                    n.name,
                    n.kind,
                    n.state,
                    n.pid.map(|p| p.to_string()).unwrap_or("-".into()),
                    n.boot_seconds
                        .map(|b| format!("{b:.1}s"))
                        .unwrap_or("-".into()),
                    n.restarts,
                    n.netns
                        .clone()
                        .or_else(|| n.error.as_ref().map(|e| e
                            .lines()
                            .next()
                            .unwrap_or("")
                            .to_string()))
                        .or_else(|| n.last_exit.as_ref().map(|e| format!("last exit: {e}")))
                        .unwrap_or_default()
                );
            }
            println!(
                "\n{:<22} {:<22} {:<9} HOST INTERFACES",
                "ENDPOINT A", "ENDPOINT B", "TRANSPORT"
            );
            for l in &status.links {
                println!(
                    "{:<22} {:<22} {:<9} {}{}",
                    l.endpoints[0],
                    l.endpoints[1],
                    l.transport,
                    l.host_interfaces.join(","),
                    l.bridge
                        .as_ref()
                        .map(|b| format!(" (bridge {b})"))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn exit_code(status: i32) -> ExitCode {
    ExitCode::from(u8::try_from(status.clamp(0, 255)).unwrap_or(255))
}

fn exec(args: &LabArgs, node: &str, timeout: u64, command: &[String]) -> Result<ExitCode> {
    let lab = select_lab(args)?;
    let (_, st) = lab_state(&lab)?;
    if let Some(netns) = st.hosts.get(node) {
        let status = umlvnf_host::command_in_netns(netns, &command[0], &command[1..]).status()?;
        use std::os::unix::process::ExitStatusExt;
        return Ok(exit_code(
            status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        ));
    }
    if !st.guests.contains_key(node) {
        let mut names: Vec<&String> = st.guests.keys().chain(st.hosts.keys()).collect();
        names.sort();
        return Err(format!(
            "lab `{lab}` has no node `{node}`; its nodes are: {}",
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
        .into());
    }
    let request = Request::Exec {
        node: node.to_string(),
        argv: command.to_vec(),
        stdin: None,
        timeout_ms: timeout * 1000,
    };
    let (reply, _) = request_to(&lab, &st, &request, Duration::from_secs(timeout + 10))?;
    let r = reply.exec.ok_or("the runtime sent no result")?;
    std::io::stdout().write_all(&r.stdout)?;
    std::io::stderr().write_all(&r.stderr)?;
    Ok(exit_code(r.status))
}

fn console(args: &LabArgs, node: &str) -> Result<ExitCode> {
    let (_, stream) = request(
        args,
        &Request::Console {
            node: node.to_string(),
        },
        Duration::from_secs(10),
    )?;
    eprintln!("connected to {node}'s console; Ctrl-] detaches");
    let raw = RawTerminal::enter();
    let mut from_guest = stream.try_clone()?;
    let out = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdout = std::io::stdout();
        while let Ok(n) = from_guest.read(&mut buf) {
            if n == 0
                || stdout
                    .write_all(&buf[..n])
                    .and_then(|_| stdout.flush())
                    .is_err()
            {
                break;
            }
        }
    });
    let mut to_guest = stream;
    let mut buf = [0u8; 1024];
    let mut stdin = std::io::stdin();
    while let Ok(n) = stdin.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Some(pos) = buf[..n].iter().position(|b| *b == 0x1d) {
            let _ = to_guest.write_all(&buf[..pos]);
            break;
        }
        if to_guest.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to_guest.shutdown(std::net::Shutdown::Both);
    let _ = out.join();
    drop(raw);
    eprintln!("\ndetached from {node}");
    Ok(ExitCode::SUCCESS)
}

/// Puts the terminal in raw mode while a console is attached, and restores it.
struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    fn enter() -> RawTerminal {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        match tcgetattr(&stdin) {
            Ok(saved) => {
                let mut raw = saved.clone();
                cfmakeraw(&mut raw);
                let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
                RawTerminal(Some(saved))
            }
            Err(_) => RawTerminal(None),
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}

fn copy(args: &LabArgs, src: &str, dst: &str) -> Result<ExitCode> {
    let lab = select_lab(args)?;
    let (_, st) = lab_state(&lab)?;
    let remote = |s: &str| -> Option<(String, String)> {
        let (node, path) = s.split_once(':')?;
        st.guests
            .contains_key(node)
            .then(|| (node.to_string(), path.to_string()))
    };
    let (request, local) = match (remote(src), remote(dst)) {
        (None, Some((node, path))) => {
            let data = std::fs::read(src).map_err(|e| format!("{src}: {e}"))?;
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(src)?.permissions().mode() & 0o7777;
            (
                Request::Put {
                    node,
                    path,
                    mode,
                    data,
                },
                None,
            )
        }
        (Some((node, path)), None) => (Request::Get { node, path }, Some(Path::new(dst))),
        _ => return Err("exactly one of SRC and DST must be NODE:PATH of a guest".into()),
    };
    let (reply, _) = request_to(&lab, &st, &request, Duration::from_secs(120))?;
    if let (Some(path), Some(data)) = (local, reply.data) {
        std::fs::write(path, data).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn image(command: ImageCommand) -> Result<ExitCode> {
    let store = umlvnf_image::ImageStore::new(umlvnf_image::ImageStore::default_dir());
    match command {
        ImageCommand::Build { kind, force } => {
            let kind: umlvnf_image::ImageKind = kind.parse()?;
            let inputs = umlvnf_image::ImageInputs::new(umlvnf::images::agent_binary()?);
            let path = store.build(kind, &inputs, force, &|m: &str| eprintln!("{m}"))?;
            println!("{}", path.display());
        }
        ImageCommand::Prune => {
            let inputs = umlvnf_image::ImageInputs::new(umlvnf::images::agent_binary()?);
            let mut keep: Vec<PathBuf> = umlvnf_image::ImageKind::ALL
                .iter()
                .filter_map(|k| store.image_path(*k, &inputs).ok())
                .collect();
            keep.extend(images_in_use());
            let removed = store.remove_stale(&keep)?;
            for p in &removed {
                println!("removed {}", p.display());
            }
            println!(
                "{} removed; kept the current images and {} in use by running guests",
                removed.len(),
                keep.len()
                    .saturating_sub(umlvnf_image::ImageKind::ALL.len())
            );
        }
        ImageCommand::List => {
            println!("{:<8} {:>10}  PATH", "KIND", "SIZE");
            for i in store.list()? {
                println!(
                    "{:<8} {:>9}M  {}",
                    i.kind.name(),
                    i.size >> 20,
                    i.path.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn kernel(command: KernelCommand) -> Result<ExitCode> {
    use umlvnf_image::{KernelSource, KernelStore};
    use umlvnf_kernel::Flavour;
    let store = KernelStore::new(KernelStore::default_dir());
    let progress = |m: &str| eprintln!("kernel {m}");
    match command {
        KernelCommand::Build {
            flavour,
            source,
            force,
        } => {
            let flavours = match flavour {
                Some(f) => vec![f.parse::<Flavour>()?],
                None => Flavour::ALL.to_vec(),
            };
            let source = source.map_or(KernelSource::Debian, KernelSource::Tarball);
            let started = std::time::Instant::now();
            for k in store.build(&flavours, &source, force, &progress)? {
                println!(
                    "{:<12} linux {:<8} {}",
                    k.flavour,
                    k.release,
                    k.binary().display()
                );
            }
            eprintln!("kernel: ready in {:.1} s", started.elapsed().as_secs_f64());
        }
        KernelCommand::List => {
            println!(
                "{:<12} {:<9} {:<8} {:<17} SOURCE",
                "FLAVOUR", "RELEASE", "CURRENT", "RECIPE"
            );
            for k in store.list() {
                println!(
                    "{:<12} {:<9} {:<8} {:<17} {}",
                    k.flavour,
                    k.release,
                    if k.is_current_recipe() { "yes" } else { "no" },
                    k.recipe,
                    k.source
                );
            }
        }
        KernelCommand::Path { flavour } => {
            let k = store.ensure(flavour.parse::<Flavour>()?, &progress)?;
            println!("{}", k.binary().display());
        }
        KernelCommand::Prune => {
            let removed = store.prune()?;
            for p in &removed {
                println!("removed {}", p.display());
            }
            println!(
                "{} removed; kept the current build of each flavour and any a guest runs",
                removed.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn capture(
    args: &LabArgs,
    link: &str,
    write: Option<PathBuf>,
    duration: Option<f64>,
) -> Result<ExitCode> {
    let (_, mut stream) = request(
        args,
        &Request::Capture {
            link: link.to_string(),
        },
        Duration::from_secs(10),
    )?;
    let mut out: Box<dyn Write> = match write.as_deref() {
        None => Box::new(std::io::stdout()),
        Some(p) if p == Path::new("-") => Box::new(std::io::stdout()),
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
    };
    let end = duration.map(|d| std::time::Instant::now() + Duration::from_secs_f64(d));
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if end.is_some_and(|e| std::time::Instant::now() >= e) {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.write_all(&buf[..n])?;
                out.flush()?;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok(ExitCode::SUCCESS)
}

fn link(command: LinkCommand) -> Result<ExitCode> {
    match command {
        LinkCommand::Show { lab, format } => {
            let (reply, _) = request(&lab, &Request::Links, Duration::from_secs(10))?;
            let wires = reply.wires.unwrap_or_default();
            match format {
                InspectFormat::Json => println!("{}", serde_json::to_string_pretty(&wires)?),
                InspectFormat::Table => {
                    println!(
                        "{:<8} {:<14} {:<14} {:>10} {:>10} {:>7}  DROPS",
                        "WIRE", "FROM", "TO", "RECEIVED", "SENT", "QUEUED"
                    );
                    for w in &wires {
                        for d in &w.directions {
                            let drops: Vec<String> =
                                d.drops.iter().map(|(r, n)| format!("{r}={n}")).collect();
                            println!(
                                "{:<8} {:<14} {:<14} {:>10} {:>10} {:>7}  {}",
                                w.name,
                                d.from,
                                d.to,
                                d.received,
                                d.sent,
                                d.queued,
                                drops.join(" ")
                            );
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        LinkCommand::Set {
            lab,
            link,
            from,
            impair,
            clear,
            down,
            up,
        } => {
            let lab = select_lab(&lab)?;
            let (_, st) = lab_state(&lab)?;
            let impair = umlvnf_topology::Impairment::from(impair);
            let request = Request::LinkSet {
                link,
                from,
                impair: (clear || !impair.is_none()).then_some(impair),
                up: if down {
                    Some(false)
                } else if up {
                    Some(true)
                } else {
                    None
                },
            };
            request_to(&lab, &st, &request, Duration::from_secs(10))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn bench(a: BenchArgs) -> Result<ExitCode> {
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
        Err(umlvnf_bench::BenchError::Interrupted { partial }) => {
            if let Some(r) = partial {
                print!("{}", r.table());
            }
            return Err(umlvnf_bench::BenchError::Interrupted { partial: None }.into());
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

/// Base images named by the `ubd0=COW,BASE` argument of any running UML process.
fn images_in_use() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        for arg in cmd.split(|b| *b == 0) {
            let arg = String::from_utf8_lossy(arg);
            if let Some(base) = arg.strip_prefix("ubd0=").and_then(|v| v.split(',').nth(1)) {
                out.push(PathBuf::from(base));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
