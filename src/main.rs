//! The `umlvnf` command: its command line and which command module does the work
//! ([`cli`]).

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli::bench::BenchArgs;
use cli::inspect::InspectFormat;
use cli::lab::LabArgs;
use cli::topology::PlanFormat;
use umlvnf::graph::GraphFormat;

/// Deploy User Mode Linux routers and firewalls from topology files.
#[derive(Parser)]
#[command(name = "umlvnf", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
        /// Plan only this host's share of a lab spread over several machines (a name under
        /// `hosts:`).
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
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
        /// Deploy only this host's share of a lab spread over several machines (a name under
        /// `hosts:`); it runs as lab `LAB.HOST`.
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
    },
    /// Write Kubernetes manifests that deploy a lab spread over several machines: one pod per
    /// host, pinned to a Kubernetes node (see deploy/kubernetes/).
    Kube {
        /// Topology file (with `hosts:`).
        file: PathBuf,
        /// Pin a host to a Kubernetes node (default: the node named like the host); repeatable.
        #[arg(long = "node", value_name = "HOST=K8SNODE")]
        nodes: Vec<String>,
        /// The container image the pods run (default: umlvnf:latest).
        #[arg(long)]
        image: Option<String>,
        /// Write one file per object into this directory instead of one stream to stdout.
        #[arg(short = 'o', long = "output", value_name = "DIR")]
        out_dir: Option<PathBuf>,
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
        /// Exit with status 1 unless the runtime answers and every node is ready (a readiness
        /// check).
        #[arg(long)]
        ready: bool,
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
        impair: umlvnf::control::ImpairArgs,
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

/// Calls the module of the command.
fn run(cli: Cli) -> cli::Result<ExitCode> {
    match cli.command {
        Command::Validate { files } => cli::topology::validate(&files),
        Command::Schema => cli::topology::schema(),
        Command::Plan { file, format, host } => cli::topology::plan(&file, format, host.as_deref()),
        Command::Graph { file, format } => cli::topology::graph(&file, format),
        Command::Up {
            file,
            detach,
            check,
            metrics,
            no_metrics,
            host,
        } => cli::up::up(
            file,
            &cli::up::Flags {
                detach,
                check,
                metrics,
                no_metrics,
                host,
            },
        ),
        Command::Kube {
            file,
            nodes,
            image,
            out_dir,
        } => cli::kube::kube(
            &file,
            &cli::kube::Flags {
                nodes,
                image,
                out_dir,
            },
        ),
        Command::Down { lab } => cli::down::down(&lab),
        Command::Inspect { lab, format, ready } => cli::inspect::inspect(&lab, format, ready),
        Command::Exec {
            lab,
            node,
            timeout,
            command,
        } => cli::exec::exec(&lab, &node, timeout, &command),
        Command::Console { lab, node } => cli::console::console(&lab, &node),
        Command::Cp { lab, src, dst } => cli::copy::copy(&lab, &src, &dst),
        Command::Image { command } => match command {
            ImageCommand::Build { kind, force } => cli::images::build(&kind, force),
            ImageCommand::List => cli::images::list(),
            ImageCommand::Prune => cli::images::prune(),
        },
        Command::Kernel { command } => match command {
            KernelCommand::Build {
                flavour,
                source,
                force,
            } => cli::kernel::build(flavour, source, force),
            KernelCommand::List => cli::kernel::list(),
            KernelCommand::Path { flavour } => cli::kernel::path(&flavour),
            KernelCommand::Prune => cli::kernel::prune(),
        },
        Command::Capture {
            lab,
            link,
            write,
            duration,
        } => cli::capture::capture(&lab, &link, write, duration),
        Command::Link { command } => match command {
            LinkCommand::Show { lab, format } => cli::link::show(&lab, format),
            LinkCommand::Set {
                lab,
                link,
                from,
                impair,
                clear,
                down,
                up,
            } => cli::link::set(
                &lab,
                &link,
                cli::link::Change {
                    from,
                    impair,
                    clear,
                    down,
                    up,
                },
            ),
        },
        Command::Bench(args) => cli::bench::bench(args),
        Command::Bpf {
            command: BpfCommand::Compile { expr, output },
        } => cli::bpf::compile(&expr, output),
    }
}
