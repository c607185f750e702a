//! The guest side: what `umlvnf-agent` does as PID 1 inside a UML guest.
//!
//! Boot sequence ([`run`]): mount the API filesystems, take ctrl-alt-del as SIGINT, receive
//! signals through a signalfd, start the console shell, open `/dev/tty1` in raw mode (the
//! agent channel), read the config drive from `/dev/ubdb`, set the hostname, apply the
//! configuration ([`apply::apply`]) and report `ready` or `failed`, then serve requests one at a
//! time forever. SIGINT (ctrl-alt-del), SIGPWR, SIGTERM, SIGUSR1 or SIGUSR2 (busybox
//! `reboot`/`halt`/`poweroff`) power the guest off cleanly ([`init::poweroff`]).

pub mod apply;
pub mod exec;
pub mod files;
pub mod init;
pub mod keepalive;
pub mod netstats;
pub mod serve;
pub mod step;
pub mod supervisor;
pub mod xtables;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config_drive;
use crate::protocol::{encode_line, Event};
use supervisor::Supervisor;

/// The agent channel inside the guest (console 1, `con1=fd:3` on the host).
pub const AGENT_TTY: &str = "/dev/tty1";
/// The config drive inside the guest (`ubd1=` on the host).
pub const CONFIG_DRIVE: &str = "/dev/ubdb";
/// Where the interactive shell runs (console 0).
pub const CONSOLE: &str = "/dev/console";
/// How long the console shell waits for the configuration to be applied before it starts.
pub const SHELL_DELAY: Duration = Duration::from_secs(2);
/// `PATH` for the agent and everything it starts.
pub const PATH: &str = "/sbin:/bin:/usr/sbin:/usr/bin";

/// Logs a line to the console (stderr); errors are ignored (init must not panic).
pub(crate) fn log(msg: impl std::fmt::Display) {
    let _ = writeln!(io::stderr(), "umlvnf-agent: {msg}");
}

/// Writes one event line to the agent channel.
fn send(tty: &mut File, event: &Event) {
    if let Err(e) = tty.write_all(&encode_line(event)) {
        log(format_args!("writing to {AGENT_TTY} failed: {e}"));
    }
}

/// Runs the agent as init. Never returns.
pub fn run() -> ! {
    // The kernel passes unknown boot parameters to init as environment variables: start
    // every command from a clean, known environment instead.
    for (key, _) in std::env::vars_os() {
        std::env::remove_var(key);
    }
    std::env::set_var("PATH", PATH);
    std::env::set_var("HOME", "/root");
    let mount_errors = init::mount_filesystems();
    init::ensure_std_fds();
    for e in &mount_errors {
        log(e);
    }
    // SAFETY: umask has no preconditions.
    unsafe { libc::umask(0o022) };
    if let Err(e) = init::disable_ctrl_alt_del() {
        log(format_args!(
            "cannot take ctrl-alt-del as a signal ({e}); `mconsole cad` will reboot at once"
        ));
    }
    let mut sup = Supervisor::new(true);
    if let Err(e) = sup.enable_signalfd() {
        log(format_args!(
            "cannot receive signals through a signalfd: {e}"
        ));
    }
    // The console shell first, so that a guest whose agent channel is missing can still be
    // debugged from the console.
    // The console shell waits for the configuration (a hundred guests booting at once share
    // the host's cores), unless applying it takes long: then it helps to look inside.
    sup.enable_console_shell(CONSOLE, SHELL_DELAY);

    let mut tty = loop {
        match init::open_raw_tty(Path::new(AGENT_TTY)) {
            Ok(t) => break t,
            Err(e) => {
                log(format_args!("cannot open {AGENT_TTY}: {e}; retrying"));
                wait_for(&mut sup, Duration::from_secs(1));
            }
        }
    };
    // Start on a fresh line, apart from anything the host may have received before.
    let _ = tty.write_all(b"\n");

    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| configure(&mut sup)))
        .unwrap_or_else(|_| {
            Err(step::StepFailure {
                step: "agent".into(),
                command: "configure".into(),
                error: "the agent hit an internal error (see the console)".into(),
            })
        });
    match outcome {
        Ok(()) => {
            log("configuration applied");
            send(&mut tty, &Event::Ready);
        }
        Err(f) => {
            log(format_args!(
                "configuration step {} failed: {}: {}",
                f.step, f.command, f.error
            ));
            send(
                &mut tty,
                &Event::Failed {
                    step: f.step,
                    command: f.command,
                    error: f.error,
                },
            );
        }
    }
    sup.start_console_shell_now();
    serve_forever(&mut sup, &mut tty)
}

