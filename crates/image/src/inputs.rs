//! What an image is built from, and installing the agent into a tree.

use std::path::{Path, PathBuf};

use crate::fingerprint::Fingerprint;
use crate::tools;
use crate::tree::RootTree;
use crate::ImageError;

/// The UML kernel Debian's `user-mode-linux` package installs (modules in
/// `/usr/lib/uml/modules/<version>`).
pub const DEBIAN_KERNEL: &str = "/usr/bin/linux";

/// Where the agent lives inside every image (the guest's `init=`).
pub const AGENT_GUEST_PATH: &str = "/sbin/umlvnf-agent";

/// The host files an image is built from besides packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInputs {
    /// The `umlvnf-agent` binary (or any executable) installed as `/sbin/umlvnf-agent`.
    pub agent: PathBuf,
    /// A modular UML kernel (such as Debian's [`DEBIAN_KERNEL`]) whose network modules the
    /// image carries, selected by its version. `None` for kernels with everything built in,
    /// umlvnf's appliance kernel among them: the image then has no modules at all.
    pub modules_from: Option<PathBuf>,
}

impl ImageInputs {
    /// Inputs with the given agent and no kernel modules.
    pub fn new(agent: impl Into<PathBuf>) -> Self {
        ImageInputs {
            agent: agent.into(),
            modules_from: None,
        }
    }
}

/// The agent binary with the libraries `ldd` says it needs.
#[derive(Debug, Clone)]
pub(crate) struct AgentPlan {
    pub binary: PathBuf,
    pub libraries: Vec<PathBuf>,
}

impl AgentPlan {
    /// Checks the agent is readable and lists its libraries.
    pub fn new(agent: &Path) -> Result<Self, ImageError> {
        let meta = std::fs::metadata(agent).map_err(|source| ImageError::Agent {
            path: agent.to_path_buf(),
            source,
        })?;
        if !meta.is_file() {
            return Err(ImageError::Agent {
                path: agent.to_path_buf(),
                source: std::io::Error::other("it is not a regular file"),
            });
        }
        Ok(AgentPlan {
            binary: agent.to_path_buf(),
            libraries: tools::shared_libraries(agent)?,
        })
    }

    /// Adds the agent's contents and its libraries' identities.
    pub fn fingerprint(&self, fp: &mut Fingerprint) -> Result<(), ImageError> {
        fp.file_contents("agent", &self.binary)?;
        for lib in &self.libraries {
            fp.file_identity("agent-library", lib)?;
        }
        Ok(())
    }

    /// Copies the agent to [`AGENT_GUEST_PATH`] and its libraries to the paths `ldd` named.
    ///
    /// With `keep_existing_libraries`, libraries the tree already has are left alone
    /// (a Debian rootfs brings its own glibc).
    pub fn install(
        &self,
        tree: &RootTree,
        keep_existing_libraries: bool,
    ) -> Result<(), ImageError> {
        tree.copy_file(&self.binary, Path::new(AGENT_GUEST_PATH), 0o755)?;
        install_libraries(tree, &self.libraries, keep_existing_libraries)
    }
}

/// Copies host libraries (their real contents, not symlinks) to the same paths in the tree.
pub(crate) fn install_libraries(
    tree: &RootTree,
    libraries: &[PathBuf],
    keep_existing: bool,
) -> Result<(), ImageError> {
    for lib in libraries {
        if keep_existing && tree.exists(lib) {
            continue;
        }
        tree.copy_file(lib, lib, 0o755)?;
    }
    Ok(())
}
