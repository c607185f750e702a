//! One UML guest under supervision: boot, readiness, exec, console, restart, stop.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use umlvnf_agent::client::{AgentClient, AgentError};
use umlvnf_agent::config::{FileConfig, GuestConfig, InterfaceConfig, RouteConfig};
use umlvnf_guest::{spawn, ConsolePump, Notification, NotifySocket, UmlCommand};
use umlvnf_topology::RestartPolicy;

use crate::plan::{GuestPlan, Plan};
use crate::state::{GuestRecord, ProcRef};
use umlvnf_lab::NodeState;

use super::progress::INTERRUPTED;
use super::RuntimeError;

/// How long a guest may take from start to a ready agent.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// How often a booting guest is checked for a panic, an exit or an interruption.
const BOOT_POLL: Duration = Duration::from_millis(200);
/// How long an exited guest's panic report is waited for, to name the panic in the error.
const PANIC_GRACE: Duration = Duration::from_millis(300);
/// How long a graceful stop (ctrl-alt-del, then halt) may take before signals.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a guest whose UML process is stopped (SIGSTOP, a debugger) stays `unresponsive`
/// before a restart policy other than `no` kills and restarts it.
pub const UNRESPONSIVE_LIMIT: Duration = Duration::from_secs(20);
/// How often a running guest's process state is looked at.
const RESPONSIVE_CHECK: Duration = Duration::from_secs(1);

/// What the notify socket reported about one guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootEvent {
    /// The guest's mconsole socket is up (the kernel is running, before init).
    Ready,
    /// The guest kernel panicked; the text is the panic message.
    Panicked(String),
}

/// Routes mconsole notifications to the guest they concern: readiness by the mconsole socket
/// it names, a panic by the process that sent it.
pub struct Notifier {
    routes: Arc<Mutex<Routes>>,
}

#[derive(Default)]
struct Routes {
    by_socket: HashMap<PathBuf, Sender<BootEvent>>,
    by_pid: HashMap<i32, PathBuf>,
}

impl Notifier {
    /// Binds the lab's notify socket and starts routing.
    pub fn bind(path: &Path) -> Result<Notifier, RuntimeError> {
        let socket = NotifySocket::bind(path).map_err(|e| RuntimeError::Io {
            what: format!("binding {}", path.display()),
            source: std::io::Error::other(e.to_string()),
        })?;
        let routes: Arc<Mutex<Routes>> = Arc::default();
        let shared = routes.clone();
        std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || loop {
                let received = match socket.recv_from(Duration::from_secs(1)) {
                    Ok(Some(r)) => r,
                    Ok(None) => continue,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                };
                let routes = shared.lock().unwrap_or_else(|p| p.into_inner());
                let (socket_path, event) = match received.notification {
                    Notification::SocketReady { mconsole } => (Some(mconsole), BootEvent::Ready),
                    Notification::Panic { message } => (
                        received
                            .sender_pid
                            .and_then(|pid| routes.by_pid.get(&pid).cloned()),
                        BootEvent::Panicked(message.trim_end().to_string()),
                    ),
                    _ => continue,
                };
                match socket_path.as_ref().and_then(|m| routes.by_socket.get(m)) {
                    Some(tx) => {
                        let _ = tx.send(event);
                    }
                    None => {
                        if let BootEvent::Panicked(message) = event {
                            eprintln!("a guest of this lab panicked: {message}");
                        }
                    }
                }
            })
            .map_err(RuntimeError::io("starting the notify thread"))?;
        Ok(Notifier { routes })
    }

    /// Receives the notifications of the guest with this mconsole socket.
    pub fn subscribe(&self, mconsole: &Path) -> Subscription {
        let (tx, rx) = channel();
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_socket
            .insert(mconsole.to_path_buf(), tx);
        Subscription {
            events: rx,
            mconsole: mconsole.to_path_buf(),
            routes: self.routes.clone(),
        }
    }
}

/// One guest's notifications.
pub struct Subscription {
    events: Receiver<BootEvent>,
    mconsole: PathBuf,
    routes: Arc<Mutex<Routes>>,
}

