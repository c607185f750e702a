//! Stopping a guest: gracefully first, then harder.

use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use crate::mconsole::Mconsole;
use crate::process::{wait_exit, wait_gone, wait_group_gone, ProcessId};

/// Time allowed for each mconsole request during a stop.
const MCONSOLE_TIMEOUT: Duration = Duration::from_secs(2);
/// Time allowed after `halt` before signals are used.
const HALT_WAIT: Duration = Duration::from_secs(3);
/// Time allowed after SIGTERM before SIGKILL.
const TERM_WAIT: Duration = Duration::from_secs(2);
/// Time allowed after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Time allowed for helper processes to follow their leader.
const HELPERS_WAIT: Duration = Duration::from_secs(2);

/// The step of [`stop`] after which the guest process had ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopStep {
    /// The process was not running when `stop` was called.
    AlreadyGone,
    /// mconsole `cad` (the guest's init powered off).
    Cad,
    /// mconsole `halt`.
    Halt,
    /// SIGTERM to the process group.
    Sigterm,
    /// SIGKILL to the process group.
    Sigkill,
    /// Even SIGKILL did not end it in time (for example a process stuck in the kernel).
    StillRunning,
}

/// What [`stop`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopOutcome {
    /// The step that ended the process.
    pub step: StopStep,
    /// The exit status, when the process was a child of this process and was reaped here.
    pub status: Option<ExitStatus>,
}

/// Stops the guest `pid` whose mconsole socket is `mconsole_path`: mconsole `cad` and up to
/// `timeout` for the guest to power off, then `halt` (3 s), then SIGTERM (2 s), then SIGKILL
/// to the whole process group. Reaps the process if it is a child of this process, and finally
/// SIGKILLs any helper process of the group left behind. Never panics; mconsole failures just
/// move on to the next step.
pub fn stop(pid: &ProcessId, mconsole_path: &Path, timeout: Duration) -> StopOutcome {
    let mut status = None;
    if ended(pid, Duration::ZERO, &mut status) {
        finish_group(pid);
        return StopOutcome {
            step: StopStep::AlreadyGone,
            status,
        };
    }
    let mconsole = Mconsole::connect(mconsole_path).ok();
    let step = 'steps: {
        if let Some(mc) = &mconsole {
            if mc.command("cad", MCONSOLE_TIMEOUT).is_ok() && ended(pid, timeout, &mut status) {
                break 'steps StopStep::Cad;
            }
            if mc.command("halt", MCONSOLE_TIMEOUT).is_ok() && ended(pid, HALT_WAIT, &mut status) {
                break 'steps StopStep::Halt;
            }
        }
        // The cad/halt replies may have been lost while the guest was going down anyway.
        if ended(pid, Duration::ZERO, &mut status) {
            break 'steps StopStep::Halt;
        }
        let _ = pid.kill_group(libc::SIGTERM);
        if ended(pid, TERM_WAIT, &mut status) {
            break 'steps StopStep::Sigterm;
        }
        let _ = pid.kill_group(libc::SIGKILL);
        if ended(pid, KILL_WAIT, &mut status) {
            break 'steps StopStep::Sigkill;
        }
        StopStep::StillRunning
    };
    finish_group(pid);
    StopOutcome { step, status }
}

/// Waits up to `timeout` for the process to end; reaps it if it is our child.
fn ended(pid: &ProcessId, timeout: Duration, status: &mut Option<ExitStatus>) -> bool {
    match wait_exit(pid, timeout) {
        Ok(Some(s)) => {
            *status = Some(s);
            true
        }
        Ok(None) => false,
        Err(_) => wait_gone(pid, timeout),
    }
}

/// Makes sure no helper process of the group outlives its leader.
fn finish_group(pid: &ProcessId) {
    if !wait_group_gone(pid, HELPERS_WAIT) {
        let _ = pid.kill_group(libc::SIGKILL);
        wait_group_gone(pid, KILL_WAIT);
    }
}
