//! A lab as `inspect` and `link show` show it: its nodes with their states, its links, the
//! counters of its wires, and the result of a command run in a guest.

use serde::{Deserialize, Serialize};

use crate::state::{LinkRecord, NodeState, Phase};

/// A lab as `inspect` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabStatus {
    /// Lab name.
    pub lab: String,
    /// Phase, [`Phase::Stale`] when no runtime holds it.
    pub phase: Phase,
    /// Unix time of the deploy.
    pub started_at: u64,
    /// Pid of the runtime holding the lab.
    pub supervisor_pid: Option<i32>,
    /// Address of the lab's `/metrics` endpoint.
    #[serde(default)]
    pub metrics: Option<std::net::SocketAddr>,
    /// Every node.
    pub nodes: Vec<NodeStatus>,
    /// Every link.
    pub links: Vec<LinkRecord>,
    /// Every link from a guest straight to a remote end (`remote:`, or a link to a node on
    /// another host), with whether its peer is heard from; empty when no runtime answers.
    #[serde(default)]
    pub remote_ends: Vec<RemoteEndStatus>,
}

/// Whether the far end of a link to a remote end is heard from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerState {
    /// A frame came from the peer within the last few seconds (its keepalives arrive).
    Up,
    /// No frame from the peer for longer than that.
    Down,
    /// Not known yet: the runtime has not watched long enough, or cannot read the guest.
    Unknown,
}

impl std::fmt::Display for PeerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            PeerState::Up => "up",
            PeerState::Down => "down",
            PeerState::Unknown => "unknown",
        })
    }
}

/// One link from a guest to a remote end, as `inspect` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteEndStatus {
    /// The guest's endpoint (`r1:eth1`).
    pub endpoint: String,
    /// The far end as the plan writes it (`remote 10.0.0.2:17101`).
    pub remote: String,
    /// Whether the peer is heard from.
    pub peer: PeerState,
    /// Frames the guest interface has received, at the last reading.
    pub frames_received: Option<u64>,
    /// Seconds since the last frame from the peer was seen (`None`: none since the runtime
    /// started watching).
    pub last_frame_seconds: Option<f64>,
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A User Mode Linux guest.
    Uml,
    /// A network namespace on the host.
    Host,
}

impl NodeKind {
    /// The name as shown.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Uml => "uml",
            NodeKind::Host => "host",
        }
    }
}

impl std::fmt::Display for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One node as `inspect` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Node name.
    pub name: String,
    /// What it is.
    pub kind: NodeKind,
    /// Where it is in its life.
    pub state: NodeState,
    /// UML process id.
    pub pid: Option<i32>,
    /// Seconds from start to ready, last boot.
    pub boot_seconds: Option<f64>,
    /// Restarts so far.
    pub restarts: u32,
    /// Namespace of a host node.
    pub netns: Option<String>,
    /// Last error.
    pub error: Option<String>,
    /// Why the guest's last UML process ended (exit status, kernel panic), kept after a
    /// restart.
    #[serde(default)]
    pub last_exit: Option<String>,
}

/// A command's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecResult {
    /// Exit status (128 + signal when killed).
    pub status: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

/// Counters of one wire direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDirection {
    /// Endpoint the frames come from.
    pub from: String,
    /// Endpoint they go to.
    pub to: String,
    /// Frames received.
    pub received: u64,
    /// Frames sent.
    pub sent: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Frames still queued (delay, rate).
    pub queued: u64,
    /// Drops by reason.
    pub drops: Vec<(String, u64)>,
}

/// Counters of one wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireStatus {
    /// Wire name.
    pub name: String,
    /// Both directions.
    pub directions: Vec<WireDirection>,
}
