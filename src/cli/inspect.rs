//! `umlvnf inspect`: the nodes and links of a lab, from its runtime or its recorded state.

use std::process::ExitCode;
use std::time::Duration;

use clap::ValueEnum;
use umlvnf::runtime;
use umlvnf_lab::{NodeState, Phase};

use super::lab::{Chosen, LabArgs};
use super::Result;

/// How `inspect` and `link show` print.
#[derive(Clone, Copy, ValueEnum)]
pub enum InspectFormat {
    /// Aligned columns.
    Table,
    /// JSON.
    Json,
}

/// Shows the lab; a lab whose runtime does not answer is shown from its state as `stale`.
/// With `ready`, exits with status 1 (saying why on stderr) unless the lab is ready.
pub fn inspect(args: &LabArgs, format: InspectFormat, ready: bool) -> Result<ExitCode> {
    let chosen = Chosen::from(args)?;
    let status = match chosen.client().status(Duration::from_secs(10)) {
        Ok(status) => status,
        Err(_) => {
            let mut s = runtime::status_from_state(&chosen.state);
            s.phase = Phase::Stale;
            s
        }
    };
    match format {
        InspectFormat::Json => println!("{}", serde_json::to_string_pretty(&status)?),
        InspectFormat::Table => {
            println!(
                "lab {} ({}), runtime pid {}, metrics {}",
                status.lab,
                status.phase,
                status
                    .supervisor_pid
                    .map(|p| p.to_string())
                    .unwrap_or("-".into()),
                status
                    .metrics
                    .map(|a| format!("http://{a}/metrics"))
                    .unwrap_or("off".into())
            );
            println!(
                "{:<12} {:<5} {:<11} {:>8} {:>7} {:>8}  NETNS/ERROR",
                "NODE", "KIND", "STATE", "PID", "BOOT", "RESTARTS"
            );
            for n in &status.nodes {
                println!(
                    "{:<12} {:<5} {:<11} {:>8} {:>7} {:>8}  {}",
                    n.name,
                    n.kind,
                    n.state,
                    n.pid.map(|p| p.to_string()).unwrap_or("-".into()),
                    n.boot_seconds
                        .map(|b| format!("{b:.1}s"))
                        .unwrap_or("-".into()),
                    n.restarts,
                    n.netns
                        .clone()
                        .or_else(|| n.error.as_ref().map(|e| e
                            .lines()
                            .next()
                            .unwrap_or("")
                            .to_string()))
                        .or_else(|| n.last_exit.as_ref().map(|e| format!("last exit: {e}")))
                        .unwrap_or_default()
                );
            }
            println!(
                "\n{:<22} {:<22} {:<9} HOST INTERFACES",
                "ENDPOINT A", "ENDPOINT B", "TRANSPORT"
            );
            for l in &status.links {
                println!(
                    "{:<22} {:<22} {:<9} {}{}",
                    l.endpoints[0],
                    l.endpoints[1],
                    l.transport,
                    l.host_interfaces.join(","),
                    l.bridge
                        .as_ref()
                        .map(|b| format!(" (bridge {b})"))
                        .unwrap_or_default()
                );
            }
            if !status.remote_ends.is_empty() {
                println!(
                    "\n{:<22} {:<30} {:<7} {:>10}  LAST FRAME",
                    "REMOTE END", "PEER", "STATE", "RX FRAMES"
                );
            }
            for r in &status.remote_ends {
                println!(
                    "{:<22} {:<30} {:<7} {:>10}  {}",
                    r.endpoint,
                    r.remote,
                    r.peer,
                    r.frames_received
                        .map(|f| f.to_string())
                        .unwrap_or("-".into()),
                    r.last_frame_seconds
                        .map(|s| format!("{s:.1} s ago"))
                        .unwrap_or("none seen".into())
                );
            }
        }
    }
    if ready {
        if let Some(why) = not_ready(&status) {
            eprintln!("lab {} is not ready: {why}", status.lab);
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a lab is not ready, or `None` when it is: its runtime answers, it is running (deployed
/// and not being torn down), and every guest is ready and every host node up.
fn not_ready(status: &umlvnf_lab::LabStatus) -> Option<String> {
    if status.phase != Phase::Running {
        return Some(format!("it is {}", status.phase));
    }
    let waiting: Vec<String> = status
        .nodes
        .iter()
        .filter(|n| !matches!(n.state, NodeState::Ready | NodeState::Up))
        .map(|n| format!("{} is {}", n.name, n.state))
        .collect();
    (!waiting.is_empty()).then(|| waiting.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_running_with_every_node_ready() {
        let mut status: umlvnf_lab::LabStatus = serde_json::from_value(serde_json::json!({
            "lab": "l.a", "phase": "running", "started_at": 0, "supervisor_pid": 1,
            "nodes": [], "links": []
        }))
        .expect("status");
        assert_eq!(not_ready(&status), None);
        status.phase = Phase::Stale;
        assert_eq!(not_ready(&status).as_deref(), Some("it is stale"));
    }
}
