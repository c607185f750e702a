//! The plan's parts: host steps, host nodes, guests and links as deployed.

use std::path::PathBuf;

use serde::Serialize;
use umlvnf_topology::{RestartPolicy, Route};

use crate::{BpfFilePlan, WirePlan};

/// A whole deploy.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Lab name.
    pub lab: String,
    /// The lab's state directory (0700): sockets, overlays, config drives, logs, state file.
    pub lab_dir: PathBuf,
    /// The owner mark written as alias on every interface the lab creates.
    pub owner: String,
    /// What the topology allows the lab to reach on the host (`host_access`), by name.
    pub host_access: Vec<String>,
    /// Host objects in creation order.
    pub host_steps: Vec<HostStep>,
    /// Configuration of `host` nodes, applied inside their namespaces.
    pub host_nodes: Vec<HostNodePlan>,
    /// UML guests.
    pub guests: Vec<GuestPlan>,
    /// Every link with the host interfaces that carry it.
    pub links: Vec<LinkPlan>,
    /// Wires of umlvnf's datapath, created after the host steps and before the guests boot
    /// (guests attached by `bess` connect to their socket when they bring the interface up).
    pub wires: Vec<WirePlan>,
    /// Filters to compile into classic BPF files before the guests boot (`bpffile=`).
    pub bpf_files: Vec<BpfFilePlan>,
    /// Which lab and host this is the share of, for a lab spread over several machines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_of: Option<ShareOf>,
}

/// The lab a share belongs to and the host that runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareOf {
    /// The whole lab's name (the topology's `name`); the share itself runs as `LAB.HOST`.
    pub lab: String,
    /// The host, a name under the topology's `hosts:`.
    pub host: String,
}

/// One host-side action.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum HostStep {
    /// Create a network namespace.
    Netns {
        /// Namespace name (under /run/netns).
        name: String,
    },
    /// Create a veth pair in the root namespace.
    Veth {
        /// First end.
        name: String,
        /// Second end.
        peer: String,
    },
    /// Create a persistent tap in the root namespace.
    Tap {
        /// Tap name.
        name: String,
    },
    /// Create a bridge unless one of that name exists (an existing bridge is used, not owned).
    Bridge {
        /// Bridge name.
        name: String,
    },
    /// Move an interface into a namespace under a new name.
    Move {
        /// Current name in the root namespace.
        name: String,
        /// Target namespace.
        netns: String,
        /// Name inside the namespace.
        new_name: String,
    },
    /// Set an interface's MTU.
    Mtu {
        /// Namespace (`None`: root).
        netns: Option<String>,
        /// Interface.
        name: String,
        /// MTU.
        mtu: u32,
    },
    /// Set an interface's MAC address.
    Mac {
        /// Namespace (`None`: root).
        netns: Option<String>,
        /// Interface.
        name: String,
        /// MAC address.
        mac: String,
    },
    /// Enslave an interface to a bridge.
    Master {
        /// Interface.
        name: String,
        /// Bridge.
        bridge: String,
    },
    /// Turn transmit checksum offload, scatter-gather, TSO, GSO and GRO off, so that frames the
    /// datapath reads from the other end are complete and at most one MTU long.
    NoOffload {
        /// Namespace (`None`: root).
        netns: Option<String>,
        /// Interface.
        name: String,
    },
    /// Bring an interface up.
    Up {
        /// Namespace (`None`: root).
        netns: Option<String>,
        /// Interface.
        name: String,
    },
    /// Steer the receive processing of an interface (RPS on its receive queue) to every CPU
    /// the runtime may use except `avoid`: the interface receives what a pinned guest sends,
    /// and that work would otherwise run on the guest's own CPU. Skipped when no CPU is left.
    SteerRx {
        /// Namespace (`None`: root).
        netns: Option<String>,
        /// Interface.
        name: String,
        /// The pinned guest's CPUs.
        avoid: Vec<u32>,
    },
}

