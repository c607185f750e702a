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

/// `umlvnf plan`: what `up` would create.
pub fn plan(file: &Path, format: PlanFormat) -> Result<ExitCode> {
    let p = match planned(file)? {
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
fn planned(file: &Path) -> Result<std::result::Result<plan::Planned, umlvnf_topology::Diagnostic>> {
    match plan::plan_file(file, &mut umlvnf::images::PlannedHere) {
        Ok(p) => Ok(Ok(p)),
        Err(plan::PlanFileError::Plan(e)) => Ok(Err(e.diagnostic(file))),
        Err(e) => Err(e.into()),
    }
}

/// `umlvnf validate`: every error of every file, with its location.
pub fn validate(files: &[PathBuf]) -> Result<ExitCode> {
    let mut ok = true;
    for f in files {
        match plan::plan_file(f, &mut umlvnf::images::PlannedHere) {
            Ok(p) => println!(
                "{}: valid ({} nodes, {} links)",
                f.display(),
                p.topology.nodes.len(),
                p.topology.links.len()
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
