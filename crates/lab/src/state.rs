//! The lab's `state.json`: what a lab owns, recorded as it is created, so that `down` can
//! remove exactly that, also after the runtime was killed.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::layout::LabDir;

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
    /// No runtime holds the lab (only shown by `inspect`, never recorded).
    Stale,
}

impl Phase {
    /// The name as shown and recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Deploying => "deploying",
            Phase::Running => "running",
            Phase::Stopping => "stopping",
            Phase::Stale => "stale",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where a node is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// A guest that has not been started yet.
    #[default]
    Created,
    /// A guest's UML process runs; its agent has not answered yet.
    Booting,
    /// A guest's agent answers.
    Ready,
    /// A ready guest's agent stopped answering for a while.
    Unresponsive,
    /// A guest failed to boot or its UML process ended with an error.
    Failed,
    /// A guest is being started again after its UML process ended.
    Restarting,
    /// A guest was stopped, or its UML process ended cleanly.
    Stopped,
    /// A host node whose namespace exists.
    Up,
    /// A host node whose namespace is gone.
    Missing,
}

impl NodeState {
    /// The name as shown and recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Created => "created",
            NodeState::Booting => "booting",
            NodeState::Ready => "ready",
            NodeState::Unresponsive => "unresponsive",
            NodeState::Failed => "failed",
            NodeState::Restarting => "restarting",
            NodeState::Stopped => "stopped",
            NodeState::Up => "up",
            NodeState::Missing => "missing",
        }
    }
}

impl std::fmt::Display for NodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A guest as recorded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GuestRecord {
    /// The UML process, while one runs.
    pub process: Option<ProcRef>,
    /// Where the guest is in its life.
    pub state: NodeState,
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

/// A link as recorded and shown: its endpoints and what carries it on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// The two endpoints as written.
    pub endpoints: [String; 2],
    /// Transport of the guest ends (`veth` when no guest is on the link).
    pub transport: String,
    /// Host interfaces that carry it (root namespace names).
    pub host_interfaces: Vec<String>,
    /// The bridge joining it, if any.
    pub bridge: Option<String>,
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
    pub links: Vec<LinkRecord>,
    /// Control socket of the supervisor.
    pub control: PathBuf,
    /// Address of the `/metrics` endpoint.
    #[serde(default)]
    pub metrics: Option<std::net::SocketAddr>,
}

impl LabState {
    /// The state file of a lab directory.
    pub fn path(lab_dir: &Path) -> PathBuf {
        LabDir::at(lab_dir).state_file()
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

    #[test]
    fn states_and_phases_keep_their_recorded_names() {
        let rec: GuestRecord = serde_json::from_str(
            r#"{"process":null,"state":"unresponsive","boot_seconds":null,"restarts":0,"error":null}"#,
        )
        .expect("decodes");
        assert_eq!(rec.state, NodeState::Unresponsive);
        assert_eq!(
            serde_json::to_value(Phase::Deploying).expect("encodes"),
            "deploying"
        );
        assert_eq!(format!("[{:<9}]", Phase::Stale), "[stale    ]");
    }
}
