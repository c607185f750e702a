//! `umlvnf kube`: Kubernetes manifests that deploy a lab spread over several machines, one pod
//! per host (see `deploy/kubernetes/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use umlvnf::kube::{self, HostPlan, Spread};
use umlvnf::plan;

use super::Result;

/// The flags of `umlvnf kube`.
pub struct Flags {
    /// `--node HOST=K8SNODE`, as given.
    pub nodes: Vec<String>,
    /// `--image`.
    pub image: Option<String>,
    /// `-o DIR`: one file per object there instead of one stream on stdout.
    pub out_dir: Option<PathBuf>,
}

/// Plans every host's share of `file` and writes the manifests.
pub fn kube(file: &Path, flags: &Flags) -> Result<ExitCode> {
    let text = std::fs::read(file)
        .map_err(|e| format!("{}: cannot read the topology file: {e}", file.display()))?;
    let text = String::from_utf8(text)
        .map_err(|_| format!("{}: the topology file is not UTF-8 text", file.display()))?;
    let whole = umlvnf_topology::load_str(&text, file)?;
    let mut hosts = BTreeMap::new();
    for (name, spec) in &whole.hosts {
        let planned = match plan::plan_share(&whole, &mut umlvnf::images::PlannedHere, Some(name)) {
            Ok(p) => p,
            Err(plan::PlanFileError::Plan(e)) => {
                eprintln!("{}", e.diagnostic(file));
                return Ok(ExitCode::from(1));
            }
            Err(e) => return Err(e.into()),
        };
        if spec.address.is_loopback() {
            eprintln!(
                "note: host `{name}` has the loopback address {}: its tunnels reach only hosts on the same Kubernetes node (pin them together with --node)",
                spec.address
            );
        }
        hosts.insert(
            name.clone(),
            HostPlan {
                address: spec.address,
                needs: kube::needs(&planned.plan),
                nodes: planned.topology.nodes.len(),
            },
        );
    }
    let spread = Spread::new(
        file,
        &whole.name,
        text,
        hosts,
        &flags.nodes,
        flags.image.as_deref(),
    )?;
    let manifests = kube::manifests(&spread);
    match &flags.out_dir {
        None => print!("{}", kube::render(&manifests)),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let mut written = std::collections::BTreeSet::new();
            for (name, body) in kube::files(&manifests) {
                let path = dir.join(&name);
                std::fs::write(&path, body)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                println!("{}", path.display());
                written.insert(std::ffi::OsString::from(name));
            }
            warn_of_other_manifests(dir, &written);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Says which other YAML files `dir` holds: `kubectl apply -f DIR` would apply them too (such
/// as the Deployment of a host that an earlier version of the topology had).
fn warn_of_other_manifests(dir: &Path, written: &std::collections::BTreeSet<std::ffi::OsString>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut others: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| !written.contains(n))
        .filter(|n| n.to_string_lossy().ends_with(".yaml"))
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    others.sort();
    if !others.is_empty() {
        eprintln!(
            "note: {} also holds {}, which this run did not write: `kubectl apply -f {}` would apply {} too",
            dir.display(),
            others.join(", "),
            dir.display(),
            if others.len() == 1 { "it" } else { "them" }
        );
    }
}