impl Subscription {
    /// Routes the panics that process `pid` reports to this guest (a panic message does not
    /// name its guest; the sender's pid does).
    fn track(&self, pid: i32) {
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_pid
            .insert(pid, self.mconsole.clone());
    }
}

struct Live {
    process: Option<ProcRef>,
    record: GuestRecord,
    exit: Option<i32>,
    started: Option<Instant>,
}

/// A guest and everything the runtime holds for it.
pub struct Guest {
    plan: GuestPlan,
    lab: String,
    mconsole: PathBuf,
    /// The guest's notifications (mconsole socket ready, kernel panic).
    notices: Mutex<Subscription>,
    stopping: Arc<AtomicBool>,
    live: Mutex<Live>,
    agent: Mutex<Option<AgentClient<UnixStream>>>,
    console: Mutex<Option<ConsolePump>>,
}

impl Guest {
    /// Prepares a guest: writes its config drive; nothing runs yet.
    pub fn new(
        lab: &Plan,
        plan: GuestPlan,
        notices: Subscription,
        stopping: Arc<AtomicBool>,
    ) -> Result<Guest, RuntimeError> {
        let config = guest_config(&lab.lab, &plan)?;
        umlvnf_agent::config_drive::write(&plan.config_drive, &config)
            .map_err(RuntimeError::io("writing a config drive"))?;
        if !plan.hostfs_shared {
            crate::state::make_private_dir(&plan.hostfs_dir)
                .map_err(RuntimeError::io("creating the hostfs directory"))?;
        }
        Ok(Guest {
            mconsole: lab.lab_dir.join("uml").join(&plan.node).join("mconsole"),
            lab: lab.lab.clone(),
            plan,
            notices: Mutex::new(notices),
            stopping,
            live: Mutex::new(Live {
                process: None,
                record: GuestRecord {
                    state: NodeState::Created,
                    ..GuestRecord::default()
                },
                exit: None,
                started: None,
            }),
            agent: Mutex::new(None),
            console: Mutex::new(None),
        })
    }

    /// The node name.
    pub fn node(&self) -> &str {
        &self.plan.node
    }

    /// The live record for the state file and `inspect`.
    pub fn record(&self) -> GuestRecord {
        self.lock_live().record.clone()
    }

    fn lock_live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_state(&self, state: NodeState, error: Option<String>) {
        let mut live = self.lock_live();
        live.record.state = state;
        live.record.error = error;
    }

    /// Starts the UML process and waits for the kernel (mconsole notification) and then the
    /// agent (configuration applied).
    ///
    /// A kernel that panics or exits before its agent reports is booted once more when the
    /// node's restart policy allows restarts; [`Booted::retried_after`] then says why.
    pub fn boot(&self) -> Result<Booted, RuntimeError> {
        let t0 = Instant::now();
        self.set_state(NodeState::Booting, None);
        let mut retried_after = None;
        loop {
            match self.boot_inner(Instant::now()) {
                Ok(()) => {
                    let seconds = t0.elapsed().as_secs_f64();
                    let mut live = self.lock_live();
                    live.record.boot_seconds = Some(seconds);
                    live.record.state = NodeState::Ready;
                    live.record.error = None;
                    return Ok(Booted {
                        seconds,
                        retried_after,
                    });
                }
                Err(failure) => {
                    self.kill();
                    let may_retry = failure.kernel_died
                        && retried_after.is_none()
                        && self.plan.restart != RestartPolicy::No
                        && !self.stopping.load(Ordering::SeqCst);
                    if may_retry {
                        retried_after = Some(failure.message);
                        continue;
                    }
                    let tail = self.console_tail();
                    let mut message = failure.message;
                    if let Some(first) = &retried_after {
                        message = format!("{message} (after a first boot that failed: {first})");
                    }
                    if !tail.is_empty() {
                        message = format!(
                            "{message}\n--- last console output of {} ---\n{tail}",
                            self.plan.node
                        );
                    }
                    self.set_state(NodeState::Failed, Some(message.clone()));
                    return Err(RuntimeError::Guest {
                        node: self.plan.node.clone(),
                        message,
                    });
                }
            }
        }
    }

