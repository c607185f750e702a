//! Where a lab's files are: `LABS/LAB/` holds `state.json`, `control.sock` and one directory
//! per guest under `uml/` (with its `mconsole` socket).

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where lab state directories live: `$UMLVNF_STATE_DIR` or `/var/lib/umlvnf/labs`.
pub fn labs_dir() -> PathBuf {
    std::env::var_os("UMLVNF_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/umlvnf/labs"))
}

/// The directory of one lab and the files in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabDir(PathBuf);

impl LabDir {
    /// The directory of lab `lab` under [`labs_dir`].
    pub fn of(lab: &str) -> LabDir {
        LabDir(labs_dir().join(lab))
    }

    /// A lab directory at a given path.
    pub fn at(path: impl Into<PathBuf>) -> LabDir {
        LabDir(path.into())
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The state file, `state.json`.
    pub fn state_file(&self) -> PathBuf {
        self.0.join("state.json")
    }

    /// The runtime's control socket, `control.sock`.
    pub fn control_socket(&self) -> PathBuf {
        self.0.join("control.sock")
    }

    /// Where the guests' UML directories are (UML's `uml_dir=`).
    pub fn uml_dir(&self) -> PathBuf {
        self.0.join("uml")
    }

    /// The management console socket of guest `node`.
    pub fn mconsole(&self, node: &str) -> PathBuf {
        self.uml_dir().join(node).join("mconsole")
    }
}

/// Creates a directory (and parents) with mode 0700.
pub fn make_private_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
}

/// Names of the labs that have a state directory.
pub fn list_labs() -> Vec<String> {
    let mut labs: Vec<String> = fs::read_dir(labs_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| LabDir::at(e.path()).state_file().exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    labs.sort();
    labs
}