/// Configuration of a `host` node.
#[derive(Debug, Clone, Serialize)]
pub struct HostNodePlan {
    /// Node name.
    pub node: String,
    /// Its namespace.
    pub netns: String,
    /// Addresses per interface.
    pub addresses: Vec<(String, String)>,
    /// Routes (iproute2 syntax).
    pub routes: Vec<Route>,
    /// Sysctls.
    pub sysctls: Vec<(String, String)>,
    /// Commands run with `sh -c` in the namespace once every node is ready.
    pub exec: Vec<String>,
    /// Interfaces whose link goes to a remote end through umlvnf's datapath (`remote:`, or a
    /// link to a node on another host): the runtime sends keepalives on them from inside the
    /// namespace and watches for the peer's, as the agent does in a guest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keepalive: Vec<String>,
}

/// One UML guest.
#[derive(Debug, Clone, Serialize)]
pub struct GuestPlan {
    /// Node name (also its umid).
    pub node: String,
    /// The full command line; `argv[0]` is the kernel.
    pub argv: Vec<String>,
    /// Base image.
    pub base_image: PathBuf,
    /// Copy-on-write overlay.
    pub cow: PathBuf,
    /// Config drive (ubd1).
    pub config_drive: PathBuf,
    /// The only directory hostfs may mount.
    pub hostfs_dir: PathBuf,
    /// Whether `hostfs_dir` is the topology's shared directory (not created or removed by us).
    pub hostfs_shared: bool,
    /// Kernel and stderr log.
    pub log: PathBuf,
    /// Console output log.
    pub console_log: PathBuf,
    /// Guest memory in bytes.
    pub memory: u64,
    /// CPUs to pin to.
    pub cpus: Option<Vec<u32>>,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Host capabilities the guest keeps: only what its links need.
    pub capabilities: Vec<String>,
    /// What the agent applies.
    pub setup: GuestSetup,
}

/// What the in-guest agent applies at boot.
#[derive(Debug, Clone, Serialize)]
pub struct GuestSetup {
    /// Kernel modules to load.
    pub modules: Vec<String>,
    /// Interfaces: UML device (`vec0`) → name and addresses.
    pub interfaces: Vec<GuestInterface>,
    /// Routes.
    pub routes: Vec<Route>,
    /// Sysctls.
    pub sysctls: Vec<(String, String)>,
    /// nftables ruleset text.
    pub nftables: Option<String>,
    /// iptables ruleset (iptables-restore format).
    pub iptables: Option<String>,
    /// ip6tables ruleset (ip6tables-restore format).
    pub ip6tables: Option<String>,
    /// Files copied in: (host source, guest destination, mode).
    pub files: Vec<(PathBuf, String, u32)>,
    /// Commands run in order.
    pub exec: Vec<String>,
}

/// One guest interface.
#[derive(Debug, Clone, Serialize)]
pub struct GuestInterface {
    /// UML device name (`vec0`).
    pub device: String,
    /// UML vector transport (`raw`, `tap`, `bess`, `gre`, ...).
    pub transport: String,
    /// The root-namespace interface the device opens (`ifname=`), if its transport has one.
    pub host_ifname: Option<String>,
    /// Name inside the guest.
    pub name: String,
    /// MTU.
    pub mtu: Option<u32>,
    /// IPv4 addresses with prefix.
    pub ipv4: Vec<String>,
    /// IPv6 addresses with prefix.
    pub ipv6: Vec<String>,
    /// The interface's link goes straight to a remote end (`remote:`, or a link to another
    /// host): the guest sends a keepalive on it, and the runtime watches for the peer's.
    pub keepalive: bool,
}

/// A link as deployed.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LinkPlan {
    /// The two endpoints as written.
    pub endpoints: [String; 2],
    /// Transport of the guest ends (`veth` when no guest is on the link).
    pub transport: String,
    /// Host interfaces that carry it (root namespace names).
    pub host_interfaces: Vec<String>,
    /// The bridge joining it, if any.
    pub bridge: Option<String>,
}
