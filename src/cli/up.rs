//! `umlvnf up`: deploy a lab and hold it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use umlvnf::plan;
use umlvnf::runtime::{self, UpOptions};

use super::Result;

/// The flags of `umlvnf up`.
pub struct Flags {
    /// Return once ready (`-d`).
    pub detach: bool,
    /// Ping between host nodes once ready.
    pub check: bool,
    /// The metrics listen address given.
    pub metrics: Option<SocketAddr>,
    /// Serve no metrics.
    pub no_metrics: bool,
    /// Deploy only this host's share of a lab spread over several machines.
    pub host: Option<String>,
}

/// Deploys the lab of `topology`, or one host's share of it.
pub fn up(topology: PathBuf, flags: &Flags) -> Result<ExitCode> {
    let mut claim = runtime::LabClaim::default();
    let planned = plan::plan_file_share(&topology, &mut claim, flags.host.as_deref())?;
    runtime::up(
        planned,
        claim,
        &UpOptions {
            topology,
            detach: flags.detach,
            check: flags.check,
            metrics: if flags.no_metrics {
                Some(runtime::Listen::Off)
            } else {
                flags.metrics.map(runtime::Listen::Given)
            },
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
