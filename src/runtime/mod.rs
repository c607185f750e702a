//! Running labs: deploy a plan, hold it (restarts, exec, console, status), tear it down.

mod deploy;
mod guests;
pub mod host_objects;
mod link_request;
mod metrics;
mod peer_watch;
mod progress;
mod supervisor;
mod teardown;
mod wires;

pub use deploy::{up, LabClaim, UpOptions};
pub use metrics::{Listen, DEFAULT_LISTEN};
pub use teardown::down_stale;

/// Why a runtime operation failed. Messages are meant for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A host object could not be made or changed.
    #[error("{what}: {message}")]
    Host {
        /// Which kind of object.
        what: &'static str,
        /// The error.
        message: String,
    },
    /// A file or directory operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// Something on the host is in the way (an object of the same name, a left-behind lab).
    #[error("{0}")]
    Conflict(String),
    /// The agent binary or a guest kernel could not be found, read or built.
    #[error(transparent)]
    Images(#[from] crate::images::ImagesError),
    /// A base image could not be built.
    #[error("image `{name}`: {message}")]
    Image {
        /// The image kind.
        name: String,
        /// Why.
        message: String,
    },
    /// The metrics endpoint could not be served.
    #[error("{0}")]
    Metrics(String),
    /// A planned step on a host node failed (a command, an address, a route, a MAC address).
    #[error("{0}")]
    HostNode(String),
    /// A guest did not come up.
    #[error("node `{node}` did not become ready: {message}")]
    Guest {
        /// The guest.
        node: String,
        /// Why, with the end of its console output.
        message: String,
    },
    /// The lab is up already.
    #[error("lab `{lab}` is already up (runtime pid {pid}); take it down first with `umlvnf down --lab {lab}`")]
    AlreadyUp {
        /// Lab name.
        lab: String,
        /// Runtime pid.
        pid: i32,
    },
    /// Another runtime is deploying or holding the lab.
    #[error("lab `{lab}` is being deployed by umlvnf pid {pid}; wait for it, or take it down with `umlvnf down --lab {lab}`")]
    Busy {
        /// Lab name.
        lab: String,
        /// The owner's pid (0 if unknown).
        pid: i32,
    },
    /// Deploying needs root.
    #[error(
        "deploying a lab needs root (namespaces, veth pairs and raw sockets): run umlvnf as root"
    )]
    NotRoot,
    /// The deploy was interrupted.
    #[error("interrupted")]
    Interrupted,
}

impl RuntimeError {
    /// Maps a host crate error, naming the kind of object.
    pub fn host<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> RuntimeError {
        move |e| RuntimeError::Host {
            what,
            message: e.to_string(),
        }
    }

    /// Maps an I/O error, saying what was being done.
    pub fn io(what: &str) -> impl Fn(std::io::Error) -> RuntimeError + '_ {
        move |source| RuntimeError::Io {
            what: what.to_string(),
            source,
        }
    }
}

/// A planned link as the lab state records it.
fn link_record(l: &crate::plan::LinkPlan) -> umlvnf_lab::LinkRecord {
    umlvnf_lab::LinkRecord {
        endpoints: l.endpoints.clone(),
        transport: l.transport.clone(),
        host_interfaces: l.host_interfaces.clone(),
        bridge: l.bridge.clone(),
    }
}

/// The status of a lab from its state file alone (its runtime does not answer).
pub fn status_from_state(st: &crate::state::LabState) -> crate::control::LabStatus {
    supervisor::status_of(st, Default::default())
}
