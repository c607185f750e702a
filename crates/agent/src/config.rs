//! What a guest is configured with at boot: the content of its config drive.
//!
//! The runtime fills a [`GuestConfig`] from the topology; the agent applies it in a fixed order
//! (modules, loopback, interfaces, sysctls, files, nftables, routes, exec commands).

use serde::{Deserialize, Serialize};

/// The whole configuration of one guest node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestConfig {
    /// Name of the lab the node belongs to (informational, used in messages).
    pub lab: String,
    /// Name of the node in the topology (informational, used in messages).
    pub node: String,
    /// Hostname set inside the guest with `sethostname` (left unchanged if empty).
    pub hostname: String,
    /// Kernel modules loaded with `modprobe NAME`, in order.
    #[serde(default)]
    pub modules: Vec<String>,
    /// Network interfaces to rename, size and address.
    #[serde(default)]
    pub interfaces: Vec<InterfaceConfig>,
    /// Routes added after interfaces, sysctls, files and nftables.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Sysctls as (`net.ipv4.ip_forward`, `1`) pairs, written to `/proc/sys/...`.
    #[serde(default)]
    pub sysctls: Vec<(String, String)>,
    /// An nftables ruleset, written to `/etc/umlvnf/nftables.nft` and loaded with `nft -f`.
    #[serde(default)]
    pub nftables: Option<String>,
    /// Files written into the guest (parent directories are created).
    #[serde(default)]
    pub files: Vec<FileConfig>,
    /// Shell commands run last, in order, each with `sh -c`; a non-zero exit fails the boot.
    #[serde(default)]
    pub exec: Vec<String>,
}

/// One network interface of a guest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceConfig {
    /// The kernel's name for the device, e.g. `vec0` (from `vec0:` on the UML command line).
    pub device: String,
    /// The name it gets inside the guest, e.g. `eth0`.
    pub name: String,
    /// MTU to set, if not the default.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// IPv4 addresses with prefix length, e.g. `10.1.0.254/24`.
    #[serde(default)]
    pub ipv4: Vec<String>,
    /// IPv6 addresses with prefix length, e.g. `2001:db8::1/64` (added without DAD).
    #[serde(default)]
    pub ipv6: Vec<String>,
}

/// One route, in iproute2 syntax after `ip route add`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The route, e.g. `10.2.0.0/24 via 10.1.0.1` or `default via 10.1.0.1 dev eth0`.
    pub route: String,
    /// Whether it is an IPv6 route (`ip -6 route add`).
    #[serde(default)]
    pub v6: bool,
}

/// One file written into the guest before nftables, routes and exec commands run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Absolute path inside the guest.
    pub path: String,
    /// Permission bits, e.g. `0o644`.
    pub mode: u32,
    /// File content (base64 in JSON).
    #[serde(with = "crate::base64::bytes")]
    pub data: Vec<u8>,
}
