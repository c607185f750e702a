//! What a guest is configured with at boot: the content of its config drive.
//!
//! The runtime fills a [`GuestConfig`] from the topology; the agent applies it in a fixed order
//! (modules, loopback, interfaces, sysctls, files, nftables, iptables, ip6tables, routes, exec
//! commands).
//!
//! Debian's UML kernel has no `NF_TABLES_IPV4`/`IPV6`/`INET`: an nftables ruleset can only use
//! the `bridge` family there. IP filtering and NAT go in [`GuestConfig::iptables`] and
//! [`GuestConfig::ip6tables`], loaded with `iptables-legacy-restore` (x_tables).

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
    /// Routes added after interfaces, sysctls, files, nftables and iptables.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Sysctls as (`net.ipv4.ip_forward`, `1`) pairs, written to `/proc/sys/...`.
    #[serde(default)]
    pub sysctls: Vec<(String, String)>,
    /// An nftables ruleset, written to `/etc/umlvnf/nftables.nft` and loaded with `nft -f`.
    #[serde(default)]
    pub nftables: Option<String>,
    /// An IPv4 ruleset in `iptables-save` format (`*filter`, `:FORWARD ACCEPT [0:0]`,
    /// `-A FORWARD ...`, `COMMIT`), loaded right after nftables: written to
    /// `/etc/umlvnf/iptables.rules`, `ip_tables` loaded with `modprobe`, then fed on stdin to
    /// the first of `iptables-legacy-restore`, `iptables-restore` found on `PATH` (which
    /// flushes the tables the ruleset names). Step name `iptables`.
    #[serde(default)]
    pub iptables: Option<String>,
    /// An IPv6 ruleset in `ip6tables-save` format, loaded after [`GuestConfig::iptables`]:
    /// written to `/etc/umlvnf/ip6tables.rules`, `ip6_tables` loaded with `modprobe`, then fed
    /// to `ip6tables-legacy-restore` or `ip6tables-restore`. Step name `ip6tables`.
    #[serde(default)]
    pub ip6tables: Option<String>,
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
    /// Send an LLDP frame on the interface every [`crate::agent::keepalive::EVERY`], so that
    /// the far end of a link to a remote end sees frames even when the link is idle.
    #[serde(default)]
    pub keepalive: bool,
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

/// One file written into the guest before nftables, iptables, routes and exec commands run.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_fields_default_to_none_and_round_trip() {
        let old: GuestConfig =
            serde_json::from_str(r#"{"lab":"l","node":"n","hostname":"h"}"#).unwrap();
        assert_eq!(old.iptables, None);
        assert_eq!(old.ip6tables, None);
        let cfg = GuestConfig {
            iptables: Some("*filter\n-A FORWARD -p tcp --dport 23 -j DROP\nCOMMIT\n".into()),
            ip6tables: Some("*filter\nCOMMIT\n".into()),
            ..GuestConfig::default()
        };
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(json.contains(r#""iptables":"*filter\n"#), "{json}");
        assert_eq!(serde_json::from_str::<GuestConfig>(&json).unwrap(), cfg);
    }
}
