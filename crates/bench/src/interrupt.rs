//! Stopping a bench early and cleanly on SIGINT/SIGTERM.
//!
//! [`catch_signals`] blocks SIGINT, SIGTERM and SIGHUP (in the calling thread and every
//! thread and child started after it) and starts a thread that waits for them: the first
//! sets the stop flag, which the generator loop, the measurement, the zero-loss search and
//! the scenario loop check, so the current trial ends early and each scenario's set-up is
//! dropped (namespaces and veths removed, `umlvnf down` for a lab); a second one exits at
//! once with status 130, leaving whatever is set up behind.
//!
//! Children inherit the blocked set: `umlvnf up -d` and `umlvnf down` then finish their
//! work on a Ctrl-C in the terminal instead of dying halfway (the bench tears the lab down
//! itself). A child that must stop on a signal of ours (trafgen) unblocks them first with
//! [`unblock_in_child`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};

/// Set when a stop was asked for (a signal, or [`request_stop`]).
static STOP: AtomicBool = AtomicBool::new(false);
/// Whether the signal thread runs.
static CATCHING: AtomicBool = AtomicBool::new(false);

/// Exit status when a second signal ends the process at once (128 + SIGINT, as shells do).
pub const EXIT_AT_ONCE: i32 = 130;

/// Whether the bench was asked to stop.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Asks a running bench to stop as a first SIGINT would (for programs embedding the bench).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Fails with [`BenchError::Interrupted`] once a stop was asked for.
pub(crate) fn check() -> Result<()> {
    if stop_requested() {
        Err(BenchError::Interrupted { partial: None })
    } else {
        Ok(())
    }
}

/// Sleeps for `d`, or less when a stop is asked for (checked every 10 ms).
pub(crate) fn sleep(d: Duration) {
    let end = Instant::now() + d;
    loop {
        let now = Instant::now();
        if now >= end || stop_requested() {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(10)));
    }
}

/// The signals that stop a bench.
fn stop_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: the set is a live sigset_t; the signal numbers are valid.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
    }
    set
}

/// Turns SIGINT, SIGTERM and SIGHUP into a clean stop (see the module documentation).
/// Call it before any other thread starts (threads started earlier would still die of the
/// signals). Calling it again does nothing.
pub fn catch_signals() -> Result<()> {
    if CATCHING.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    let set = stop_signals();
    // SAFETY: blocks signals in the calling thread with a fully initialised set.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        CATCHING.store(false, Ordering::SeqCst);
        return Err(BenchError::os(
            "block SIGINT and SIGTERM",
            std::io::Error::from_raw_os_error(rc),
        ));
    }
    std::thread::Builder::new()
        .name("umlvnf-signals".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: waits for one of the signals blocked above; writes into a live int.
            if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                continue;
            }
            if STOP.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "umlvnf bench: second signal, exiting at once (its set-up is left behind)"
                );
                std::process::exit(EXIT_AT_ONCE);
            }
            eprintln!(
                "umlvnf bench: interrupted, stopping the current trial and removing what the \
                 bench set up (a second Ctrl-C exits at once, leaving it behind)"
            );
        })
        .map_err(|e| BenchError::os("start the signal thread", e))?;
    Ok(())
}

/// Unblocks the stop signals in a child between fork and exec (for `Command::pre_exec`),
/// so that the child dies of (or handles) them as usual.
///
/// Only async-signal-safe calls: it may run in a forked child of a threaded process.
pub fn unblock_in_child() -> std::io::Result<()> {
    let set = stop_signals();
    // SAFETY: sigprocmask with a live, initialised set is async-signal-safe.
    let rc = unsafe { libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interruptible_sleep_sleeps_when_nothing_stops_it() {
        // The stop flag is process-wide, so unit tests never set it.
        let t = Instant::now();
        sleep(Duration::from_millis(30));
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert!(check().is_ok());
    }
}
