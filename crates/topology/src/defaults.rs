//! Default resolution: what a node gets for each field it does not set.

use std::path::Path;

use umlvnf_kernel::Flavour;

use crate::model::*;

/// The `kernel` value naming umlvnf's own appliance kernel, the default.
pub const APPLIANCE_KERNEL: &str = "appliance";
/// Debian's UML kernel, an example of a kernel binary a node can name.
pub const DEBIAN_KERNEL: &str = "/usr/bin/linux";
/// The most virtual CPUs a guest can have (the appliance kernel's `CONFIG_NR_CPUS`).
pub const MAX_VCPUS: u32 = 8;
/// The guest image used when neither the node nor the defaults name one.
pub const DEFAULT_IMAGE: &str = "minimal";
/// Guest memory when neither the node nor the defaults set it: 128 MiB.
pub const DEFAULT_MEMORY: Memory = Memory { bytes: 128 << 20 };
/// Smallest guest memory accepted: 64 MiB (`mem=32M` can panic UML).
pub const MIN_MEMORY: Memory = Memory { bytes: 64 << 20 };
/// Largest guest memory accepted: 16 GiB.
pub const MAX_MEMORY: Memory = Memory { bytes: 16 << 30 };

/// Which kernel a uml node boots.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelChoice {
    /// umlvnf's appliance kernel in this flavour (built on demand).
    Appliance(Flavour),
    /// A kernel binary (an absolute path once the topology is loaded).
    File(String),
}

impl std::fmt::Display for KernelChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelChoice::Appliance(flavour) => write!(f, "the appliance kernel ({flavour})"),
            KernelChoice::File(path) => write!(f, "the kernel {path}"),
        }
    }
}

/// Where a guest's root file system comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSource<'a> {
    /// The built-in busybox image.
    Minimal,
    /// The built-in Debian image (with FRR).
    Debian,
    /// An ext4 image file (an absolute path once the topology is loaded).
    File(&'a Path),
}

impl<'a> ImageSource<'a> {
    /// Classifies an `image` value: `minimal`, `debian`, or else a path.
    pub fn parse(image: &'a str) -> Self {
        match image {
            "minimal" => ImageSource::Minimal,
            "debian" => ImageSource::Debian,
            path => ImageSource::File(Path::new(path)),
        }
    }
}

impl Topology {
    /// The kind of node `name`: its own `kind`, else `defaults.kind`, else `uml`. A name that
    /// is not a node (including `host`, the root namespace) gets the default kind.
    pub fn node_kind(&self, name: &str) -> NodeKind {
        self.nodes
            .get(name)
            .and_then(|n| n.kind)
            .or(self.defaults.kind)
            .unwrap_or(NodeKind::Uml)
    }

    /// The UML kernel of node `name`: its own, else the default, else the appliance kernel in
    /// the flavour its clock needs. After loading, a path given in the file is absolute.
    pub fn effective_kernel(&self, name: &str) -> KernelChoice {
        match self
            .nodes
            .get(name)
            .and_then(|n| n.kernel.as_deref())
            .or(self.defaults.kernel.as_deref())
        {
            None | Some(APPLIANCE_KERNEL) => {
                KernelChoice::Appliance(match self.effective_clock(name) {
                    Clock::Real => Flavour::Smp,
                    Clock::Virtual => Flavour::TimeTravel,
                })
            }
            Some(path) => KernelChoice::File(path.to_string()),
        }
    }

    /// The virtual CPUs of node `name`: its own, else the default, else 1.
    pub fn effective_vcpus(&self, name: &str) -> u32 {
        self.nodes
            .get(name)
            .and_then(|n| n.vcpus)
            .or(self.defaults.vcpus)
            .unwrap_or(1)
    }

    /// The userspace mode node `name` asks for (`None`: the host decides).
    pub fn effective_userspace(&self, name: &str) -> Option<Userspace> {
        self.nodes
            .get(name)
            .and_then(|n| n.userspace)
            .or(self.defaults.userspace)
    }

