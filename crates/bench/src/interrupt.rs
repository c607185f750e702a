//! Stopping a bench early and cleanly on SIGINT/SIGTERM.
//!
//! [`catch_signals`] installs a handler for SIGINT, SIGTERM and SIGHUP: the first signal
//! sets the stop flag, which the generator loop, the measurement, the zero-loss search and
//! the scenario loop check, so the current trial ends early and each scenario's set-up is
//! dropped (namespaces and veths removed, `umlvnf down` for a lab); a second one exits at
//! once with status 130, leaving whatever is set up behind.
//!
//! Unlike `umlvnf up`, which blocks the signals and waits for them on a thread, the bench
//! only installs a handler: a blocked set would be inherited by every child it starts
//! (trafgen, vde_switch, the howto guest), which are stopped with SIGINT or SIGTERM; a
//! handler is reset to the default in a child at `exec`. The flag is the same idea as
//! `umlvnf up`'s.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};

/// Set when a stop was asked for (a signal, or [`request_stop`]).
static STOP: AtomicBool = AtomicBool::new(false);

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
        Err(BenchError::Interrupted)
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

/// What the handler writes on the first signal.
const FIRST: &[u8] = b"umlvnf bench: interrupted, stopping the current trial and removing what \
the bench set up (a second Ctrl-C exits at once, leaving it behind)\n";
/// What the handler writes on the second signal.
const SECOND: &[u8] = b"umlvnf bench: second signal, exiting at once (the set-up is left behind)\n";

/// The signal handler: only async-signal-safe operations (a lock-free atomic, write(2),
/// _exit(2)).
extern "C" fn on_signal(_sig: libc::c_int) {
    let second = STOP.swap(true, Ordering::SeqCst);
    let msg = if second { SECOND } else { FIRST };
    // SAFETY: write(2) from a live static buffer of the given length; async-signal-safe.
    unsafe { libc::write(libc::STDERR_FILENO, msg.as_ptr().cast(), msg.len()) };
    if second {
        // SAFETY: _exit(2) is async-signal-safe and ends the process without unwinding.
        unsafe { libc::_exit(EXIT_AT_ONCE) };
    }
}

/// Turns SIGINT, SIGTERM and SIGHUP into a clean stop of the bench (see the module
/// documentation). System calls interrupted by them are restarted (`SA_RESTART`).
pub fn catch_signals() -> Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sigaction is plain data; zeroed is a valid empty value.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: initialises the live mask of `action`.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: installs a handler that only makes async-signal-safe calls; `action` is
        // fully initialised and the old action is not asked for.
        if unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) } != 0 {
            return Err(BenchError::last_os(
                "install the SIGINT/SIGTERM handler of the bench",
            ));
        }
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
