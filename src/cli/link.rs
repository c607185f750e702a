//! `umlvnf link`: show the counters of a lab's wires or change one.

use std::process::ExitCode;
use std::time::Duration;

use umlvnf::control::ImpairArgs;
use umlvnf_lab::WireStatus;

use super::inspect::InspectFormat;
use super::lab::{self, LabArgs};
use super::Result;

/// How long the runtime may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Prints the counters of every wire, per direction, with drops by reason.
pub fn show(args: &LabArgs, format: InspectFormat) -> Result<ExitCode> {
    let wires = lab::client(args)?.links(TIMEOUT)?;
    match format {
        InspectFormat::Json => println!("{}", serde_json::to_string_pretty(&wires)?),
        InspectFormat::Table => print_table(&wires),
    }
    Ok(ExitCode::SUCCESS)
}

/// The counters as aligned columns.
fn print_table(wires: &[WireStatus]) {
    println!(
        "{:<8} {:<14} {:<14} {:>10} {:>10} {:>7}  DROPS",
        "WIRE", "FROM", "TO", "RECEIVED", "SENT", "QUEUED"
    );
    for w in wires {
        for d in &w.directions {
            let drops: Vec<String> = d.drops.iter().map(|(r, n)| format!("{r}={n}")).collect();
            println!(
                "{:<8} {:<14} {:<14} {:>10} {:>10} {:>7}  {}",
                w.name,
                d.from,
                d.to,
                d.received,
                d.sent,
                d.queued,
                drops.join(" ")
            );
        }
    }
}

/// What `link set` changes besides the impairment.
pub struct Change {
    /// Only the frames this endpoint sends (default: both directions).
    pub from: Option<String>,
    /// The new impairment flags.
    pub impair: ImpairArgs,
    /// Remove every impairment.
    pub clear: bool,
    /// Take the link down.
    pub down: bool,
    /// Bring the link up.
    pub up: bool,
}

/// Changes wire `link`: its impairment (replacing the current one) or its state.
pub fn set(args: &LabArgs, link: &str, change: Change) -> Result<ExitCode> {
    let client = lab::client(args)?;
    let impair = umlvnf_topology::Impairment::from(change.impair);
    let up = if change.down {
        Some(false)
    } else if change.up {
        Some(true)
    } else {
        None
    };
    client.link_set(
        link,
        change.from,
        (change.clear || !impair.is_none()).then_some(impair),
        up,
        TIMEOUT,
    )?;
    Ok(ExitCode::SUCCESS)
}
