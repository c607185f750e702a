//! The typed model of a topology file: what `load` returns once a file is valid.
//!
//! Every type here is plain data. Parsing of scalar fields (memory sizes, MAC addresses,
//! endpoints, routes) lives in `FromStr` implementations so that the loader can report a bad
//! value with the file, line and column it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::endpoint::{Endpoint, ValueError};

/// A whole lab: nodes and the links between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Lab name: lower-case letters, digits and `-`, at most 12 characters. It prefixes every
    /// host object the lab owns.
    pub name: String,
    /// Values that apply to every node that does not set them itself.
    #[serde(default)]
    pub defaults: NodeDefaults,
    /// The nodes, by name (lower-case letters, digits and `-`, at most 12 characters).
    pub nodes: BTreeMap<String, Node>,
    /// Point-to-point links between node interfaces.
    #[serde(default)]
    pub links: Vec<Link>,
    /// The Prometheus metrics endpoint of the lab.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// What the lab may reach outside itself on the host. Everything is off unless set.
    #[serde(default)]
    pub host_access: HostAccess,
    /// The machines the lab is spread over, by name (like node names). Each plans its own
    /// share (`umlvnf plan --host NAME`); links between nodes on different hosts become
    /// L2TPv3-over-UDP tunnels between the hosts' addresses. Without it the whole lab runs on
    /// one machine.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, HostSpec>,
}

/// One machine of a lab spread over several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// The host's underlay address: where the other hosts send its tunnels.
    #[schemars(with = "String")]
    pub address: IpAddr,
    /// How many nodes it may hold (default: no limit).
    pub capacity: Option<u32>,
}

/// Host-facing choices a topology must make explicitly: each reaches outside the lab.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostAccess {
    /// Host files and directories outside the topology file's directory may be used:
    /// `hostfs` shares, `files[].src` and ruleset files.
    #[serde(default)]
    pub host_files: bool,
    /// The lab may put interfaces into the host's root namespace (`host:IFNAME` endpoints)
    /// and join a host bridge that exists already.
    #[serde(default)]
    pub host_interfaces: bool,
    /// The metrics endpoint may listen on an address other than loopback.
    #[serde(default)]
    pub public_metrics: bool,
}

impl HostAccess {
    /// The names of what is allowed, as written in topology files.
    pub fn granted(&self) -> Vec<&'static str> {
        [
            ("host_files", self.host_files),
            ("host_interfaces", self.host_interfaces),
            ("public_metrics", self.public_metrics),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| n)
        .collect()
    }
}

/// Where `umlvnf up` serves `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Listen address, such as `127.0.0.1:9477` (the default). A port taken by another lab is
    /// an error when set here; the default falls back to a free port.
    #[schemars(with = "Option<String>")]
    pub listen: Option<std::net::SocketAddr>,
    /// Turn the endpoint off.
    pub disabled: Option<bool>,
}

/// Defaults for every node of a lab.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeDefaults {
    /// Default node kind (`uml` if unset).
    pub kind: Option<NodeKind>,
    /// Default guest image: `minimal`, `debian`, or a path to an ext4 image.
    pub image: Option<String>,
    /// Default UML kernel: `appliance` (umlvnf's own kernel, the default) or the path of a
    /// UML kernel binary.
    pub kernel: Option<String>,
    /// Default guest memory, such as `128M` (at least 64M).
    pub memory: Option<Memory>,
    /// Default restart policy of guests.
    pub restart: Option<RestartPolicy>,
    /// Default number of virtual CPUs of guests.
    pub vcpus: Option<u32>,
    /// Default way guest processes are run.
    pub userspace: Option<Userspace>,
    /// Default guest clock.
    pub clock: Option<Clock>,
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A User Mode Linux guest (a virtual router or firewall).
    Uml,
    /// A test host: a network namespace on the host kernel.
    Host,
}