/// Reads the config drive, sets the hostname and applies the rest.
fn configure(sup: &mut Supervisor) -> Result<(), step::StepFailure> {
    let fail = |step: &str, command: &str, error: String| step::StepFailure {
        step: step.into(),
        command: command.into(),
        error,
    };
    let cfg = File::open(CONFIG_DRIVE)
        .map_err(|e| e.to_string())
        .and_then(|f| config_drive::read_from(io::BufReader::new(f)).map_err(|e| e.to_string()))
        .map_err(|e| fail("config-drive", &format!("read {CONFIG_DRIVE}"), e))?;
    if !cfg.hostname.is_empty() {
        apply::set_hostname(&cfg.hostname).map_err(|e| {
            fail(
                "hostname",
                &format!("sethostname {}", cfg.hostname),
                e.to_string(),
            )
        })?;
    }
    apply::apply(sup, &cfg)?;
    keepalive::start(&cfg);
    Ok(())
}

/// Reaps and handles signals for `d` without serving.
fn wait_for(sup: &mut Supervisor, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        poll_wake(sup, &[], end);
        if sup.poweroff_requested() {
            init::poweroff(sup);
        }
    }
}

/// Polls `fds` plus the supervisor's signalfd until one is ready or `until`; handles
/// signals and returns the revents of `fds`.
fn poll_wake(sup: &mut Supervisor, fds: &[i32], until: Instant) -> Vec<libc::c_short> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    if let Some(w) = sup.wake_fd() {
        pfds.push(libc::pollfd {
            fd: w,
            events: libc::POLLIN,
            revents: 0,
        });
    }
    let mut until = until;
    if let Some(d) = sup.next_deadline() {
        until = until.min(d);
    }
    // Without a signalfd, poll at least once a second to reap.
    let mut wait = until.saturating_duration_since(Instant::now());
    if sup.wake_fd().is_none() {
        // Without a signalfd, signals only interrupt the poll: look at least every second.
        wait = wait.min(Duration::from_secs(1));
    }
    // SAFETY: `pfds` is a valid array of pollfd of the given length.
    let r = unsafe {
        libc::poll(
            pfds.as_mut_ptr(),
            pfds.len() as libc::nfds_t,
            wait.as_millis() as libc::c_int,
        )
    };
    if r < 0 {
        for p in pfds.iter_mut() {
            p.revents = 0;
        }
    }
    sup.on_wake();
    pfds.iter().take(fds.len()).map(|p| p.revents).collect()
}

/// Serves requests from the agent channel, one at a time, forever.
fn serve_forever(sup: &mut Supervisor, tty: &mut File) -> ! {
    let mut server = serve::Server::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 8192];
    let fd = tty.as_raw_fd();
    loop {
        if sup.poweroff_requested() {
            init::poweroff(sup);
        }
        let revents = poll_wake(sup, &[fd], Instant::now() + Duration::from_secs(60));
        if revents[0] == 0 {
            continue;
        }
        match tty.read(&mut chunk) {
            Ok(0) => {
                // The host end hung up; avoid a busy loop until it comes back.
                wait_for(sup, Duration::from_millis(200));
                continue;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                log(format_args!("reading {AGENT_TTY} failed: {e}"));
                wait_for(sup, Duration::from_millis(200));
                continue;
            }
        }
        while let Some(nl) = buf.iter().position(|&b| b == b'\n' || b == b'\r') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                server.handle_line(sup, &line)
            }));
            match handled {
                Ok(Some(event)) => send(tty, &event),
                Ok(None) => {}
                Err(_) => {
                    log("a request hit an internal error; serving the next one");
                    server = serve::Server::new();
                }
            }
            if sup.poweroff_requested() {
                init::poweroff(sup);
            }
        }
        if buf.len() > 2 * crate::protocol::MAX_REQUEST_LINE {
            log("discarding an over-long line on the agent channel");
            buf.clear();
        }
    }
}
