//! The error type of the datapath's control calls.

use std::io;

/// Why a datapath control call failed.
#[derive(Debug, thiserror::Error)]
pub enum DatapathError {
    /// A system call failed while setting something up.
    #[error("could not {action}: {source}")]
    Os {
        /// What was being done, e.g. "bind the UDP socket to 127.0.0.2:1701".
        action: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The end description is inconsistent.
    #[error("invalid end: {0}")]
    BadEnd(String),
    /// A wire's pcap filter does not compile.
    #[error("filter of `{endpoint}`: {message}")]
    Filter {
        /// The endpoint whose received frames it filters.
        endpoint: String,
        /// Why it does not compile.
        message: String,
    },
    /// A wire end's tap could not be attached.
    #[error("wire tap: {0}")]
    Tap(String),
    /// The CPUs a pinned datapath was given cannot be used.
    #[error("the datapath's workers cannot be pinned: {0}")]
    BadCpus(String),
    /// The batch depth is out of range.
    #[error("the batch depth is {0}, but it must be between 1 and 1024")]
    BadDepth(usize),
    /// No interface has this name (in the calling thread's network namespace).
    #[error("there is no network interface named `{0}` in this network namespace")]
    NoSuchInterface(String),
    /// The wire id is unknown (never added, or removed).
    #[error("there is no wire with id {0}: use an id returned by add_wire and not yet removed")]
    NoSuchWire(u64),
    /// The capture id is unknown (never started, or stopped, or its wire was removed).
    #[error("there is no capture with id {0}: use an id returned by capture and not yet stopped")]
    NoSuchCapture(u64),
    /// The kernel refused to set up the requested backend (e.g. io_uring disabled by the
    /// `kernel.io_uring_disabled` sysctl, a seccomp filter, or too old a kernel).
    #[error(
        "the {backend} backend is not available on this host ({source}): use Backend::Mmsg, \
         or allow io_uring (sysctl kernel.io_uring_disabled=0)"
    )]
    BackendUnavailable {
        /// The backend, e.g. "io_uring".
        backend: &'static str,
        /// Why the kernel refused it.
        #[source]
        source: io::Error,
    },
    /// The datapath's threads have stopped.
    #[error("the datapath has been shut down; start a new one")]
    ShutDown,
    /// Writing the pcap header of a new capture failed.
    #[error("could not start the capture: writing the pcap header failed: {0}")]
    Capture(#[source] io::Error),
}

impl DatapathError {
    pub(crate) fn os(action: impl Into<String>, source: io::Error) -> DatapathError {
        DatapathError::Os {
            action: action.into(),
            source,
        }
    }

    pub(crate) fn last_os(action: impl Into<String>) -> DatapathError {
        DatapathError::os(action, io::Error::last_os_error())
    }
}

/// Result of the datapath's control calls.
pub type Result<T, E = DatapathError> = std::result::Result<T, E>;