/// One node of the lab.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// `uml` (default) or `host`.
    pub kind: Option<NodeKind>,
    /// Guest image: `minimal`, `debian`, or a path to an ext4 image (uml only).
    pub image: Option<String>,
    /// UML kernel (uml only): `appliance` (umlvnf's own kernel, the default) or the path of
    /// a UML kernel binary.
    pub kernel: Option<String>,
    /// Guest memory (uml only), such as `128M`.
    pub memory: Option<Memory>,
    /// Interfaces by name (Linux interface names, at most 15 bytes).
    #[serde(default)]
    pub interfaces: BTreeMap<String, Interface>,
    /// Static routes in iproute2 syntax: `default via 10.1.0.254`, `10.9.0.0/16 via 10.2.0.1`.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Sysctls applied at boot, such as `net.ipv4.ip_forward: 1`.
    #[serde(default)]
    pub sysctls: BTreeMap<String, SysctlValue>,
    /// An nftables ruleset (uml only): inline text, or a path to a file relative to the
    /// topology file. After loading, this holds the ruleset text.
    pub nftables: Option<String>,
    /// An iptables ruleset in `iptables-restore` format (uml only): inline text, or a path to
    /// a file relative to the topology file. After loading, this holds the ruleset text.
    pub iptables: Option<String>,
    /// An ip6tables ruleset in `ip6tables-restore` format (uml only), like `iptables`.
    pub ip6tables: Option<String>,
    /// Shell commands run in order once the node is configured.
    #[serde(default)]
    pub exec: Vec<String>,
    /// Files copied into the guest at boot (uml only).
    #[serde(default)]
    pub files: Vec<FileCopy>,
    /// What to do when the guest process ends (uml only).
    pub restart: Option<RestartPolicy>,
    /// Host CPUs the guest is pinned to (uml only).
    pub cpus: Option<Vec<u32>>,
    /// A host directory the guest may mount with hostfs (uml only). Off unless set: without
    /// it the guest's hostfs is confined to an empty directory.
    pub hostfs: Option<String>,
    /// Virtual CPUs of the guest (uml only), 1 to 8; default 1. More than one needs the
    /// seccomp userspace and a real clock.
    pub vcpus: Option<u32>,
    /// How the guest kernel runs its processes (uml only): `seccomp` (default where the host
    /// allows it) or `ptrace`.
    pub userspace: Option<Userspace>,
    /// The guest's clock (uml only): `real` (default) or `virtual`, which jumps over idle
    /// time (time-travel) so that protocol timers can be tested in seconds.
    pub clock: Option<Clock>,
    /// The host (a name under `hosts:`) the node runs on; nodes without it are placed by
    /// umlvnf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// How a UML kernel runs guest processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Userspace {
    /// Under a seccomp filter, with the UML kernel as a cooperating stub (faster fork and
    /// page faults; needed for more than one vCPU).
    Seccomp,
    /// Traced with ptrace (the classic mode).
    Ptrace,
}

/// A guest's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    /// The host's time.
    Real,
    /// Time-travel: idle time passes at once.
    Virtual,
}

/// One interface of a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// IPv4 addresses with prefix length.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ipv4: Vec<Ipv4Net>,
    /// IPv6 addresses with prefix length.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ipv6: Vec<Ipv6Net>,
    /// MTU, 576 to 65534 on uml nodes.
    pub mtu: Option<u32>,
    /// MAC address, unicast, such as `02:00:00:00:01:01`.
    pub mac: Option<MacAddr>,
}

/// A link between two endpoints (or one endpoint and a `remote` tunnel end).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Two endpoints, `node:interface`, or `host:IFNAME` for an interface in the host's root
    /// namespace; exactly one with `remote`.
    pub endpoints: Vec<Endpoint>,
    /// How the ends attach: `raw` (default), `tap`, `hybrid`, `gre`, `l2tpv3` or `wire`.
    pub transport: Option<Transport>,
    /// Packets per vector read or write, 1 to 2048 (UML's default is 64).
    pub depth: Option<u32>,
    /// Let UML accept GSO frames up to 64 KiB (`gro=1`).
    pub gro: Option<bool>,
    /// A host bridge that the link's tap interfaces join (`tap` and `hybrid` only). Created and
    /// owned by the lab if it does not exist.
    pub bridge: Option<String>,
    /// GRE options (`transport: gre` only).
    pub gre: Option<crate::tunnel::GreOptions>,
    /// L2TPv3 options (`transport: l2tpv3` only).
    pub l2tpv3: Option<crate::tunnel::L2tpv3Options>,
    /// The far end of a `gre` or `l2tpv3` tunnel with a single endpoint.
    pub remote: Option<crate::tunnel::RemoteEnd>,
    /// Datapath options (`transport: wire` only).
    pub wire: Option<crate::tunnel::WireOptions>,
    /// Impairments applied by umlvnf's datapath (links it carries only).
    pub impair: Option<crate::tunnel::Impairments>,
    /// A pcap filter expression per endpoint, applied to the frames that endpoint receives.
    #[serde(default)]
    pub filter: BTreeMap<Endpoint, String>,
    /// Let guests load BPF programs into their own vector interfaces (`bpfflash=1`).
    pub bpfflash: Option<bool>,
}

