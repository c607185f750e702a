//! Commands that read a topology file without touching the host: `validate`, `schema`,
//! `plan` and `graph`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use umlvnf::graph::GraphFormat;
use umlvnf::plan;
use umlvnf::state;

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
    let topo = umlvnf_topology::load(file)?;
    let p = match planned(file, &topo)? {
        Ok(p) => p,
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
    topo: &umlvnf_topology::Topology,
) -> Result<std::result::Result<plan::Plan, umlvnf_topology::Diagnostic>> {
    let mut ctx = umlvnf::images::planned_context(
        topo,
        state::labs_dir(),
        planned_images(topo),
        umlvnf_kernel::host::seccomp_available(),
    )?;
    ctx.loops_per_jiffy = umlvnf_kernel::host::loops_per_jiffy();
    Ok(plan::plan(topo, &ctx).map_err(|e| {
        let field = e.field().unwrap_or_default();
        umlvnf_topology::diagnostic_at(file, &field, e.to_string())
    }))
}

/// `umlvnf validate`: every error of every file, with its location.
pub fn validate(files: &[PathBuf]) -> Result<ExitCode> {
    let mut ok = true;
    for f in files {
        match umlvnf_topology::load(f) {
            Ok(t) => match planned(f, &t)? {
                Ok(_) => println!(
                    "{}: valid ({} nodes, {} links)",
                    f.display(),
                    t.nodes.len(),
                    t.links.len()
                ),
                Err(diagnostic) => {
                    ok = false;
                    eprintln!("{diagnostic}");
                }
            },
            Err(e) => {
                ok = false;
                eprintln!("{e}");
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Where `plan` shows base images: the image store path of each named kind.
fn planned_images(topo: &umlvnf_topology::Topology) -> std::collections::BTreeMap<String, PathBuf> {
    let dir = umlvnf_image::ImageStore::default_dir();
    topo.nodes
        .keys()
        .filter(|n| topo.node_kind(n) == umlvnf_topology::NodeKind::Uml)
        .map(|n| topo.effective_image(n))
        .map(|img| {
            let path = if img.parse::<umlvnf_image::ImageKind>().is_ok() {
                dir.join(format!("{img}.ext4"))
            } else {
                PathBuf::from(&img)
            };
            (img, path)
        })
        .collect()
}