    fn boot_inner(&self, t0: Instant) -> Result<(), BootFailure> {
        // A stale COW from an earlier boot is kept: a restart resumes the same disk.
        let _ = std::fs::remove_file(&self.mconsole);
        let tmpdir = PathBuf::from(
            std::env::var_os("UMLVNF_GUEST_TMPDIR").unwrap_or_else(|| "/dev/shm".into()),
        );
        umlvnf_guest::check_tmpdir(&tmpdir, self.plan.memory).map_err(|e| e.to_string())?;
        // Drain readiness messages from an earlier boot.
        let notices = self.notices.lock().unwrap_or_else(|p| p.into_inner());
        while notices.events.try_recv().is_ok() {}
        let child = spawn(&UmlCommand {
            argv: self.plan.argv.clone(),
            log: self.plan.log.clone(),
            tmpdir,
            cpus: self.plan.cpus.clone(),
            keep_caps: Some(
                self.plan
                    .capabilities
                    .iter()
                    .filter_map(|c| umlvnf_guest::capability_number(c))
                    .collect(),
            ),
            ..UmlCommand::default()
        })
        .map_err(|e| format!("starting {} failed: {e}", self.plan.argv[0]))?;
        notices.track(child.pid.pid);
        {
            let mut live = self.lock_live();
            live.process = Some(child.pid);
            live.record.process = live.process;
            live.exit = None;
            live.started = Some(Instant::now());
        }
        let pump = ConsolePump::start(child.console, &self.plan.console_log)
            .map_err(|e| format!("console: {e}"))?;
        *self.console.lock().unwrap_or_else(|p| p.into_inner()) = Some(pump);

        // The kernel is up when it reports its mconsole socket.
        loop {
            match notices.events.recv_timeout(BOOT_POLL) {
                Ok(BootEvent::Ready) => break,
                Ok(BootEvent::Panicked(message)) => return Err(BootFailure::panicked(&message)),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the notify socket closed".to_string().into())
                }
            }
            self.check_running(t0, &notices.events)?;
        }
        // Then the agent applies the configuration. It is waited for in short slices: a guest
        // that panics or dies meanwhile fails its boot at once (after a panic, UML's helper
        // processes keep the agent's console open, so its end alone says nothing).
        let mut client = AgentClient::new(child.agent).with_node(self.plan.node.clone());
        loop {
            match client.wait_ready(BOOT_POLL) {
                Ok(()) => break,
                Err(AgentError::Timeout { .. }) => {}
                Err(e) => {
                    // The channel ends when the guest dies: say how it died, if it does.
                    let end = Instant::now() + Duration::from_secs(3);
                    while Instant::now() < end {
                        self.check_running(t0, &notices.events)?;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    return Err(format!("the agent did not report ready: {e}").into());
                }
            }
            self.check_running(t0, &notices.events)?;
        }
        *self.agent.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
        Ok(())
    }

    /// Fails the boot attempt if the guest reported a panic, its process ended, a stop was
    /// asked for, or the boot timeout ran out.
    fn check_running(&self, t0: Instant, events: &Receiver<BootEvent>) -> Result<(), BootFailure> {
        if let Ok(BootEvent::Panicked(message)) = events.try_recv() {
            return Err(BootFailure::panicked(&message));
        }
        if let Some(code) = self.reap() {
            if let Some(message) = panic_report(events) {
                return Err(BootFailure::panicked(&message));
            }
            return Err(BootFailure {
                message: format!("the UML process exited with status {code} during boot"),
                kernel_died: true,
            });
        }
        if INTERRUPTED.load(Ordering::SeqCst) || self.stopping.load(Ordering::SeqCst) {
            return Err("interrupted".to_string().into());
        }
        if t0.elapsed() > BOOT_TIMEOUT {
            return Err(format!(
                "the guest was not ready within {} s (kernel booted and agent configured)",
                BOOT_TIMEOUT.as_secs()
            )
            .into());
        }
        Ok(())
    }

