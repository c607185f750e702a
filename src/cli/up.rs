//! `umlvnf up`: deploy a lab and hold it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use umlvnf::plan;
use umlvnf::runtime::{self, UpOptions};

use super::Result;

/// Deploys the lab of `topology`; `metrics` is the listen address given, `no_metrics` turns
/// the endpoint off.
pub fn up(
    topology: PathBuf,
    detach: bool,
    check: bool,
    metrics: Option<SocketAddr>,
    no_metrics: bool,
) -> Result<ExitCode> {
    let mut claim = runtime::LabClaim::default();
    let planned = plan::plan_file(&topology, &mut claim)?;
    runtime::up(
        planned,
        claim,
        &UpOptions {
            topology,
            detach,
            check,
            metrics: if no_metrics {
                Some(runtime::Listen::Off)
            } else {
                metrics.map(runtime::Listen::Given)
            },
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
