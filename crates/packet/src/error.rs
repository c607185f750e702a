//! The error type shared by the header parsers and emitters.

use crate::l2tpv3::Cookie;

/// Why a header could not be parsed or emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The received packet is shorter than the header it should carry.
    #[error("the packet is too short: its header needs {need} bytes but only {have} are present")]
    Truncated {
        /// Bytes the header needs.
        need: usize,
        /// Bytes the packet has.
        have: usize,
    },
    /// The output buffer given to an `emit` function is too small.
    #[error(
        "the output buffer is too small: the header needs {need} bytes but the buffer has {have}"
    )]
    BufferTooSmall {
        /// Bytes the header needs.
        need: usize,
        /// Bytes the buffer has.
        have: usize,
    },
    /// A version field has a value this crate does not accept.
    #[error("the {protocol} header has version {found}, but only version {expected} is valid")]
    BadVersion {
        /// Which header ("GRE", "IPv4", "L2TPv3").
        protocol: &'static str,
        /// The version found.
        found: u32,
        /// The only valid version.
        expected: u32,
    },
    /// The GRE protocol type is not transparent Ethernet bridging.
    #[error("the GRE protocol type is {found:#06x}, but only 0x6558 (transparent Ethernet bridging) is valid")]
    BadProtocol {
        /// The protocol type found.
        found: u16,
    },
    /// GRE flags that UML never sets (checksum, routing, strict source route, recursion, ...).
    #[error("the GRE flags {flags:#06x} are not supported: only the key (0x2000) and sequence (0x1000) bits may be set")]
    UnsupportedFlags {
        /// The whole flags/version word found.
        flags: u16,
    },
    /// The GRE key/sequence presence bits differ from what this end expects.
    #[error("the GRE flags are {found:#06x} but this tunnel expects {expected:#06x}: both ends must agree on key and sequence")]
    FlagsMismatch {
        /// The flags found.
        found: u16,
        /// The flags expected.
        expected: u16,
    },
    /// The GRE key differs from the configured receive key.
    #[error("the GRE key is {found:?} but this tunnel expects {expected:?}")]
    KeyMismatch {
        /// The key found.
        found: Option<u32>,
        /// The key expected.
        expected: Option<u32>,
    },
    /// The L2TPv3 session id differs from the configured receive session.
    #[error("the L2TPv3 session is {found} but this tunnel expects session {expected}")]
    SessionMismatch {
        /// The session found.
        found: u32,
        /// The session expected.
        expected: u32,
    },
    /// The L2TPv3 cookie differs from the configured receive cookie.
    #[error("the L2TPv3 cookie is {found:?} but this tunnel expects {expected:?}")]
    CookieMismatch {
        /// The cookie found.
        found: Cookie,
        /// The cookie expected.
        expected: Cookie,
    },
    /// The IPv4 header length field is impossible.
    #[error("the IPv4 header length is {found} bytes, but it must be between 20 and 60 and fit in the packet's total length")]
    BadHeaderLength {
        /// The header length in bytes (IHL × 4).
        found: usize,
    },
    /// The configuration and the header representation disagree, or the configuration is invalid.
    #[error("invalid header configuration: {0}")]
    InvalidConfig(&'static str),
}