/// How a UML guest's vector interface attaches to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// AF_PACKET raw socket on a veth end.
    Raw,
    /// A tap interface.
    Tap,
    /// A tap for transmit and a raw socket for receive.
    Hybrid,
    /// GRE (Ethernet over GRE), guest to guest directly or terminated by umlvnf.
    Gre,
    /// L2TPv3 Ethernet pseudowire, over UDP or IP.
    L2tpv3,
    /// umlvnf's own datapath joins the two ends (impairments, filters, captures).
    Wire,
}

impl Transport {
    /// The name written in topology files.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Raw => "raw",
            Transport::Tap => "tap",
            Transport::Hybrid => "hybrid",
            Transport::Gre => "gre",
            Transport::L2tpv3 => "l2tpv3",
            Transport::Wire => "wire",
        }
    }

    /// True for `gre` and `l2tpv3`.
    pub fn is_tunnel(self) -> bool {
        matches!(self, Transport::Gre | Transport::L2tpv3)
    }
}

/// Restart policy of a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never restart.
    No,
    /// Restart when the guest ends other than by a halt from inside or by the runtime.
    OnFailure,
    /// Always restart unless the runtime stopped it.
    Always,
}

/// A file copied into a guest at boot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileCopy {
    /// Host path, relative to the topology file. After loading, an absolute path.
    pub src: String,
    /// Absolute path inside the guest.
    pub dst: String,
    /// Octal permission bits, such as `"0644"` (default 0644).
    pub mode: Option<String>,
}

/// A sysctl value: YAML integers, booleans and strings are all accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SysctlValue {
    /// An integer such as `1`.
    Int(i64),
    /// A boolean, written as 1 or 0.
    Bool(bool),
    /// Any other value.
    Text(String),
}

impl fmt::Display for SysctlValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SysctlValue::Int(v) => write!(f, "{v}"),
            SysctlValue::Bool(b) => write!(f, "{}", u8::from(*b)),
            SysctlValue::Text(s) => f.write_str(s),
        }
    }
}

/// A memory size in bytes, written `128M`, `1G`, `65536K` or a plain number of MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "MemoryText", into = "String")]
#[schemars(with = "String")]
pub struct Memory {
    /// Size in bytes.
    pub bytes: u64,
}

/// A MAC address.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct MacAddr(pub [u8; 6]);

/// A static route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct Route {
    /// Destination; `None` is the default route.
    pub dst: Option<IpNet>,
    /// Gateway.
    pub via: Option<IpAddr>,
    /// Output interface.
    pub dev: Option<String>,
    /// Route metric.
    pub metric: Option<u32>,
    /// For a default route, whether it is the IPv6 one (`default via fe80::1`).
    pub v6: bool,
}

/// Memory sizes come from YAML as strings or integers.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum MemoryText {
    Int(u64),
    Text(String),
}

impl TryFrom<MemoryText> for Memory {
    type Error = ValueError;
    fn try_from(value: MemoryText) -> Result<Self, ValueError> {
        match value {
            MemoryText::Int(mib) => mib
                .checked_mul(1 << 20)
                .map(|bytes| Memory { bytes })
                .ok_or_else(|| ValueError::new(format!("memory size {mib} MiB is too large"))),
            MemoryText::Text(s) => s.parse(),
        }
    }
}

impl std::str::FromStr for Memory {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let bad = || {
            ValueError::new(format!(
                "`{s}` is not a memory size: write a whole number with a K, M or G suffix, such as 128M"
            ))
        };
        let t = s.trim();
        let (num, mult) = match t.char_indices().last() {
            Some((i, 'K' | 'k')) => (&t[..i], 1u64 << 10),
            Some((i, 'M' | 'm')) => (&t[..i], 1u64 << 20),
            Some((i, 'G' | 'g')) => (&t[..i], 1u64 << 30),
            Some(_) => (t, 1u64 << 20),
            None => return Err(bad()),
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        let bytes = n.checked_mul(mult).ok_or_else(bad)?;
        Ok(Memory { bytes })
    }
}

