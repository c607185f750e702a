//! The lab's state directory and its `state.json`: what a lab owns, recorded as it is created,
//! so that `down` can remove exactly that, also after the runtime was killed.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::LinkPlan;

/// Where lab state directories live: `$UMLVNF_STATE_DIR` or `/var/lib/umlvnf/labs`.
pub fn labs_dir() -> PathBuf {
    std::env::var_os("UMLVNF_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/umlvnf/labs"))
}

/// A process recorded with its start time, so that a reused pid is never mistaken for it.
pub use umlvnf_guest::ProcessId as ProcRef;

/// The calling process, as recorded in the state file.
pub fn current_process() -> Option<ProcRef> {
    ProcRef::of(std::process::id() as i32).ok()
}

/// Everything a lab created on the host.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Owned {
    /// Network namespaces.
    pub netns: Vec<String>,
    /// Interfaces in the root namespace (veth ends, taps).
    pub interfaces: Vec<String>,
    /// Bridges created by the lab (existing bridges it joined are not listed).
    pub bridges: Vec<String>,
}

/// The lab's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Objects are being created.
    Deploying,
    /// Every node is ready.
    Running,
    /// Being torn down.
    Stopping,
}

/// A guest as recorded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GuestRecord {
    /// The UML process, while one runs.
    pub process: Option<ProcRef>,
    /// `booting`, `ready`, `failed`, `restarting`, `stopped`.
    pub state: String,
    /// Seconds from start to agent ready, last boot.
    pub boot_seconds: Option<f64>,
    /// How often it was restarted.
    pub restarts: u32,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Why its last UML process ended (exit status, kernel panic), kept after a restart.
    #[serde(default)]
    pub last_exit: Option<String>,
}

/// The content of `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    /// Lab name.
    pub lab: String,
    /// The topology file it was deployed from.
    pub topology: PathBuf,
    /// The runtime process that holds the lab.
    pub supervisor: Option<ProcRef>,
    /// Phase.
    pub phase: Phase,
    /// Unix time of the deploy.
    pub started_at: u64,
    /// Host objects owned.
    pub owned: Owned,
    /// Guests by node name.
    pub guests: BTreeMap<String, GuestRecord>,
    /// Host nodes: node name → namespace.
    pub hosts: BTreeMap<String, String>,
    /// Links with their host interfaces.
    pub links: Vec<LinkPlan>,
    /// Control socket of the supervisor.
    pub control: PathBuf,
    /// Address of the `/metrics` endpoint.
    #[serde(default)]
    pub metrics: Option<std::net::SocketAddr>,
}

impl LabState {
    /// The state file of a lab directory.
    pub fn path(lab_dir: &Path) -> PathBuf {
        lab_dir.join("state.json")
    }

    /// Reads a lab's state.
    pub fn load(lab_dir: &Path) -> io::Result<LabState> {
        let text = fs::read_to_string(Self::path(lab_dir))?;
        serde_json::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is corrupt: {e}", Self::path(lab_dir).display()),
            )
        })
    }

    /// Writes the state atomically (temp file, then rename).
    pub fn save(&self, lab_dir: &Path) -> io::Result<()> {
        let tmp = lab_dir.join("state.json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        fs::write(&tmp, text)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
        fs::rename(tmp, Self::path(lab_dir))
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
        .filter(|e| e.path().join("state.json").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    labs.sort();
    labs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_fake_start_time_is_not() {
        let me = current_process().expect("own /proc entry");
        assert!(me.is_alive());
        let other = ProcRef {
            pid: me.pid,
            start_time: me.start_time + 1,
        };
        assert!(!other.is_alive());
    }
}

/// One lab, one owner: an exclusive `flock` on `LABS/.LAB.lock`, held by the runtime from the
/// start of `up` until it exits (a forked `up -d` runtime inherits it). The file holds the
/// owner's pid, for the message a second `up` gets.
#[derive(Debug)]
pub struct LabLock {
    file: std::fs::File,
}

impl LabLock {
    /// Takes the lock of lab `lab` without waiting: `Ok(None)` names nobody, `Err` carries the
    /// pid written by the holder (0 if it wrote none).
    pub fn try_acquire(labs_dir: &Path, lab: &str) -> std::io::Result<Result<LabLock, i32>> {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(labs_dir)?;
        let path = labs_dir.join(format!(".{lab}.lock"));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        // SAFETY: flock on a valid descriptor this function owns; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(err);
            }
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Ok(Err(text.trim().parse().unwrap_or(0)));
        }
        let lock = LabLock { file };
        lock.record_pid()?;
        Ok(Ok(lock))
    }

    /// Writes this process's pid into the lock file (again after a fork).
    pub fn record_pid(&self) -> std::io::Result<()> {
        use std::io::{Seek, Write};
        let mut f = &self.file;
        f.set_len(0)?;
        f.seek(std::io::SeekFrom::Start(0))?;
        writeln!(f, "{}", std::process::id())
    }
}
