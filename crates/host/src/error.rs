//! The error type of every host operation.

use std::io;

/// A failed host operation. Messages name the object concerned and, where the input was
/// refused, say what would have been valid.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// An interface name outside the rule of [`umlvnf_names`].
    #[error(
        "interface name `{name}` is not valid: {reason} (use 1 to 15 bytes of ASCII letters, \
         digits, `-`, `_` and `.`, not `.` or `..`)"
    )]
    InvalidInterfaceName {
        /// The refused name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A network namespace name that is not allowed.
    #[error(
        "network namespace name `{name}` is not valid: use 1 to 64 characters from `A-Z`, \
         `a-z`, `0-9`, `_`, `.` and `-`, other than `.` and `..`"
    )]
    InvalidNetnsName {
        /// The refused name.
        name: String,
    },
    /// An interface alias that is not allowed.
    #[error("interface alias `{alias}` is not valid: use at most 255 bytes and no NUL byte")]
    InvalidAlias {
        /// The refused alias.
        alias: String,
    },
    /// A sysctl key that is not allowed.
    #[error(
        "sysctl key `{key}` is not valid: use dot-separated words of `A-Z`, `a-z`, `0-9`, `_` \
         and `-`, such as `net.ipv4.ip_forward`"
    )]
    InvalidSysctlKey {
        /// The refused key.
        key: String,
    },
    /// A sysctl value that cannot be written.
    #[error("sysctl value for `{key}` is not valid: it must not contain a newline or NUL byte")]
    InvalidSysctlValue {
        /// The key the value was meant for.
        key: String,
    },
    /// A route request whose parts do not fit together.
    #[error("route is not valid: {0}")]
    InvalidRoute(String),
    /// An MTU outside what Ethernet-like interfaces accept.
    #[error("MTU {mtu} for interface `{name}` is not valid: use 68 to 65535")]
    InvalidMtu {
        /// The interface.
        name: String,
        /// The refused MTU.
        mtu: u32,
    },
    /// The interface to be created exists already.
    #[error("interface `{0}` already exists")]
    LinkExists(String),
    /// An interface of that name exists already in the target namespace of a move.
    #[error("interface `{name}` already exists in network namespace `{netns}`")]
    LinkExistsInNetns {
        /// The name that is taken.
        name: String,
        /// The target namespace.
        netns: String,
    },
    /// The named interface does not exist (in the namespace of the socket).
    #[error("interface `{name}` does not exist in {netns}")]
    NoSuchLink {
        /// The missing interface.
        name: String,
        /// Which namespace was searched, as prose ("the host namespace", "network namespace `x`").
        netns: String,
    },
    /// The network namespace to be created exists already.
    #[error("network namespace `{0}` already exists")]
    NetnsExists(String),
    /// The named network namespace does not exist.
    #[error("network namespace `{0}` does not exist (there is no /run/netns/{0})")]
    NoSuchNetns(String),
    /// The address is already configured on the interface.
    #[error("address {addr} is already assigned to interface `{link}`")]
    AddressExists {
        /// The interface.
        link: String,
        /// The address with its prefix length.
        addr: String,
    },
    /// The route exists already.
    #[error("route {0} already exists")]
    RouteExists(String),
    /// The gateway of a route is not on a directly connected network.
    #[error(
        "route {0} cannot be added: its gateway is not reachable through a directly connected \
         network (add an address on the gateway's subnet first)"
    )]
    GatewayUnreachable(String),
    /// The kernel refused the operation for lack of privileges.
    #[error("permission denied while trying to {action}: this needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)")]
    PermissionDenied {
        /// What was being attempted.
        action: String,
    },
    /// Any other error from the kernel.
    #[error("could not {action}: {source}")]
    Kernel {
        /// What was being attempted.
        action: String,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// The kernel sent a netlink reply this crate could not decode.
    #[error("could not {action}: the kernel's netlink reply could not be decoded ({detail})")]
    Decode {
        /// What was being attempted.
        action: String,
        /// The decoder's explanation.
        detail: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = HostError> = std::result::Result<T, E>;

impl HostError {
    /// Wraps an OS error, turning `EPERM`/`EACCES` into [`HostError::PermissionDenied`].
    pub(crate) fn os(action: impl Into<String>, source: io::Error) -> Self {
        let action = action.into();
        match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => HostError::PermissionDenied { action },
            _ => HostError::Kernel { action, source },
        }
    }

    /// Wraps a raw (positive) errno, see [`HostError::os`].
    pub(crate) fn errno(action: impl Into<String>, errno: i32) -> Self {
        Self::os(action, io::Error::from_raw_os_error(errno))
    }
}
