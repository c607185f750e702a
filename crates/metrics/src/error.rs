//! Errors of the metrics crate.

use std::net::SocketAddr;

/// Why the metrics server could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Another process already listens on the address.
    #[error(
        "cannot serve metrics on {addr}: the address is already in use by another process; \
         pick a free port (the default is 127.0.0.1:9477) or stop whatever listens there"
    )]
    AddressInUse {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Binding failed for another reason (address not local, permission, ...).
    #[error(
        "cannot serve metrics on {addr}: {source}; the address must be a local IP address and \
         a port this user may bind"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The refresh interval is outside the accepted range.
    #[error(
        "the guest refresh interval {given_ms} ms is invalid: it must be between 100 ms and \
         1 hour"
    )]
    RefreshInterval {
        /// The interval given, in milliseconds.
        given_ms: u128,
    },
    /// A server thread could not be started.
    #[error("cannot start a metrics server thread: {0}")]
    Thread(std::io::Error),
}

/// Why a guest's statistics could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A `/proc/net/dev` line was not `NAME: 16 unsigned numbers`.
    #[error(
        "line {line} of /proc/net/dev is malformed (`{text}`): expected an interface name, a \
         colon and 16 unsigned counters"
    )]
    NetDevLine {
        /// 1-based line number.
        line: usize,
        /// The line (shortened).
        text: String,
    },
    /// The output did not start with `/proc/net/dev`.
    #[error(
        "the guest's statistics do not start with /proc/net/dev (got `{text}`): the guest \
         needs `cat`, `sh` and a mounted /proc"
    )]
    NoNetDev {
        /// The beginning of what was received (shortened).
        text: String,
    },
}
