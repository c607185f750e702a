//! `umlvnf up`: claim the lab and resolve its plan's context, then apply the plan (create,
//! boot) and hold the lab until Ctrl-C or `down`.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{SigSet, Signal};
use umlvnf_topology::defaults::KernelChoice;
use umlvnf_topology::Topology;

use crate::plan::{Plan, PlanContext, Planned, ResolveContext};
use crate::state::{self, LabState, Owned, Phase};

use super::host_objects::{self, Sockets};
use super::progress::{Progress, INTERRUPTED};
use super::supervisor::Lab;
use super::RuntimeError;

/// Options of `umlvnf up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The topology file.
    pub topology: PathBuf,
    /// Return once every node is ready, leaving the runtime in the background.
    pub detach: bool,
    /// Once ready, ping between every pair of host nodes and print what is reachable.
    pub check: bool,
    /// Metrics endpoint from the command line (`None`: the topology's, else the default).
    pub metrics: Option<super::Listen>,
}

/// Resolves the base image of every image name the topology uses, building missing ones.
pub fn resolve_images(
    topo: &Topology,
    kernels: &BTreeMap<KernelChoice, crate::plan::GuestKernel>,
    progress: &mut dyn FnMut(&str),
) -> Result<BTreeMap<String, PathBuf>, RuntimeError> {
    let mut images = BTreeMap::new();
    let names: std::collections::BTreeSet<String> = topo
        .nodes
        .keys()
        .filter(|n| topo.node_kind(n) == umlvnf_topology::NodeKind::Uml)
        .map(|n| topo.effective_image(n))
        .collect();
    for name in names {
        let path = match name.parse::<umlvnf_image::ImageKind>() {
            Ok(kind) => {
                let inputs = crate::images::inputs(topo, kernels)?;
                let store = umlvnf_image::ImageStore::new(umlvnf_image::ImageStore::default_dir());
                store
                    .ensure(kind, &inputs, &|msg: &str| eprintln!("image {name}: {msg}"))
                    .map_err(|e| RuntimeError::Image {
                        name: name.clone(),
                        message: e.to_string(),
                    })?
            }
            Err(_) => PathBuf::from(&name),
        };
        progress(&format!("image {name}: {}", path.display()));
        images.insert(name, path);
    }
    Ok(images)
}

/// Resolves the context of a deploy on this host, for [`crate::plan::plan_file`]: before
/// anything is built it makes sure this process is root, holds the lab's lock and finds the lab
/// not up already; then it resolves kernels (built if missing, refused if this host cannot boot
/// them), base images (built if missing) and seccomp support. It keeps the lock for [`up`].
#[derive(Default)]
pub struct LabClaim {
    lock: Option<state::LabLock>,
}

impl ResolveContext for LabClaim {
    type Error = RuntimeError;

    fn context(&mut self, topo: &Topology) -> Result<PlanContext, RuntimeError> {
        if !nix::unistd::geteuid().is_root() {
            return Err(RuntimeError::NotRoot);
        }
        self.lock = Some(claim(&topo.name)?);
        context(topo, &mut |m| println!("{m}"))
    }
}

/// Takes lab `lab`'s lock (held until this process, or the `-d` runtime it forks, exits) and
/// makes sure the lab is not up already.
fn claim(lab: &str) -> Result<state::LabLock, RuntimeError> {
    let lab_dir = state::labs_dir().join(lab);
    let lock = match state::LabLock::try_acquire(&state::labs_dir(), lab)
        .map_err(RuntimeError::io("locking the lab"))?
    {
        Ok(lock) => lock,
        Err(pid) => {
            // Held: up already (its runtime recorded itself), or still being deployed.
            if let Some(p) = LabState::load(&lab_dir)
                .ok()
                .and_then(|st| st.supervisor)
                .filter(|p| p.is_alive())
            {
                return Err(RuntimeError::AlreadyUp {
                    lab: lab.to_string(),
                    pid: p.pid,
                });
            }
            return Err(RuntimeError::Busy {
                lab: lab.to_string(),
                pid,
            });
        }
    };
    check_not_up(lab, &lab_dir)?;
    Ok(lock)
}

