//! `umlvnf inspect`: the nodes and links of a lab, from its runtime or its recorded state.

use std::process::ExitCode;
use std::time::Duration;

use clap::ValueEnum;
use umlvnf::runtime;
use umlvnf_lab::Phase;

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
pub fn inspect(args: &LabArgs, format: InspectFormat) -> Result<ExitCode> {
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
    Ok(ExitCode::SUCCESS)
}
