//! Process bookkeeping of the agent as init: reaping, signals, the console shell.
//!
//! The agent is single-threaded. Children are reaped only when [`Supervisor::reap`] runs
//! (never concurrently with `std::process::Command::spawn`/`wait`), so exit statuses of the
//! processes the agent waits for are recorded here instead of being lost to `waitpid(-1)`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Signals the agent takes through its signalfd.
const SIGNALS: [libc::c_int; 7] = [
    libc::SIGCHLD,
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGPWR,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Signals that power the guest off: SIGINT (ctrl-alt-del, `mconsole cad`), SIGPWR, and what
/// busybox `reboot`, `halt` and `poweroff` send to init (SIGTERM, SIGUSR1, SIGUSR2).
const POWEROFF_SIGNALS: [libc::c_int; 5] = [
    libc::SIGINT,
    libc::SIGPWR,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Reaps children, records the statuses of watched ones, receives signals and keeps the
/// interactive console shell running.
#[derive(Debug)]
pub struct Supervisor {
    /// pid → raw wait status once reaped.
    watched: HashMap<i32, Option<i32>>,
    /// Whether to reap every child (`waitpid(-1)`, as init) or only watched ones.
    reap_all: bool,
    /// signalfd for [`SIGNALS`], if enabled.
    sigfd: Option<OwnedFd>,
    /// Set when SIGINT (ctrl-alt-del) or SIGPWR arrived.
    poweroff_requested: bool,
    /// The console shell, if enabled.
    shell: Option<ConsoleShell>,
}

#[derive(Debug)]
struct ConsoleShell {
    console: String,
    pid: Option<i32>,
    started: Instant,
    next_start: Instant,
}

impl Supervisor {
    /// A supervisor that reaps every child (`reap_all`, for PID 1) or only the processes it
    /// spawned itself (for use inside another program, e.g. tests).
    pub fn new(reap_all: bool) -> Self {
        Supervisor {
            watched: HashMap::new(),
            reap_all,
            sigfd: None,
            poweroff_requested: false,
            shell: None,
        }
    }

    /// Blocks SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGPWR, SIGUSR1 and SIGUSR2 and receives them
    /// through a signalfd instead (SIGHUP is ignored). Call it before any other thread exists.
    pub fn enable_signalfd(&mut self) -> io::Result<()> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it before any other use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, exclusively borrowed sigset_t; the signal numbers are valid.
        unsafe {
            libc::sigemptyset(&mut set);
            for s in SIGNALS {
                libc::sigaddset(&mut set, s);
            }
        }
        // SAFETY: `set` is initialised; a null old-set pointer is allowed.
        if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: -1 asks for a new signalfd; `set` is initialised.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by signalfd and is owned by nobody else.
        self.sigfd = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        Ok(())
    }

    /// The fd to poll for readability; when readable, call [`Supervisor::on_wake`].
    pub fn wake_fd(&self) -> Option<RawFd> {
        self.sigfd.as_ref().map(|f| f.as_raw_fd())
    }

    /// Drains pending signals, reaps children and respawns the console shell if due.
    pub fn on_wake(&mut self) {
        if let Some(fd) = &self.sigfd {
            // SAFETY: signalfd_siginfo is plain data.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            loop {
                // SAFETY: `info` is a writable buffer of exactly `size` bytes; fd is valid.
                let n = unsafe {
                    libc::read(
                        fd.as_raw_fd(),
                        (&mut info as *mut libc::signalfd_siginfo).cast(),
                        size,
                    )
                };
                if n != size as isize {
                    break;
                }
                let signo = info.ssi_signo as libc::c_int;
                if POWEROFF_SIGNALS.contains(&signo) {
                    self.poweroff_requested = true;
                }
            }
        }
        self.reap();
        self.tick_shell();
    }

    /// Whether a signal asked for a clean poweroff: SIGINT (ctrl-alt-del), SIGPWR, or SIGTERM,
    /// SIGUSR1, SIGUSR2 (busybox `reboot`, `halt`, `poweroff`).
    pub fn poweroff_requested(&self) -> bool {
        self.poweroff_requested
    }

    /// Records the exit status of `pid` when it is reaped. Call right after spawning.
    pub fn watch(&mut self, pid: i32) {
        self.watched.insert(pid, None);
    }

    /// Takes the raw wait status of a watched `pid` once it has been reaped.
    pub fn take_status(&mut self, pid: i32) -> Option<i32> {
        match self.watched.get(&pid) {
            Some(Some(status)) => {
                let s = *status;
                self.watched.remove(&pid);
                Some(s)
            }
            _ => None,
        }
    }

    /// Stops watching `pid` (its status, if any, is dropped).
    pub fn forget(&mut self, pid: i32) {
        self.watched.remove(&pid);
    }

    /// Reaps exited children without blocking.
    pub fn reap(&mut self) {
        if self.reap_all {
            loop {
                let mut status = 0;
                // SAFETY: `status` is a valid out pointer; WNOHANG never blocks.
                let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
                if pid <= 0 {
                    break;
                }
                self.record(pid, status);
            }
        } else {
            let pending: Vec<i32> = self
                .watched
                .iter()
                .filter(|(_, s)| s.is_none())
                .map(|(p, _)| *p)
                .collect();
            for pid in pending {
                let mut status = 0;
                // SAFETY: `status` is a valid out pointer; WNOHANG never blocks.
                if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
                    self.record(pid, status);
                }
            }
        }
    }

    fn record(&mut self, pid: i32, status: i32) {
        if let Some(slot) = self.watched.get_mut(&pid) {
            *slot = Some(status);
        }
        if let Some(shell) = &mut self.shell {
            if shell.pid == Some(pid) {
                shell.pid = None;
                // Respawn at once, unless the shell died quickly (then wait a second).
                let quick = shell.started.elapsed() < Duration::from_secs(1);
                shell.next_start = Instant::now()
                    + if quick {
                        Duration::from_secs(1)
                    } else {
                        Duration::ZERO
                    };
            }
        }
    }

    /// Keeps an interactive shell (`/bin/bash` if present, else `/bin/sh`) on `console`, in
    /// its own session with `console` as controlling tty, respawned whenever it exits. The
    /// first one starts after `delay`, or at [`Supervisor::start_console_shell_now`].
    pub fn enable_console_shell(&mut self, console: &str, delay: Duration) {
        self.shell = Some(ConsoleShell {
            console: console.to_string(),
            pid: None,
            started: Instant::now(),
            next_start: Instant::now() + delay,
        });
        self.tick_shell();
    }

    /// Starts the console shell now if it is enabled and not running yet.
    pub fn start_console_shell_now(&mut self) {
        if let Some(shell) = &mut self.shell {
            shell.next_start = shell.next_start.min(Instant::now());
        }
        self.tick_shell();
    }

    /// How long until the console shell needs attention (for poll timeouts).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.shell
            .as_ref()
            .filter(|s| s.pid.is_none())
            .map(|s| s.next_start)
    }

    /// Starts the console shell if it is not running and its restart time has come.
    pub fn tick_shell(&mut self) {
        let Some(shell) = &mut self.shell else {
            return;
        };
        if shell.pid.is_some() || Instant::now() < shell.next_start {
            return;
        }
        shell.started = Instant::now();
        match spawn_shell(&shell.console) {
            Ok(pid) => shell.pid = Some(pid),
            Err(e) => {
                super::log(format_args!(
                    "cannot start a shell on {}: {e}",
                    shell.console
                ));
                shell.next_start = Instant::now() + Duration::from_secs(10);
            }
        }
    }

    /// Sends `signal` to every process but init, then reaps until none is left or `wait`
    /// passes.
    pub fn kill_all(&mut self, signal: libc::c_int, wait: Duration) {
        // An interactive shell ignores SIGTERM: hang up its session first.
        if let Some(pid) = self.shell.take().and_then(|s| s.pid) {
            // SAFETY: kill only sends a signal, to the shell's session (pgid == pid).
            unsafe { libc::kill(-pid, libc::SIGHUP) };
        }
        // SAFETY: kill(-1, sig) only sends a signal; it has no memory-safety preconditions.
        unsafe { libc::kill(-1, signal) };
        let end = Instant::now() + wait;
        while Instant::now() < end {
            let mut status = 0;
            // SAFETY: `status` is a valid out pointer; WNOHANG never blocks.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid < 0 {
                break; // ECHILD: nothing left
            }
            if pid == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Makes `cmd` start with an empty signal mask. The agent blocks the signals it reads through
/// its signalfd, and a blocked mask is inherited across fork and exec (std does not reset it).
pub fn unblock_signals_in_child(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only calls sigemptyset and
    // sigprocmask on a local set, which are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn spawn_shell(console: &str) -> io::Result<i32> {
    let shell = if Path::new("/bin/bash").exists() {
        "/bin/bash"
    } else {
        "/bin/sh"
    };
    let tty: File = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(console)?;
    let out = tty.try_clone()?;
    let err = tty.try_clone()?;
    let mut cmd = Command::new(shell);
    cmd.stdin(Stdio::from(tty))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .current_dir("/")
        .env("TERM", "vt100");
    unblock_signals_in_child(&mut cmd);
    // SAFETY: the closure runs in the forked child before exec and only calls setsid and
    // ioctl, which are async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY, 1) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    Ok(child.id() as i32)
}
