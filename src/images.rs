//! Finding what base images are built from: the agent binary and the kernel.

use std::path::PathBuf;

use umlvnf_image::ImageInputs;
use umlvnf_topology::Topology;

use crate::runtime::RuntimeError;

/// The `umlvnf-agent` binary: `$UMLVNF_AGENT`, or the one next to this executable.
pub fn agent_binary() -> Result<PathBuf, RuntimeError> {
    if let Some(p) = std::env::var_os("UMLVNF_AGENT") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(RuntimeError::io("finding the umlvnf executable"))?;
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    for candidate in [dir.join("umlvnf-agent"), dir.join("../umlvnf-agent")] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(RuntimeError::Conflict(format!(
        "umlvnf-agent was not found next to {} (build it with `cargo build --workspace --bins`, or set UMLVNF_AGENT)",
        exe.display()
    )))
}

/// The inputs of the topology's base images.
pub fn inputs(topo: &Topology) -> Result<ImageInputs, RuntimeError> {
    let kernel = topo
        .nodes
        .keys()
        .find(|n| topo.node_kind(n) == umlvnf_topology::NodeKind::Uml)
        .map(|n| topo.effective_kernel(n))
        .unwrap_or_else(|| "/usr/bin/linux".to_string());
    Ok(ImageInputs {
        agent: agent_binary()?,
        kernel: PathBuf::from(kernel),
    })
}
