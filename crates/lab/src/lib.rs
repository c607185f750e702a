//! A running lab as seen from outside its runtime: where it lives on disk ([`layout`]), what it
//! owns and how far it got ([`state`], the `state.json` file), how it is shown ([`status`]),
//! and how its runtime is asked to do things ([`control`], JSON over a Unix socket).
//!
//! The runtime writes these; the command line, the benchmarks and the tests read them.

pub mod control;
pub mod layout;
pub mod lock;
pub mod state;
pub mod status;

pub use control::{Client, ControlError, Reply, Request};
pub use layout::LabDir;
pub use state::{GuestRecord, LabState, LinkRecord, NodeState, Owned, Phase, ProcRef};
pub use status::{
    ExecResult, LabStatus, NodeKind, NodeStatus, PeerState, RemoteEndStatus, WireDirection,
    WireStatus,
};
