//! The error type of the bench.

use std::io;
use std::path::PathBuf;

/// A failed benchmark step. Messages say what was being done and, for refused input, what
/// would have been valid.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A frame size outside what Ethernet carries.
    #[error(
        "frame size {0} is not valid: give 64 to 1518 bytes (including the 4-byte FCS), or `imix`"
    )]
    InvalidFrameSize(String),
    /// A scenario name that is not known.
    #[error(
        "scenario `{0}` is not known: use veth, netns-router, wire, wire-tap, guest, guest-raw, \
         guest-tap, guest-hybrid, guest-wire, guest-gre, guest-l2tpv3, guest-topology, \
         guest-firewall, guest-nftables, guest-plain, guest-debian, guest-tuned, tuning, \
         pair-wire, pair-l2tpv3, pair-bridge, pair-vde, pairs or all"
    )]
    UnknownScenario(String),
    /// Options that do not fit together or are out of range.
    #[error("bench options are not valid: {0}")]
    InvalidOptions(String),
    /// A host plumbing operation (namespace, veth, sysctl) failed.
    #[error("host setup failed: {0}")]
    Host(#[from] umlvnf_host::HostError),
    /// The datapath refused the bench wire.
    #[error("the datapath failed: {0}")]
    Datapath(#[from] umlvnf_datapath::DatapathError),
    /// A system call failed.
    #[error("could not {action}: {source}")]
    Os {
        /// What was being done.
        action: String,
        /// The OS error.
        source: io::Error,
    },
    /// The next hop did not answer ARP.
    #[error("no ARP reply from {ip} on `{ifname}`: the next hop must be up and own that address")]
    NoArpReply {
        /// Interface asked on.
        ifname: String,
        /// Address asked for.
        ip: std::net::Ipv4Addr,
    },
    /// A lab could not be deployed with the umlvnf binary, or its runtime failed a request
    /// (inspect, exec, down).
    #[error("umlvnf {action} failed: {detail}")]
    Lab {
        /// The subcommand (`up`, `inspect`, `down`).
        action: String,
        /// Its output or the reason.
        detail: String,
    },
    /// A lab or topology lacks something the bench needs.
    #[error("topology {path} cannot be benchmarked: {reason}")]
    Topology {
        /// The topology file.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The `guest-plain` or `guest-debian` guest, started with the howto's command line, did
    /// not come up.
    #[error("the plain guest (the howto's `linux ...` command line) failed: {0}")]
    HowtoGuest(String),
    /// trafgen could not be run or its output not read.
    #[error("trafgen failed: {0} (install it with `apt-get install netsniff-ng`)")]
    Trafgen(String),
    /// vde_switch could not be started, or did not come up.
    #[error("vde_switch failed: {0}")]
    VdeSwitch(String),
    /// A guest's management console refused or did not answer a command.
    #[error("the guest's mconsole failed: {0}")]
    Mconsole(#[from] umlvnf_guest::MconsoleError),
    /// The kernel refused the I/O backend asked for.
    #[error(
        "the {backend} backend cannot be used: {source} (the kernel refuses it, e.g. \
         kernel.io_uring_disabled is set or a seccomp filter blocks it): use the mmsg backend \
         (`--backend mmsg`) instead"
    )]
    BackendUnavailable {
        /// The backend (`io_uring`).
        backend: &'static str,
        /// Why the kernel refused it.
        source: io::Error,
    },
    /// SIGINT or SIGTERM arrived: the bench stopped early and removed what it had set up.
    #[error("interrupted by a signal: the bench stopped early and removed what it had set up")]
    Interrupted,
    /// A report file could not be read, parsed or written.
    #[error("report file {path}: {reason}")]
    ReportFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl BenchError {
    /// An OS error with the action that failed.
    pub(crate) fn os(action: impl Into<String>, source: io::Error) -> BenchError {
        BenchError::Os {
            action: action.into(),
            source,
        }
    }

    /// The last OS error with the action that failed.
    pub(crate) fn last_os(action: impl Into<String>) -> BenchError {
        BenchError::os(action, io::Error::last_os_error())
    }
}

/// Result with [`BenchError`].
pub type Result<T> = std::result::Result<T, BenchError>;