    /// Reaps the UML process if it has exited; returns its status (128+signal if killed).
    fn reap(&self) -> Option<i32> {
        let mut live = self.lock_live();
        if live.exit.is_some() {
            return live.exit;
        }
        let pid = live.process?.pid;
        let code = match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => code,
            Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
            Ok(_) => return None,
            // Not our child (or already reaped): judge by /proc.
            Err(_) => {
                if live.process.is_some_and(|p| p.is_alive()) {
                    return None;
                }
                255
            }
        };
        // UML's helper processes (one per guest address space) outlive a killed main process
        // and keep its disks locked: end the whole group before anything else happens.
        let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
        if let Some(p) = live.process {
            let gid = umlvnf_guest::ProcessId {
                pid: p.pid,
                start_time: p.start_time,
            };
            umlvnf_guest::wait_group_gone(&gid, Duration::from_secs(5));
        }
        live.exit = Some(code);
        live.process = None;
        live.record.process = None;
        Some(code)
    }

    fn console_tail(&self) -> String {
        self.console
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|c| String::from_utf8_lossy(&c.tail(2000)).into_owned())
            .unwrap_or_default()
    }

    /// Kills the guest's whole process group at once and reaps it.
    fn kill(&self) {
        let process = self.lock_live().process;
        if let Some(p) = process {
            let _ = nix::sys::signal::killpg(Pid::from_raw(p.pid), Signal::SIGKILL);
            let end = Instant::now() + Duration::from_secs(5);
            while self.reap().is_none() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        *self.agent.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Stops the guest: ctrl-alt-del (the agent powers off), then halt, then signals to its
    /// process group (`umlvnf_guest::stop`), and records how it ended.
    pub fn stop(&self) {
        let process = self.lock_live().process;
        if let Some(p) = process.filter(|_| self.reap().is_none()) {
            let outcome = umlvnf_guest::stop(&p, &self.mconsole, STOP_GRACE);
            let mut live = self.lock_live();
            live.exit = Some(outcome.status.map_or(255, exit_code));
            live.process = None;
            live.record.process = None;
        }
        *self.agent.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.set_state(NodeState::Stopped, None);
    }

    /// Marks the guest `unresponsive` while its UML process is stopped, back to `ready` when
    /// it runs again, and kills it for a restart once it stayed stopped for
    /// [`UNRESPONSIVE_LIMIT`] under a restart policy other than `no`. Returns true if it killed.
    fn check_responsive(&self, stopped_since: &mut Option<Instant>, on_change: &dyn Fn()) -> bool {
        let Some(pid) = self.lock_live().process.map(|p| p.pid) else {
            return false;
        };
        let restarts = self.plan.restart != RestartPolicy::No;
        match (process_stopped(pid), *stopped_since) {
            (true, None) => {
                *stopped_since = Some(Instant::now());
                self.set_state(
                    NodeState::Unresponsive,
                    Some(format!(
                        "the UML process {pid} is stopped (SIGSTOP or a debugger), so the guest answers nothing{}",
                        if restarts {
                            format!("; it is restarted if it stays so for {} s", UNRESPONSIVE_LIMIT.as_secs())
                        } else {
                            " (restart: no keeps it as it is)".to_string()
                        }
                    )),
                );
                on_change();
            }
            (true, Some(t)) if restarts && t.elapsed() >= UNRESPONSIVE_LIMIT => {
                *stopped_since = None;
                let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
                return true;
            }
            (false, Some(_)) => {
                *stopped_since = None;
                if self.lock_live().record.state == NodeState::Unresponsive {
                    self.set_state(NodeState::Ready, None);
                    on_change();
                }
            }
            _ => {}
        }
        false
    }

    /// Watches the running guest and restarts it by its policy until the lab stops.
    pub fn watch(&self, on_change: &dyn Fn()) {
        let mut backoff = Duration::from_secs(1);
        let mut stopped_since = None;
        let mut killed_unresponsive = false;
        let mut last_check = Instant::now();
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            let Some(code) = self.reap() else {
                if last_check.elapsed() >= RESPONSIVE_CHECK {
                    last_check = Instant::now();
                    killed_unresponsive |= self.check_responsive(&mut stopped_since, on_change);
                }
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
            stopped_since = None;
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            *self.agent.lock().unwrap_or_else(|p| p.into_inner()) = None;
            let ran_for = self
                .lock_live()
                .started
                .map(|s| s.elapsed())
                .unwrap_or_default();
            let restart = match self.plan.restart {
                RestartPolicy::No => false,
                RestartPolicy::OnFailure => code != 0,
                RestartPolicy::Always => true,
            };
            let exited = match panic_report(
                &self
                    .notices
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .events,
            ) {
                Some(message) => {
                    format!("the guest kernel panicked ({message}); the UML process exited with status {code}")
                }
                None if std::mem::take(&mut killed_unresponsive) => format!(
                    "the UML process was killed after {} s stopped (unresponsive)",
                    UNRESPONSIVE_LIMIT.as_secs()
                ),
                None => format!("the UML process exited with status {code}"),
            };
            self.lock_live().record.last_exit = Some(exited.clone());
            if !restart {
                let state = if code == 0 {
                    NodeState::Stopped
                } else {
                    NodeState::Failed
                };
                self.set_state(state, Some(exited));
                on_change();
                return;
            }
            if ran_for > Duration::from_secs(60) {
                backoff = Duration::from_secs(1);
            }
            self.set_state(
                NodeState::Restarting,
                Some(format!("{exited}; restarting in {} s", backoff.as_secs())),
            );
            on_change();
            let end = Instant::now() + backoff;
            while Instant::now() < end {
                if self.stopping.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
            self.lock_live().record.restarts += 1;
            let _ = self.boot();
            on_change();
        }
    }

    fn with_agent<T>(
        &self,
        f: impl FnOnce(&mut AgentClient<UnixStream>) -> Result<T, umlvnf_agent::client::AgentError>,
    ) -> Result<T, GuestError> {
        {
            let live = self.lock_live();
            if live.record.state == NodeState::Unresponsive {
                return Err(GuestError::Unresponsive {
                    node: self.plan.node.clone(),
                    lab: self.lab.clone(),
                    why: live
                        .record
                        .error
                        .clone()
                        .unwrap_or_else(|| "its UML process is stopped".into()),
                });
            }
        }
        let mut agent = self.agent.lock().unwrap_or_else(|p| p.into_inner());
        match agent.as_mut() {
            Some(client) => f(client).map_err(|source| GuestError::Agent {
                node: self.plan.node.clone(),
                source,
            }),
            None => Err(GuestError::NotReady {
                node: self.plan.node.clone(),
                lab: self.lab.clone(),
                state: self.lock_live().record.state,
            }),
        }
    }

    /// Runs a command in the guest.
    pub fn exec(
        &self,
        argv: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<(i32, Vec<u8>, Vec<u8>), GuestError> {
        self.with_agent(|c| c.exec(argv, stdin, timeout))
            .map(|o| (o.status, o.stdout, o.stderr))
    }

    /// The guest's interface statistics report (see `AgentClient::net_stats`).
    pub fn net_stats(&self, timeout: Duration) -> Result<String, GuestError> {
        self.with_agent(|c| c.net_stats(timeout))
    }

    /// Writes a file into the guest.
    pub fn put(&self, path: &str, mode: u32, data: &[u8]) -> Result<(), GuestError> {
        self.with_agent(|c| c.put_file(path, mode, data, Duration::from_secs(60)))
    }

    /// Reads a file from the guest.
    pub fn get(&self, path: &str) -> Result<Vec<u8>, GuestError> {
        self.with_agent(|c| c.get_file(path, Duration::from_secs(60)))
    }

    /// Relays a client to the guest console until it disconnects.
    pub fn attach_console(&self, client: UnixStream) -> Result<(), GuestError> {
        let console = self.console.lock().unwrap_or_else(|p| p.into_inner());
        match console.as_ref() {
            Some(c) => c.attach(client).map_err(GuestError::Console),
            None => Err(GuestError::NoConsole {
                node: self.plan.node.clone(),
            }),
        }
    }
}

/// Why a request to a running guest (exec, file copy, console, statistics) failed.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// Its UML process is stopped, so its agent answers nothing.
    #[error("node `{node}` of lab `{lab}` is unresponsive: {why}")]
    Unresponsive {
        /// The guest.
        node: String,
        /// Its lab.
        lab: String,
        /// Why, as recorded.
        why: String,
    },
    /// Its agent is not connected yet (or any more).
    #[error("node `{node}` of lab `{lab}` is not ready (state: {state})")]
    NotReady {
        /// The guest.
        node: String,
        /// Its lab.
        lab: String,
        /// Where it is in its life.
        state: NodeState,
    },
    /// The agent refused or failed the request.
    #[error("node `{node}`: {source}")]
    Agent {
        /// The guest.
        node: String,
        /// The agent's error.
        source: umlvnf_agent::client::AgentError,
    },
    /// The guest has not started its console yet.
    #[error("node `{node}` has no console yet")]
    NoConsole {
        /// The guest.
        node: String,
    },
    /// The console could not be attached.
    #[error("{0}")]
    Console(umlvnf_guest::ConsoleError),
    /// The node named is not a UML guest of the lab.
    #[error("`{0}` is not a guest")]
    NotAGuest(String),
}

/// True if process `pid` is stopped (`T`, or `t` under a tracer), from `/proc/PID/stat`.
fn process_stopped(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace()
                .next()
                .map(|st| st == "T" || st == "t")
        })
        .unwrap_or(false)
}