    /// The clock of node `name`: its own, else the default, else `real`.
    pub fn effective_clock(&self, name: &str) -> Clock {
        self.nodes
            .get(name)
            .and_then(|n| n.clock)
            .or(self.defaults.clock)
            .unwrap_or(Clock::Real)
    }

    /// The image of node `name`: its own, else the default, else `minimal`. After loading, an
    /// image path is absolute.
    pub fn effective_image(&self, name: &str) -> String {
        self.image_str(name).to_string()
    }

    fn image_str(&self, name: &str) -> &str {
        self.nodes
            .get(name)
            .and_then(|n| n.image.as_deref())
            .or(self.defaults.image.as_deref())
            .unwrap_or(DEFAULT_IMAGE)
    }

    /// `effective_image` classified as built-in or file.
    pub fn image_source(&self, name: &str) -> ImageSource<'_> {
        ImageSource::parse(self.image_str(name))
    }

    /// The memory of node `name`: its own, else the default, else 128 MiB.
    pub fn effective_memory(&self, name: &str) -> Memory {
        self.nodes
            .get(name)
            .and_then(|n| n.memory)
            .or(self.defaults.memory)
            .unwrap_or(DEFAULT_MEMORY)
    }

    /// The restart policy of node `name`: its own, else the default, else `on-failure`.
    pub fn effective_restart(&self, name: &str) -> RestartPolicy {
        self.nodes
            .get(name)
            .and_then(|n| n.restart)
            .or(self.defaults.restart)
            .unwrap_or(RestartPolicy::OnFailure)
    }
}

impl Link {
    /// The link's transport, `raw` if unset.
    pub fn effective_transport(&self) -> Transport {
        self.transport.unwrap_or(Transport::Raw)
    }
}

impl Topology {
    /// True if umlvnf's own datapath carries `link`: a `wire`, or a `gre`/`l2tpv3` link with
    /// an end that is not a uml guest (a host node or `host:IFNAME`), whose tunnel umlvnf
    /// terminates in userspace.
    pub fn link_uses_datapath(&self, link: &Link) -> bool {
        match link.effective_transport() {
            Transport::Wire => true,
            t if t.is_tunnel() => link
                .endpoints
                .iter()
                .any(|e| e.is_root() || self.node_kind(&e.node) == NodeKind::Host),
            _ => false,
        }
    }

    /// True if `endpoint` is an interface of a uml guest.
    pub fn is_guest_endpoint(&self, endpoint: &Endpoint) -> bool {
        !endpoint.is_root()
            && self.nodes.contains_key(&endpoint.node)
            && self.node_kind(&endpoint.node) == NodeKind::Uml
    }
}

impl FileCopy {
    /// The permission bits: `mode` parsed as octal, else 0o644. A loaded topology's modes
    /// always parse.
    pub fn mode_bits(&self) -> u32 {
        self.mode.as_deref().and_then(parse_mode).unwrap_or(0o644)
    }
}

/// Parses an octal mode such as `0644`, `644` or `0o644`; `None` unless it is 0 to 0o7777.
pub(crate) fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_up_to_7777() {
        assert_eq!(parse_mode("0644"), Some(0o644));
        assert_eq!(parse_mode("755"), Some(0o755));
        assert_eq!(parse_mode("0o600"), Some(0o600));
        assert_eq!(parse_mode("7777"), Some(0o7777));
        assert_eq!(parse_mode("0"), Some(0));
        for bad in ["", "0o", "0999", "17777", "rwx", "-644", "0x1ff", "000644"] {
            assert_eq!(parse_mode(bad), None, "{bad}");
        }
    }

    #[test]
    fn image_values_classify() {
        assert_eq!(ImageSource::parse("minimal"), ImageSource::Minimal);
        assert_eq!(ImageSource::parse("debian"), ImageSource::Debian);
        assert_eq!(
            ImageSource::parse("/x/r.img"),
            ImageSource::File(Path::new("/x/r.img"))
        );
    }
}