/// Applies a plan and holds the lab: `planned` comes from [`crate::plan::plan_file`] with
/// `claim` as its resolver.
pub fn up(
    planned: Planned,
    claim: LabClaim,
    opts: &UpOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let Planned {
        topology: topo,
        plan,
    } = planned;
    let lock = claim.lock.ok_or_else(|| {
        RuntimeError::Conflict(format!(
            "lab `{}` was planned without claiming it on this host",
            topo.name
        ))
    })?;
    let topology = std::fs::canonicalize(&opts.topology).unwrap_or(opts.topology.clone());
    let listen = opts.metrics.unwrap_or(match &topo.metrics {
        Some(m) if m.disabled == Some(true) => super::Listen::Off,
        Some(m) => m
            .listen
            .map_or(super::Listen::Default, super::Listen::Given),
        None => super::Listen::Default,
    });

    if opts.detach {
        detach_and_run(plan, topology, opts.check, listen, &lock)
    } else {
        block_signals();
        let progress = Progress {
            out: Box::new(std::io::stdout()),
        };
        run(plan, topology, progress, None, opts.check, listen)
    }
}

/// Resolves what the plan of `topo` needs on this host: kernels (built if missing, refused if
/// this host cannot boot them), base images (built if missing) and seccomp support.
fn context(topo: &Topology, progress: &mut dyn FnMut(&str)) -> Result<PlanContext, RuntimeError> {
    let kernels = crate::images::resolve_kernels(topo, progress)?;
    let images = resolve_images(topo, &kernels, progress)?;
    let seccomp = umlvnf_kernel::host::seccomp_available();
    if !seccomp {
        for name in topo.nodes.keys() {
            if topo.node_kind(name) == umlvnf_topology::NodeKind::Uml
                && topo.effective_userspace(name).is_none()
            {
                progress(&format!(
                    "{name}: this host offers no seccomp filters with the trap action, so its processes run under ptrace (slower fork and page faults)"
                ));
            }
        }
    }
    Ok(PlanContext {
        labs_dir: state::labs_dir(),
        images,
        kernels,
        seccomp,
        loops_per_jiffy: umlvnf_kernel::host::loops_per_jiffy(),
    })
}

fn check_not_up(lab: &str, lab_dir: &Path) -> Result<(), RuntimeError> {
    match LabState::load(lab_dir) {
        Ok(st) => match st.supervisor.filter(|p| p.is_alive()) {
            Some(p) => Err(RuntimeError::AlreadyUp {
                lab: lab.to_string(),
                pid: p.pid,
            }),
            None => Err(RuntimeError::Conflict(format!(
                "lab `{lab}` was left behind by a runtime that is no longer running ({}); clean it up with `umlvnf down --lab {lab}`",
                lab_dir.display()
            ))),
        },
        Err(_) => Ok(()),
    }
}

/// Blocks SIGINT and SIGTERM in this thread (and every thread started after) and starts the
/// thread that turns them into a shutdown.
fn block_signals() {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    let _ = set.thread_block();
    std::thread::spawn(move || loop {
        if set.wait().is_ok() {
            INTERRUPTED.store(true, Ordering::SeqCst);
        }
    });
}

/// `up -d`: fork; the child deploys and stays, the parent relays progress until ready.
fn detach_and_run(
    plan: Plan,
    topology: PathBuf,
    check: bool,
    listen: super::Listen,
    lock: &state::LabLock,
) -> Result<(), Box<dyn std::error::Error>> {
    let (rd, wr) = nix::unistd::pipe()?;
    // SAFETY: the process is single-threaded here (no thread has been started yet), so the
    // child may run arbitrary code after fork.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => {
            drop(wr);
            let mut reader = std::io::BufReader::new(std::fs::File::from(rd));
            let mut line = String::new();
            let mut result = Err(DetachedDeployError::RuntimeExited);
            use std::io::BufRead;
            while {
                line.clear();
                reader.read_line(&mut line).unwrap_or(0) > 0
            } {
                if let Some(rest) = line.strip_prefix("@@READY") {
                    let _ = rest;
                    result = Ok(());
                    break;
                } else if let Some(err) = line.strip_prefix("@@FAILED ") {
                    result = Err(DetachedDeployError::Failed(err.trim_end().to_string()));
                    break;
                }
                print!("{line}");
            }
            if result.is_err() {
                // A failed deploy leaves no process behind: the runtime has cleaned up and is
                // exiting; wait for it, so the lab's lock is free when `up -d` returns.
                let _ = nix::sys::wait::waitpid(child, None);
            }
            result.map_err(|e| e.into())
        }
        nix::unistd::ForkResult::Child => {
            drop(rd);
            let _ = lock.record_pid();
            let _ = nix::unistd::setsid();
            redirect_stdio_to_null();
            block_signals();
            let wr: OwnedFd = wr;
            let progress = Progress {
                out: Box::new(std::fs::File::from(wr.try_clone()?)),
            };
            let ready_pipe = std::fs::File::from(wr);
            let code = match run(plan, topology, progress, Some(ready_pipe), check, listen) {
                Ok(()) => 0,
                Err(_) => 1,
            };
            std::process::exit(code);
        }
    }
}