/// The panic message of a guest whose process just exited, if it reported one. A panicking
/// kernel reports before it aborts, but the report may still be on its way through the notify
/// thread: it is waited for up to [`PANIC_GRACE`].
fn panic_report(events: &Receiver<BootEvent>) -> Option<String> {
    let end = Instant::now() + PANIC_GRACE;
    while let Ok(event) = events.recv_timeout(end.saturating_duration_since(Instant::now())) {
        if let BootEvent::Panicked(message) = event {
            return Some(message);
        }
    }
    None
}

/// A guest that booted, and whether it took a second boot.
#[derive(Debug, Clone)]
pub struct Booted {
    /// Seconds from the first start to a ready agent.
    pub seconds: f64,
    /// Why the first boot failed, when the guest was booted a second time.
    pub retried_after: Option<String>,
}

/// Why one boot attempt failed.
struct BootFailure {
    message: String,
    /// The kernel panicked or its process ended (as opposed to a configuration that failed,
    /// a timeout or an interruption): booting again may succeed.
    kernel_died: bool,
}

impl BootFailure {
    fn panicked(message: &str) -> BootFailure {
        BootFailure {
            message: format!("the guest kernel panicked during boot: {message}"),
            kernel_died: true,
        }
    }
}

impl From<String> for BootFailure {
    fn from(message: String) -> BootFailure {
        BootFailure {
            message,
            kernel_died: false,
        }
    }
}

