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
use umlvnf_agent::client::AgentClient;
use umlvnf_agent::config::{FileConfig, GuestConfig, InterfaceConfig, RouteConfig};
use umlvnf_guest::{spawn, ConsolePump, Notification, NotifySocket, UmlCommand};
use umlvnf_topology::RestartPolicy;

use crate::plan::{GuestPlan, Plan};
use crate::state::{GuestRecord, ProcRef};

use super::deploy::INTERRUPTED;
use super::RuntimeError;

/// How long a guest may take from start to a ready agent.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a graceful stop (ctrl-alt-del, then halt) may take before signals.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Routes mconsole readiness notifications to the guest whose socket they name.
pub struct Notifier {
    subscribers: Arc<Mutex<HashMap<PathBuf, Sender<()>>>>,
}

impl Notifier {
    /// Binds the lab's notify socket and starts routing.
    pub fn bind(path: &Path) -> Result<Notifier, RuntimeError> {
        let socket = NotifySocket::bind(path).map_err(|e| RuntimeError::Io {
            what: format!("binding {}", path.display()),
            source: std::io::Error::other(e.to_string()),
        })?;
        let subscribers: Arc<Mutex<HashMap<PathBuf, Sender<()>>>> = Arc::default();
        let subs = subscribers.clone();
        std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || loop {
                match socket.recv(Duration::from_secs(1)) {
                    Ok(Some(Notification::SocketReady { mconsole })) => {
                        if let Some(tx) = subs
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get(&mconsole)
                        {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Some(Notification::Panic { message })) => {
                        eprintln!("a guest panicked: {message}");
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            })
            .map_err(RuntimeError::io("starting the notify thread"))?;
        Ok(Notifier { subscribers })
    }

    /// Receives a message each time the guest with this mconsole socket reports ready.
    pub fn subscribe(&self, mconsole: &Path) -> Receiver<()> {
        let (tx, rx) = channel();
        self.subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(mconsole.to_path_buf(), tx);
        rx
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
    ready: Mutex<Receiver<()>>,
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
        ready: Receiver<()>,
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
            ready: Mutex::new(ready),
            stopping,
            live: Mutex::new(Live {
                process: None,
                record: GuestRecord {
                    state: "created".into(),
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

    fn set_state(&self, state: &str, error: Option<String>) {
        let mut live = self.lock_live();
        live.record.state = state.to_string();
        live.record.error = error;
    }

    /// Starts the UML process and waits for the kernel (mconsole notification) and then the
    /// agent (configuration applied). Returns the seconds it took.
    pub fn boot(&self) -> Result<f64, RuntimeError> {
        let t0 = Instant::now();
        self.set_state("booting", None);
        match self.boot_inner(t0) {
            Ok(()) => {
                let secs = t0.elapsed().as_secs_f64();
                let mut live = self.lock_live();
                live.record.boot_seconds = Some(secs);
                live.record.state = "ready".into();
                live.record.error = None;
                Ok(secs)
            }
            Err(message) => {
                let tail = self.console_tail();
                self.kill();
                let message = if tail.is_empty() {
                    message
                } else {
                    format!(
                        "{message}\n--- last console output of {} ---\n{tail}",
                        self.plan.node
                    )
                };
                self.set_state("failed", Some(message.clone()));
                Err(RuntimeError::Guest {
                    node: self.plan.node.clone(),
                    message,
                })
            }
        }
    }

    fn boot_inner(&self, t0: Instant) -> Result<(), String> {
        // A stale COW from an earlier boot is kept: a restart resumes the same disk.
        let _ = std::fs::remove_file(&self.mconsole);
        let tmpdir = PathBuf::from(
            std::env::var_os("UMLVNF_GUEST_TMPDIR").unwrap_or_else(|| "/dev/shm".into()),
        );
        umlvnf_guest::check_tmpdir(&tmpdir, self.plan.memory).map_err(|e| e.to_string())?;
        // Drain readiness messages from an earlier boot.
        let ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        while ready.try_recv().is_ok() {}
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
            match ready.recv_timeout(Duration::from_millis(200)) {
                Ok(()) => break,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the notify socket closed".into())
                }
            }
            self.check_running(t0)?;
        }
        drop(ready);
        let mut client = AgentClient::new(child.agent).with_node(self.plan.node.clone());
        let remaining = BOOT_TIMEOUT.saturating_sub(t0.elapsed());
        client
            .wait_ready(remaining)
            .map_err(|e| format!("the agent did not report ready: {e}"))?;
        *self.agent.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
        Ok(())
    }

    fn check_running(&self, t0: Instant) -> Result<(), String> {
        if let Some(code) = self.reap() {
            return Err(format!(
                "the UML process exited with status {code} during boot"
            ));
        }
        if INTERRUPTED.load(Ordering::SeqCst) || self.stopping.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        if t0.elapsed() > BOOT_TIMEOUT {
            return Err(format!(
                "no mconsole notification within {} s",
                BOOT_TIMEOUT.as_secs()
            ));
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
        self.set_state("stopped", None);
    }

    /// Watches the running guest and restarts it by its policy until the lab stops.
    pub fn watch(&self, on_change: &dyn Fn()) {
        let mut backoff = Duration::from_secs(1);
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            let Some(code) = self.reap() else {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
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
            if !restart {
                let state = if code == 0 { "stopped" } else { "failed" };
                self.set_state(
                    state,
                    Some(format!("the UML process exited with status {code}")),
                );
                on_change();
                return;
            }
            if ran_for > Duration::from_secs(60) {
                backoff = Duration::from_secs(1);
            }
            self.set_state(
                "restarting",
                Some(format!(
                    "the UML process exited with status {code}; restarting in {} s",
                    backoff.as_secs()
                )),
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
    ) -> Result<T, String> {
        let mut agent = self.agent.lock().unwrap_or_else(|p| p.into_inner());
        match agent.as_mut() {
            Some(client) => f(client).map_err(|e| format!("node `{}`: {e}", self.plan.node)),
            None => Err(format!(
                "node `{}` of lab `{}` is not ready (state: {})",
                self.plan.node,
                self.lab,
                self.lock_live().record.state
            )),
        }
    }

    /// Runs a command in the guest.
    pub fn exec(
        &self,
        argv: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<(i32, Vec<u8>, Vec<u8>), String> {
        self.with_agent(|c| c.exec(argv, stdin, timeout))
            .map(|o| (o.status, o.stdout, o.stderr))
    }

    /// Writes a file into the guest.
    pub fn put(&self, path: &str, mode: u32, data: &[u8]) -> Result<(), String> {
        self.with_agent(|c| c.put_file(path, mode, data, Duration::from_secs(60)))
    }

    /// Reads a file from the guest.
    pub fn get(&self, path: &str) -> Result<Vec<u8>, String> {
        self.with_agent(|c| c.get_file(path, Duration::from_secs(60)))
    }

    /// Relays a client to the guest console until it disconnects.
    pub fn attach_console(&self, client: UnixStream) -> Result<(), String> {
        let console = self.console.lock().unwrap_or_else(|p| p.into_inner());
        match console.as_ref() {
            Some(c) => c.attach(client).map_err(|e| e.to_string()),
            None => Err(format!("node `{}` has no console yet", self.plan.node)),
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