fn redirect_stdio_to_null() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd;
        for fd in 0..3 {
            // SAFETY: dup2 on a valid open descriptor onto 0..2 only replaces stdio.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

/// Creates the lab, waits until every node is ready, then holds it until interrupted or
/// asked to go down. Everything made is removed again if the deploy fails.
fn run(
    plan: Plan,
    topology: PathBuf,
    mut progress: Progress,
    mut ready_pipe: Option<std::fs::File>,
    check: bool,
    listen: super::Listen,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    // Helper processes of a UML guest that dies are re-parented to us, so they can be reaped.
    let _ = umlvnf_guest::become_subreaper();
    let lab_dir = plan.lab_dir.clone();
    let mut st = LabState {
        lab: plan.lab.clone(),
        topology,
        supervisor: state::current_process(),
        phase: Phase::Deploying,
        started_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        owned: Owned::default(),
        guests: BTreeMap::new(),
        hosts: plan
            .host_nodes
            .iter()
            .map(|h| (h.node.clone(), h.netns.clone()))
            .collect(),
        links: plan.links.iter().map(super::link_record).collect(),
        control: lab_dir.join("control.sock"),
        metrics: None,
    };
    let outcome = deploy(&plan, &mut st, &mut progress, listen);
    let lab = match outcome {
        Ok(lab) => lab,
        Err(e) => {
            progress.line(&format!("deploy failed: {e}; removing what was created"));
            let problems = host_objects::remove(&plan.lab, &st.owned);
            for p in &problems {
                progress.line(&format!("cleanup: {p}"));
            }
            let _ = std::fs::remove_dir_all(&lab_dir);
            if let Some(p) = ready_pipe.as_mut() {
                let _ = writeln!(p, "@@FAILED {e}");
            }
            return Err(e.into());
        }
    };
    progress.line(&format!(
        "lab {} is up: {} guests, {} host nodes, {} links in {:.1} s",
        plan.lab,
        plan.guests.len(),
        plan.host_nodes.len(),
        plan.links.len(),
        started.elapsed().as_secs_f64()
    ));
    if check {
        reachability(&plan, &mut progress);
    }
    let me = std::env::args().next().unwrap_or_else(|| "umlvnf".into());
    // With other labs up (or other hosts' shares simulated here) every command needs --lab.
    let sel = if state::list_labs().len() > 1 {
        format!(" --lab {}", plan.lab)
    } else {
        String::new()
    };
    if let Some(g) = plan.guests.first() {
        progress.line(&format!(
            "  {me} exec{sel} {} -- ip route      # a command in a guest",
            g.node
        ));
    }
    if let [a, b, ..] = plan.host_nodes.as_slice() {
        if let Some(addr) = first_ipv4(b) {
            progress.line(&format!("  {me} exec{sel} {} -- ping -c 3 {addr}", a.node));
        }
    }
    progress.line(&format!(
        "  {me} inspect{sel} · {me} console{sel} NODE · {me} down --lab {}",
        plan.lab
    ));
    match ready_pipe.take() {
        Some(mut p) => {
            let _ = writeln!(p, "@@READY");
        }
        None => progress.line("Ctrl-C tears the lab down."),
    }
    drop(progress);
    let foreground = ready_pipe.is_none();
    lab.hold();
    if foreground {
        println!("lab {} is down", plan.lab);
    }
    Ok(())
}

/// The first IPv4 address of a host node, without its prefix length.
fn first_ipv4(h: &crate::plan::HostNodePlan) -> Option<String> {
    h.addresses
        .iter()
        .map(|(_, a)| a.split('/').next().unwrap_or(a).to_string())
        .find(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
}

/// Pings from every host node to every other one and prints the result with the hop count.
fn reachability(plan: &Plan, progress: &mut Progress) {
    for a in &plan.host_nodes {
        for b in &plan.host_nodes {
            let Some(addr) = first_ipv4(b).filter(|_| a.node != b.node) else {
                continue;
            };
            let out = umlvnf_host::command_in_netns(
                &a.netns,
                "ping",
                ["-c", "1", "-W", "2", addr.as_str()],
            )
            .stdin(std::process::Stdio::null())
            .output();
            let ttl = out
                .as_ref()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| {
                    let text = String::from_utf8_lossy(&o.stdout);
                    text.split("ttl=")
                        .nth(1)
                        .and_then(|t| t.split_whitespace().next())
                        .and_then(|t| t.parse::<u8>().ok())
                });
            progress.line(&match ttl {
                Some(t) => format!(
                    "check: {} -> {} ({addr}) reachable, ttl={t} ({} on the way)",
                    a.node,
                    b.node,
                    match 64u8.saturating_sub(t) {
                        1 => "1 router".to_string(),
                        n => format!("{n} routers"),
                    }
                ),
                None => format!("check: {} -> {} ({addr}) NOT reachable", a.node, b.node),
            });
        }
    }
}

/// Creates host objects, configures host nodes and boots guests.
fn deploy(
    plan: &Plan,
    st: &mut LabState,
    progress: &mut Progress,
    listen: super::Listen,
) -> Result<Arc<Lab>, RuntimeError> {
    let lab_dir = &plan.lab_dir;
    state::make_private_dir(&state::labs_dir())
        .map_err(RuntimeError::io("creating the labs directory"))?;
    state::make_private_dir(lab_dir).map_err(RuntimeError::io("creating the lab directory"))?;
    for sub in ["uml", "overlays", "config", "logs", "hostfs"] {
        state::make_private_dir(&lab_dir.join(sub))
            .map_err(RuntimeError::io("creating the lab directory"))?;
    }
    st.save(lab_dir)
        .map_err(RuntimeError::io("saving the lab state"))?;

    let mut socks = Sockets::default();
    host_objects::preflight(plan, &mut socks)?;
    let t = Instant::now();
    host_objects::create(plan, st, lab_dir, &mut socks)?;
    for h in &plan.host_nodes {
        host_objects::configure_host_node(h, &mut socks)?;
    }
    progress.line(&format!(
        "host: {} objects in {} ms",
        plan.host_steps.len(),
        t.elapsed().as_millis()
    ));
    interrupted()?;

    let lab = Lab::start(plan.clone(), st.clone())?;
    if let Err(e) = lab.boot_all(progress) {
        lab.stop_guests();
        *st = lab.state_snapshot();
        return Err(e);
    }
    for h in &plan.host_nodes {
        for cmd in &h.exec {
            let status = umlvnf_host::command_in_netns(&h.netns, "sh", ["-c", cmd.as_str()])
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(RuntimeError::io("running a host node command"))?;
            if !status.status.success() {
                lab.stop_guests();
                *st = lab.state_snapshot();
                return Err(RuntimeError::HostNode(format!(
                    "node `{}`: exec `{cmd}` failed ({}): {}",
                    h.node,
                    status.status,
                    String::from_utf8_lossy(&status.stderr).trim()
                )));
            }
        }
    }
    match super::metrics::serve(&lab, listen) {
        Ok(Some(addr)) => progress.line(&format!("metrics: http://{addr}/metrics")),
        Ok(None) => {}
        Err(e) => {
            lab.stop_guests();
            *st = lab.state_snapshot();
            return Err(RuntimeError::Metrics(e));
        }
    }
    lab.set_phase(Phase::Running);
    Ok(lab)
}

/// Fails when SIGINT or SIGTERM arrived.
pub(crate) fn interrupted() -> Result<(), RuntimeError> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err(RuntimeError::Interrupted)
    } else {
        Ok(())
    }
}

/// How a detached deploy (`up -d`) failed, as its runtime reported it through the pipe.
#[derive(Debug, thiserror::Error)]
enum DetachedDeployError {
    /// The runtime's pipe closed before it said ready or failed.
    #[error("the runtime exited during the deploy")]
    RuntimeExited,
    /// The runtime's own error message, as it printed it.
    #[error("{0}")]
    Failed(String),
}
