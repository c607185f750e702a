//! The kinds of base image the store can build.

use std::fmt;
use std::str::FromStr;

use crate::ImageError;

/// Which base image to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImageKind {
    /// busybox, nft, ethtool, tcpdump, the agent and the network kernel modules; builds in seconds.
    Minimal,
    /// A Debian bookworm minbase with iproute2, nftables, FRR, kmod, ethtool, tcpdump, ping, procps.
    Debian,
}

impl ImageKind {
    /// Every kind, in a stable order.
    pub const ALL: [ImageKind; 2] = [ImageKind::Minimal, ImageKind::Debian];

    /// The lower-case name used on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            ImageKind::Minimal => "minimal",
            ImageKind::Debian => "debian",
        }
    }
}

impl fmt::Display for ImageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ImageKind {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "minimal" => Ok(ImageKind::Minimal),
            "debian" => Ok(ImageKind::Debian),
            other => Err(ImageError::UnknownKind(other.to_string())),
        }
    }
}