/// An exit status as a shell reports it (128 + signal when killed).
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// The agent's configuration of a guest, with the files it copies read now.
fn guest_config(lab: &str, g: &GuestPlan) -> Result<GuestConfig, RuntimeError> {
    let mut files = Vec::new();
    for (src, dst, mode) in &g.setup.files {
        let data = std::fs::read(src).map_err(|source| RuntimeError::Io {
            what: format!("node `{}`: reading {}", g.node, src.display()),
            source,
        })?;
        files.push(FileConfig {
            path: dst.clone(),
            mode: *mode,
            data,
        });
    }
    Ok(GuestConfig {
        lab: lab.to_string(),
        node: g.node.clone(),
        hostname: g.node.clone(),
        modules: g.setup.modules.clone(),
        interfaces: g
            .setup
            .interfaces
            .iter()
            .map(|i| InterfaceConfig {
                device: i.device.clone(),
                name: i.name.clone(),
                mtu: i.mtu,
                ipv4: i.ipv4.clone(),
                ipv6: i.ipv6.clone(),
                keepalive: i.keepalive,
            })
            .collect(),
        routes: g
            .setup
            .routes
            .iter()
            .map(|r| RouteConfig {
                route: r.to_string(),
                v6: r.v6,
            })
            .collect(),
        sysctls: g.setup.sysctls.clone(),
        nftables: g.setup.nftables.clone(),
        iptables: g.setup.iptables.clone(),
        ip6tables: g.setup.ip6tables.clone(),
        files,
        exec: g.setup.exec.clone(),
    })
}