impl Memory {
    /// The size in MiB, rounded down.
    pub fn mib(&self) -> u64 {
        self.bytes >> 20
    }
}

impl From<Memory> for String {
    fn from(m: Memory) -> String {
        format!("{}M", m.mib())
    }
}

impl TryFrom<String> for MacAddr {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, ValueError> {
        s.parse()
    }
}

impl std::str::FromStr for MacAddr {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let bad = || {
            ValueError::new(format!(
                "`{s}` is not a MAC address: write six hex bytes separated by `:`, such as 02:00:00:00:01:01"
            ))
        };
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for b in out.iter_mut() {
            let p = parts.next().ok_or_else(bad)?;
            if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        if out[0] & 1 == 1 {
            return Err(ValueError::new(format!(
                "`{s}` is a multicast MAC address: an interface needs a unicast one (even first byte), such as 02:00:00:00:01:01"
            )));
        }
        if out == [0; 6] {
            return Err(ValueError::new(format!(
                "`{s}` is the all-zero MAC address: use a unicast one, such as 02:00:00:00:01:01"
            )));
        }
        Ok(MacAddr(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl From<MacAddr> for String {
    fn from(m: MacAddr) -> String {
        m.to_string()
    }
}

impl TryFrom<String> for Route {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, ValueError> {
        s.parse()
    }
}

impl std::str::FromStr for Route {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let usage = "write DEST [via GATEWAY] [dev IFNAME] [metric N], where DEST is `default` or a prefix such as 10.9.0.0/16, for example `default via 10.1.0.254`";
        let bad = |why: &str| ValueError::new(format!("route `{s}`: {why}; {usage}"));
        let mut words = s.split_whitespace();
        let dst_word = words.next().ok_or_else(|| bad("it is empty"))?;
        let dst = if dst_word == "default" {
            None
        } else if dst_word.contains('/') {
            Some(
                dst_word
                    .parse::<IpNet>()
                    .map_err(|_| bad("the destination is not a prefix"))?,
            )
        } else {
            let a: IpAddr = dst_word
                .parse()
                .map_err(|_| bad("the destination is not `default`, an address or a prefix"))?;
            Some(IpNet::from(a))
        };
        let mut route = Route {
            dst: dst.map(|n| n.trunc()),
            via: None,
            dev: None,
            metric: None,
            v6: false,
        };
        while let Some(key) = words.next() {
            let value = words
                .next()
                .ok_or_else(|| bad(&format!("`{key}` needs a value")))?;
            match key {
                "via" if route.via.is_none() => {
                    route.via = Some(
                        value
                            .parse()
                            .map_err(|_| bad("the gateway is not an IP address"))?,
                    )
                }
                "dev" if route.dev.is_none() => {
                    if !crate::names::is_valid_ifname(value) {
                        return Err(bad("the device is not a valid interface name"));
                    }
                    route.dev = Some(value.to_string())
                }
                "metric" if route.metric.is_none() => {
                    route.metric = Some(
                        value
                            .parse()
                            .map_err(|_| bad("the metric is not a whole number"))?,
                    )
                }
                _ => return Err(bad(&format!("`{key}` is not expected here"))),
            }
        }
        if route.via.is_none() && route.dev.is_none() {
            return Err(bad("it needs a gateway (`via`) or a device (`dev`)"));
        }
        route.v6 = match (route.dst, route.via) {
            (Some(d), Some(v)) if d.addr().is_ipv6() != v.is_ipv6() => {
                return Err(bad(
                    "the destination and the gateway are of different IP versions",
                ))
            }
            (Some(d), _) => d.addr().is_ipv6(),
            (None, Some(v)) => v.is_ipv6(),
            (None, None) => false,
        };
        Ok(route)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.dst {
            Some(d) => write!(f, "{d}")?,
            None => f.write_str("default")?,
        }
        if let Some(v) = self.via {
            write!(f, " via {v}")?;
        }
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        Ok(())
    }
}

impl From<Route> for String {
    fn from(r: Route) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_with_suffixes() {
        assert_eq!("128M".parse::<Memory>().map(|m| m.mib()), Ok(128));
        assert_eq!("1G".parse::<Memory>().map(|m| m.mib()), Ok(1024));
        assert_eq!("65536K".parse::<Memory>().map(|m| m.mib()), Ok(64));
        assert_eq!("256".parse::<Memory>().map(|m| m.mib()), Ok(256));
        assert_eq!("2g".parse::<Memory>().map(|m| m.bytes), Ok(2 << 30));
        for bad in [
            "",
            "M",
            "12T",
            "-1M",
            "1.5G",
            "99999999999999999999G",
            "１M",
        ] {
            let err = bad.parse::<Memory>().expect_err(bad);
            assert!(err.message.contains("such as 128M"), "{bad}: {err}");
        }
        assert_eq!(String::from(Memory { bytes: 96 << 20 }), "96M");
    }

    #[test]
    fn mac_addresses_must_be_unicast_and_well_formed() {
        let mac: MacAddr = "02:00:00:AB:01:ff".parse().expect("valid");
        assert_eq!(mac.0, [2, 0, 0, 0xab, 1, 0xff]);
        assert_eq!(mac.to_string(), "02:00:00:ab:01:ff");
        assert!("01:00:5e:00:00:01"
            .parse::<MacAddr>()
            .expect_err("multicast")
            .message
            .contains("multicast"));
        assert!("00:00:00:00:00:00"
            .parse::<MacAddr>()
            .expect_err("zero")
            .message
            .contains("all-zero"));
        for bad in [
            "",
            "02:00:00:00:01",
            "02:00:00:00:01:01:01",
            "2:0:0:0:1:1",
            "02-00-00-00-01-01",
            "0g:00:00:00:00:01",
            "+2:00:00:00:00:01",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints_are_node_colon_interface() {
        let e: Endpoint = "r1:eth0".parse().expect("valid");
        assert_eq!((e.node.as_str(), e.interface.as_str()), ("r1", "eth0"));
        assert!(!e.is_root());
        assert_eq!(e.to_string(), "r1:eth0");
        let h: Endpoint = "host:lab0".parse().expect("valid");
        assert!(h.is_root());
        for bad in ["", "r1", "r1:", ":eth0", "r1:eth0:1", ":"] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }

    #[test]
    fn routes_parse_like_iproute2() {
        let r: Route = "default via 10.1.0.254".parse().expect("valid");
        assert_eq!(
            (r.dst, r.via, r.v6),
            (None, Some("10.1.0.254".parse().expect("ip")), false)
        );
        assert_eq!(r.to_string(), "default via 10.1.0.254");
        let r: Route = "10.9.1.7/16 via 10.2.0.1 dev eth1 metric 5"
            .parse()
            .expect("valid");
        assert_eq!(r.dst, Some("10.9.0.0/16".parse().expect("net")));
        assert_eq!(r.dev.as_deref(), Some("eth1"));
        assert_eq!(r.metric, Some(5));
        assert_eq!(r.to_string(), "10.9.0.0/16 via 10.2.0.1 dev eth1 metric 5");
        let r: Route = "default via fe80::1 dev eth0".parse().expect("valid");
        assert!(r.v6);
        let r: Route = "10.3.0.1 dev eth0".parse().expect("host route");
        assert_eq!(r.dst, Some("10.3.0.1/32".parse().expect("net")));
        let r: Route = "fd00::/8 dev eth0".parse().expect("v6 without gateway");
        assert!(r.v6);
        for bad in [
            "",
            "default",
            "10.0.0.0/8",
            "nowhere via 10.0.0.1",
            "10.0.0.0/33 via 10.0.0.1",
            "default via 10.0.0.1 via 10.0.0.2",
            "default via",
            "default via banana",
            "default dev eth0,x=1",
            "default via 10.0.0.1 metric -1",
            "10.0.0.0/8 via fd00::1",
            "default via 10.0.0.1 table 5",
        ] {
            let err = bad.parse::<Route>().expect_err(bad);
            assert!(err.message.contains("for example"), "{bad}: {err}");
        }
    }

    #[test]
    fn sysctl_values_display_as_written_to_proc() {
        assert_eq!(SysctlValue::Int(-3).to_string(), "-3");
        assert_eq!(SysctlValue::Bool(true).to_string(), "1");
        assert_eq!(SysctlValue::Bool(false).to_string(), "0");
        assert_eq!(
            SysctlValue::Text("4096 87380".into()).to_string(),
            "4096 87380"
        );
    }
}
