//! Commands that read a topology file without touching the host: `validate`, `schema`,
//! `plan` and `graph`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use umlvnf::graph::GraphFormat;
use umlvnf::plan;

use super::Result;

/// How `plan` prints.
#[derive(Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// Readable text.
    Text,
    /// The plan as JSON.
    Json,
}

/// `umlvnf schema`: the JSON Schema of topology files.
pub fn schema() -> Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(&umlvnf_topology::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}

/// `umlvnf plan`: what `up` would create, or what host `host` runs of a lab spread over
/// several machines.
pub fn plan(file: &Path, format: PlanFormat, host: Option<&str>) -> Result<ExitCode> {
    let p = match planned(file, host)? {
        Ok(p) => p.plan,
        Err(diagnostic) => {
            eprintln!("{diagnostic}");
            return Ok(ExitCode::from(1));
        }
    };
    match format {
        PlanFormat::Text => print!("{}", plan::render_text(&p)),
        PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&p)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// `umlvnf graph`: the topology as Graphviz DOT or Mermaid.
pub fn graph(file: &Path, format: GraphFormat) -> Result<ExitCode> {
    let topo = umlvnf_topology::load(file)?;
    print!("{}", umlvnf::graph::render(&topo, format));
    Ok(ExitCode::SUCCESS)
}

/// The plan `umlvnf plan` shows, or the limit it breaks placed in the topology file (limits
/// such as UML's command-line length depend on how the topology is rendered).
fn planned(
    file: &Path,
    host: Option<&str>,
) -> Result<std::result::Result<plan::Planned, umlvnf_topology::Diagnostic>> {
    match plan::plan_file_share(file, &mut umlvnf::images::PlannedHere, host) {
        Ok(p) => Ok(Ok(p)),
        Err(plan::PlanFileError::Plan(e)) => Ok(Err(e.diagnostic(file))),
        Err(e) => Err(e.into()),
    }
}

/// `umlvnf validate`: every error of every file, with its location. A lab spread over several
/// hosts is planned host by host.
pub fn validate(files: &[PathBuf]) -> Result<ExitCode> {
    let mut ok = true;
    for f in files {
        match plan_every_share(f) {
            Ok((nodes, links, hosts)) => println!(
                "{}: valid ({nodes} nodes, {links} links{hosts})",
                f.display()
            ),
            Err(plan::PlanFileError::Load(e)) => {
                ok = false;
                eprintln!("{e}");
            }
            Err(plan::PlanFileError::Plan(e)) => {
                ok = false;
                eprintln!("{}", e.diagnostic(f));
            }
            Err(plan::PlanFileError::Context(e)) => return Err(e.into()),
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Plans file `f`, and each host's share when it is spread over several; returns the numbers
/// of nodes and links of the whole topology and, for a spread one, how many hosts it spans.
fn plan_every_share(
    f: &Path,
) -> std::result::Result<(usize, usize, String), plan::PlanFileError<umlvnf::images::ImagesError>> {
    let resolver = &mut umlvnf::images::PlannedHere;
    let whole = umlvnf_topology::load(f).map_err(plan::PlanFileError::Load)?;
    let spread = if whole.hosts.is_empty() {
        plan::plan_share(&whole, resolver, None)?;
        String::new()
    } else {
        for host in whole.hosts.keys() {
            plan::plan_share(&whole, resolver, Some(host))?;
        }
        format!(" on {} hosts", whole.hosts.len())
    };
    Ok((whole.nodes.len(), whole.links.len(), spread))
}
