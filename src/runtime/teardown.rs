//! `down` for a lab whose runtime is gone (killed, crashed): remove what its state records.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::state::LabState;

use super::host_objects;

/// Removes a lab from its recorded state alone: ends its guests, deletes its host objects
/// (also those found by owner mark), and removes its state directory. Returns the problems met.
pub fn down_stale(lab: &str, lab_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let state = LabState::load(lab_dir).ok();
    if let Some(st) = &state {
        if let Some(sup) = st.supervisor.filter(|p| p.is_alive()) {
            // A runtime that no longer answers: end it first so it cannot restart guests.
            let _ = nix::sys::signal::kill(Pid::from_raw(sup.pid), Signal::SIGKILL);
        }
        for (node, g) in &st.guests {
            if let Some(p) = g.process.filter(|p| p.is_alive()) {
                let mconsole = lab_dir.join("uml").join(node).join("mconsole");
                let outcome = umlvnf_guest::stop(&p, &mconsole, Duration::from_secs(2));
                if outcome.step == umlvnf_guest::StopStep::StillRunning {
                    problems.push(format!("guest {node} (pid {}) did not exit", p.pid));
                }
            }
        }
    }
    // Guests that booted after the last state write: find UML processes by their umid dir.
    kill_by_uml_dir(&lab_dir.join("uml"), &mut problems);
    let owned = state.map(|s| s.owned).unwrap_or_default();
    problems.extend(host_objects::remove(lab, &owned));
    if let Err(e) = std::fs::remove_dir_all(lab_dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            problems.push(format!("{}: {e}", lab_dir.display()));
        }
    }
    problems
}

/// Kills every process whose command line names this lab's `uml_dir=`.
fn kill_by_uml_dir(uml_dir: &Path, problems: &mut Vec<String>) {
    let needle = format!("uml_dir={}", uml_dir.display());
    for p in umlvnf_host::processes() {
        let pid = p.pid;
        let Some(args) = p.args() else {
            continue;
        };
        if args.iter().any(|arg| arg == needle.as_bytes()) {
            if let Err(err) = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL) {
                problems.push(format!("pid {pid}: {err}"));
            }
        }
    }
}
