//! Topology → Plan: everything a deploy will create, computed without side effects.
//!
//! The plan lists every host object in creation order (namespaces, veth pairs, taps, bridges
//! and what is done to them), the configuration of every `host` node, and for every guest the
//! exact UML command line and the configuration its agent applies. `umlvnf plan` prints it and
//! tests compare it with golden files; `apply` executes it.

pub mod naming;
mod render;
pub mod tunnels;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use umlvnf_topology::defaults::KernelChoice;
use umlvnf_topology::{Clock, NodeKind, RestartPolicy, Route, Topology, Transport, Userspace};

pub use render::render_text;
pub use tunnels::{BpfFilePlan, WireEncap, WireEnd, WirePlan, WireSocket};

/// What the planner needs to know about the machine, kept apart so that plans stay pure.
#[derive(Debug, Clone)]
pub struct PlanContext {
    /// Directory holding one state directory per lab.
    pub labs_dir: PathBuf,
    /// Base image path for each image name used by the topology (`minimal`, `debian`, or the
    /// path itself for image files).
    pub images: BTreeMap<String, PathBuf>,
    /// What each kernel the topology names resolves to.
    pub kernels: BTreeMap<KernelChoice, GuestKernel>,
    /// Whether this host lets UML run guest processes under seccomp (the default userspace
    /// where the kernel has it).
    pub seccomp: bool,
    /// Loops per jiffy of this host's delay loop, given to every guest as `lpj=` so that it
    /// skips calibrating it at boot (`None`: the guest calibrates).
    pub loops_per_jiffy: Option<u64>,
}

/// A kernel a guest boots, as far as its command line depends on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestKernel {
    /// The binary.
    pub path: PathBuf,
    /// It loads modules (Debian's kernel): the agent loads what the node needs.
    pub modular: bool,
    /// It takes `seccomp=on|off` (UML 6.16 and later).
    pub seccomp_userspace: bool,
}

/// Why a topology cannot be planned (loading has already validated it; these are the limits
/// that depend on how it is rendered).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A value would reach the UML command line with characters that inject options.
    #[error("node `{node}`: {what} `{value}` cannot go on a UML command line: only letters, digits and `/._+-` are allowed")]
    UnsafeValue {
        /// The guest.
        node: String,
        /// What the value is.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// UML parses at most 20 `key=value` pairs per vector interface.
    #[error("node `{node}` interface `{interface}`: {count} vector options, more than the 20 UML parses")]
    TooManyOptions {
        /// The guest.
        node: String,
        /// The interface.
        interface: String,
        /// How many options were rendered.
        count: usize,
    },
    /// UML joins its arguments into one command line of at most 4096 bytes (`COMMAND_LINE_SIZE`)
    /// and stops the guest at boot when they do not fit.
    #[error("node `{node}`: its UML command line would be {length} bytes, more than the {max} UML accepts: use fewer interfaces or links with fewer options, or shorter names and a shorter labs directory")]
    CommandLineTooLong {
        /// The guest.
        node: String,
        /// The rendered length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// Every vector interface takes two of UML's dynamic interrupts.
    #[error("node `{node}`: {count} vector interfaces, more than the {max} a UML guest can open (each takes two of its 44 dynamic interrupts, which consoles and block devices share): split the node or use fewer links")]
    TooManyInterfaces {
        /// The guest.
        node: String,
        /// How many it has.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A wire's unix socket path would not fit in `sun_path`.
    #[error("the wire socket path `{path}` is longer than the 107 bytes a unix socket path can have: use a shorter labs directory or lab name")]
    SocketPathTooLong {
        /// The path.
        path: String,
    },
    /// A datapath link did not resolve to exactly two wire ends (a topology that passed
    /// validation never does this).
    #[error("link {link} does not have exactly two ends for the datapath: give it two endpoints, or one and a `remote`")]
    WireEnds {
        /// The link's position.
        link: usize,
    },
    /// No base image was resolved for an image name.
    #[error("node `{node}`: no base image for `{image}`")]
    MissingImage {
        /// The guest.
        node: String,
        /// The image name.
        image: String,
    },
    /// No kernel was resolved for a kernel choice.
    #[error("node `{node}`: {kernel} was not resolved to a binary")]
    MissingKernel {
        /// The guest.
        node: String,
        /// The kernel choice.
        kernel: String,
    },
}

/// The longest UML command line: `COMMAND_LINE_SIZE` (4096) less its terminating NUL.
pub const MAX_COMMAND_LINE: usize = 4095;
/// The most vector interfaces a guest gets: UML has 44 dynamic interrupts (20 to 63) and
/// each open vector interface takes two.
pub const MAX_GUEST_INTERFACES: usize = 16;

impl PlanError {
    /// The topology field the problem is about, such as `nodes.r1`, when there is one.
    pub fn field(&self) -> Option<String> {
        match self {
            PlanError::UnsafeValue { node, .. }
            | PlanError::CommandLineTooLong { node, .. }
            | PlanError::TooManyInterfaces { node, .. }
            | PlanError::MissingImage { node, .. }
            | PlanError::MissingKernel { node, .. } => Some(format!("nodes.{node}")),
            PlanError::TooManyOptions {
                node, interface, ..
            } => Some(format!("nodes.{node}.interfaces.{interface}")),
            PlanError::WireEnds { link } => Some(format!("links[{link}]")),
            _ => None,
        }
    }
}

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

/// What one end of a link is.
enum End<'a> {
    Guest { node: &'a str, iface: &'a str },
    HostNode { node: &'a str, iface: &'a str },
    Root { iface: &'a str },
}

/// Computes the plan of a loaded topology.
pub fn plan(topo: &Topology, ctx: &PlanContext) -> Result<Plan, PlanError> {
    let lab = topo.name.as_str();
    let lab_dir = ctx.labs_dir.join(lab);
    let mut p = Plan {
        lab: lab.to_string(),
        lab_dir: lab_dir.clone(),
        owner: naming::owner_alias(lab),
        host_access: topo
            .host_access
            .granted()
            .into_iter()
            .map(str::to_string)
            .collect(),
        host_steps: Vec::new(),
        host_nodes: Vec::new(),
        guests: Vec::new(),
        links: Vec::new(),
        wires: Vec::new(),
        bpf_files: Vec::new(),
    };
    let mut alloc = tunnels::Allocator::new(topo);

    for (name, node) in &topo.nodes {
        if topo.node_kind(name) == NodeKind::Host {
            p.host_steps.push(HostStep::Netns {
                name: naming::netns(lab, name),
            });
            let _ = node;
        }
    }

    // Each guest interface's vector options, keyed by (node, interface).
    let mut vec_opts: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    let mut caps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Receive steering for the far ends of pinned guests' links, applied once every link
    // interface exists and sits in its namespace.
    let mut steer: Vec<HostStep> = Vec::new();

    for (i, link) in topo.links.iter().enumerate() {
        let ends: Vec<End> = link
            .endpoints
            .iter()
            .map(|e| {
                if e.is_root() {
                    End::Root {
                        iface: &e.interface,
                    }
                } else if topo.node_kind(&e.node) == NodeKind::Host {
                    End::HostNode {
                        node: &e.node,
                        iface: &e.interface,
                    }
                } else {
                    End::Guest {
                        node: &e.node,
                        iface: &e.interface,
                    }
                }
            })
            .collect();
        let has_guest = ends.iter().any(|e| matches!(e, End::Guest { .. }));
        let transport = link.transport.unwrap_or(Transport::Raw);
        let mtu = link_mtu(topo, link);
        if matches!(
            transport,
            Transport::Gre | Transport::L2tpv3 | Transport::Wire
        ) {
            let mut acc = tunnels::GuestAcc {
                vec_opts: &mut vec_opts,
                caps: &mut caps,
            };
            let lp = tunnels::plan_link(&mut p, topo, i, link, &ends, mtu, &mut alloc, &mut acc)?;
            p.links.push(lp);
            continue;
        }
        let mut lp = LinkPlan {
            endpoints: [link.endpoints[0].to_string(), link.endpoints[1].to_string()],
            transport: if has_guest {
                transport_name(transport).to_string()
            } else {
                "veth".to_string()
            },
            host_interfaces: Vec::new(),
            bridge: None,
        };
        let tapped = has_guest && transport != Transport::Raw;
        if !tapped {
            // One veth pair; each end goes where its endpoint is.
            let a = naming::link_ifname(lab, i, 'a');
            let b = naming::link_ifname(lab, i, 'b');
            let root_names = [a.clone(), b.clone()];
            let created = match (&ends[0], &ends[1]) {
                (_, End::Root { iface }) => [a.clone(), iface.to_string()],
                (End::Root { iface }, _) => [iface.to_string(), b.clone()],
                _ => root_names,
            };
            p.host_steps.push(HostStep::Veth {
                name: created[0].clone(),
                peer: created[1].clone(),
            });
            for (k, (end, ifname)) in ends.iter().zip(created.iter()).enumerate() {
                place_end(&mut p, topo, lab, end, ifname, mtu, &mut lp);
                if let End::Guest { node, iface } = end {
                    let mut opts = vector_options("raw", ifname, link, topo, node, iface);
                    let ep = umlvnf_topology::Endpoint {
                        node: node.to_string(),
                        interface: iface.to_string(),
                    };
                    let bpffile = tunnels::guest_bpf_file(&mut p, i, link, &ep, true);
                    opts.extend(tunnels::bpf_options(link, bpffile.as_deref()));
                    vec_opts.insert((node.to_string(), iface.to_string()), opts);
                    add_cap(&mut caps, node, "CAP_NET_RAW");
                    if let Some(avoid) = guest_cpus(topo, node) {
                        // What the guest sends arrives at the other end of the pair.
                        let (netns, name) = match &ends[1 - k] {
                            End::HostNode { node, iface } => {
                                (Some(naming::netns(lab, node)), iface.to_string())
                            }
                            _ => (None, created[1 - k].clone()),
                        };
                        steer.push(HostStep::SteerRx { netns, name, avoid });
                    }
                }
            }
        } else {
            // Taps for the guest ends, joined by a bridge unless a tap stands alone for `host:IF`.
            let kind = transport_name(transport);
            let lone_root = link.bridge.is_none()
                && ends
                    .iter()
                    .filter(|e| matches!(e, End::Guest { .. }))
                    .count()
                    == 1
                && ends.iter().any(|e| matches!(e, End::Root { .. }));
            let bridge = if lone_root {
                None
            } else {
                let name = link
                    .bridge
                    .clone()
                    .unwrap_or_else(|| naming::link_bridge(lab, i));
                p.host_steps.push(HostStep::Bridge { name: name.clone() });
                p.host_steps.push(HostStep::Up {
                    netns: None,
                    name: name.clone(),
                });
                Some(name)
            };
            let root_if = ends.iter().find_map(|e| match e {
                End::Root { iface } => Some(*iface),
                _ => None,
            });
            for (side, end) in ['a', 'b'].into_iter().zip(ends.iter()) {
                match end {
                    End::Guest { node, iface } => {
                        let tap = match (lone_root, root_if) {
                            (true, Some(r)) => r.to_string(),
                            _ => naming::link_ifname(lab, i, side),
                        };
                        p.host_steps.push(HostStep::Tap { name: tap.clone() });
                        join_bridge(&mut p, &tap, mtu, bridge.as_deref());
                        if let Some(avoid) = guest_cpus(topo, node) {
                            // The guest's writes to the tap are received by the tap device.
                            steer.push(HostStep::SteerRx {
                                netns: None,
                                name: tap.clone(),
                                avoid,
                            });
                        }
                        lp.host_interfaces.push(tap.clone());
                        let mut opts = vector_options(kind, &tap, link, topo, node, iface);
                        let ep = umlvnf_topology::Endpoint {
                            node: node.to_string(),
                            interface: iface.to_string(),
                        };
                        let bpffile = if transport == Transport::Hybrid {
                            tunnels::guest_bpf_file(&mut p, i, link, &ep, false)
                        } else {
                            None
                        };
                        opts.extend(tunnels::bpf_options(link, bpffile.as_deref()));
                        vec_opts.insert((node.to_string(), iface.to_string()), opts);
                        if transport == Transport::Hybrid {
                            add_cap(&mut caps, node, "CAP_NET_RAW");
                        }
                        add_cap(&mut caps, node, "CAP_NET_ADMIN");
                    }
                    End::Root { .. } if lone_root => {}
                    other => {
                        // A host node or the root namespace joins the bridge through a veth.
                        let h = naming::link_ifname(lab, i, side);
                        let peer = match other {
                            End::Root { iface } => iface.to_string(),
                            _ => naming::link_ifname(lab, i, 'h'),
                        };
                        p.host_steps.push(HostStep::Veth {
                            name: h.clone(),
                            peer: peer.clone(),
                        });
                        place_end(&mut p, topo, lab, other, &peer, mtu, &mut lp);
                        join_bridge(&mut p, &h, mtu, bridge.as_deref());
                        lp.host_interfaces.push(h);
                    }
                }
            }
            lp.bridge = bridge;
        }
        p.links.push(lp);
    }
    p.host_steps.extend(steer);

    for (name, node) in &topo.nodes {
        match topo.node_kind(name) {
            NodeKind::Host => p.host_nodes.push(HostNodePlan {
                node: name.clone(),
                netns: naming::netns(lab, name),
                addresses: node
                    .interfaces
                    .iter()
                    .flat_map(|(ifname, i)| {
                        i.ipv4
                            .iter()
                            .map(|a| a.to_string())
                            .chain(i.ipv6.iter().map(|a| a.to_string()))
                            .map(move |a| (ifname.clone(), a))
                    })
                    .collect(),
                routes: node.routes.clone(),
                sysctls: node
                    .sysctls
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect(),
                exec: node.exec.clone(),
            }),
            NodeKind::Uml => {
                let g = plan_guest(topo, ctx, &lab_dir, name, &vec_opts, &caps)?;
                p.guests.push(g);
            }
        }
    }
    Ok(p)
}

fn transport_name(t: Transport) -> &'static str {
    t.name()
}

fn add_cap(caps: &mut BTreeMap<String, Vec<String>>, node: &str, cap: &str) {
    let list = caps.entry(node.to_string()).or_default();
    if !list.iter().any(|c| c == cap) {
        list.push(cap.to_string());
        list.sort();
    }
}

/// The largest MTU either end of a link asks for: host-side interfaces must carry it.
fn link_mtu(topo: &Topology, link: &umlvnf_topology::Link) -> Option<u32> {
    link.endpoints
        .iter()
        .filter_map(|e| {
            topo.nodes
                .get(&e.node)
                .and_then(|n| n.interfaces.get(&e.interface))
                .and_then(|i| i.mtu)
        })
        .max()
}

/// Emits the steps of a root-namespace interface that joins a link's bridge: MTU, bridge
/// port, up.
fn join_bridge(p: &mut Plan, name: &str, mtu: Option<u32>, bridge: Option<&str>) {
    if let Some(m) = mtu {
        p.host_steps.push(HostStep::Mtu {
            netns: None,
            name: name.to_string(),
            mtu: m,
        });
    }
    if let Some(br) = bridge {
        p.host_steps.push(HostStep::Master {
            name: name.to_string(),
            bridge: br.to_string(),
        });
    }
    p.host_steps.push(HostStep::Up {
        netns: None,
        name: name.to_string(),
    });
}

/// Emits the steps that put one veth end where its endpoint lives.
/// The CPUs guest `node` is pinned to, if it is.
fn guest_cpus(topo: &Topology, node: &str) -> Option<Vec<u32>> {
    topo.nodes
        .get(node)
        .and_then(|n| n.cpus.clone())
        .filter(|c| !c.is_empty())
}

fn place_end(
    p: &mut Plan,
    topo: &Topology,
    lab: &str,
    end: &End,
    ifname: &str,
    mtu: Option<u32>,
    lp: &mut LinkPlan,
) {
    match end {
        End::Guest { .. } | End::Root { .. } => {
            if let Some(m) = mtu {
                p.host_steps.push(HostStep::Mtu {
                    netns: None,
                    name: ifname.to_string(),
                    mtu: m,
                });
            }
            p.host_steps.push(HostStep::Up {
                netns: None,
                name: ifname.to_string(),
            });
            lp.host_interfaces.push(ifname.to_string());
        }
        End::HostNode { node, iface } => {
            let netns = naming::netns(lab, node);
            p.host_steps.push(HostStep::Move {
                name: ifname.to_string(),
                netns: netns.clone(),
                new_name: iface.to_string(),
            });
            let spec = topo.nodes.get(*node).and_then(|n| n.interfaces.get(*iface));
            if let Some(m) = spec.and_then(|s| s.mtu).or(mtu) {
                p.host_steps.push(HostStep::Mtu {
                    netns: Some(netns.clone()),
                    name: iface.to_string(),
                    mtu: m,
                });
            }
            if let Some(mac) = spec.and_then(|s| s.mac) {
                p.host_steps.push(HostStep::Mac {
                    netns: Some(netns.clone()),
                    name: iface.to_string(),
                    mac: mac.to_string(),
                });
            }
            p.host_steps.push(HostStep::Up {
                netns: Some(netns),
                name: iface.to_string(),
            });
        }
    }
}

/// The `key=value` options of one vector interface.
fn vector_options(
    transport: &str,
    ifname: &str,
    link: &umlvnf_topology::Link,
    topo: &Topology,
    node: &str,
    iface: &str,
) -> Vec<(String, String)> {
    let mut opts = vec![
        ("transport".to_string(), transport.to_string()),
        ("ifname".to_string(), ifname.to_string()),
    ];
    if let Some(d) = link.depth {
        opts.push(("depth".into(), d.to_string()));
    }
    if let Some(g) = link.gro {
        opts.push(("gro".into(), u8::from(g).to_string()));
    }
    let spec = topo.nodes.get(node).and_then(|n| n.interfaces.get(iface));
    // A stable MAC: a restarted guest keeps its address, so its neighbours' ARP caches stay
    // right (UML picks a random one otherwise).
    let mac = spec
        .and_then(|s| s.mac)
        .map(|m| m.to_string())
        .unwrap_or_else(|| naming::guest_mac(&topo.name, node, iface));
    opts.push(("mac".into(), mac));
    if let Some(mtu) = spec.and_then(|s| s.mtu) {
        opts.push(("mtu".into(), mtu.to_string()));
    }
    opts
}

/// True if `value` can stand in a UML option list without injecting options.
pub fn is_uml_safe(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'+' | b'-'))
}

/// True if `value` can stand as a `key=value` value of a vector interface: the characters of
/// [`is_uml_safe`] and `:` (MAC addresses), never `,` or `=`.
pub fn is_option_value_safe(value: &str) -> bool {
    value.split(':').all(is_uml_safe)
}

fn safe(node: &str, what: &'static str, value: &Path) -> Result<String, PlanError> {
    let s = value.to_string_lossy().into_owned();
    if is_uml_safe(&s) {
        Ok(s)
    } else {
        Err(PlanError::UnsafeValue {
            node: node.to_string(),
            what,
            value: s,
        })
    }
}

fn plan_guest(
    topo: &Topology,
    ctx: &PlanContext,
    lab_dir: &Path,
    name: &str,
    vec_opts: &BTreeMap<(String, String), Vec<(String, String)>>,
    caps: &BTreeMap<String, Vec<String>>,
) -> Result<GuestPlan, PlanError> {
    let node = &topo.nodes[name];
    let image = topo.effective_image(name);
    let base_image = ctx
        .images
        .get(&image)
        .cloned()
        .ok_or_else(|| PlanError::MissingImage {
            node: name.to_string(),
            image: image.clone(),
        })?;
    let choice = topo.effective_kernel(name);
    let kernel = ctx
        .kernels
        .get(&choice)
        .ok_or_else(|| PlanError::MissingKernel {
            node: name.to_string(),
            kernel: choice.to_string(),
        })?;
    let memory = topo.effective_memory(name).bytes;
    let cow = lab_dir.join("overlays").join(format!("{name}.cow"));
    let config_drive = lab_dir.join("config").join(format!("{name}.img"));
    let (hostfs_dir, hostfs_shared) = match &node.hostfs {
        Some(dir) => (PathBuf::from(dir), true),
        None => (lab_dir.join("hostfs").join(name), false),
    };
    let uml_dir = lab_dir.join("uml");
    let notify = lab_dir.join("notify.sock");

    let mut argv = vec![
        kernel.path.display().to_string(),
        format!(
            "ubd0={},{}",
            safe(name, "overlay path", &cow)?,
            safe(name, "image path", &base_image)?
        ),
        format!("ubd1={}", safe(name, "config drive path", &config_drive)?),
        "root=/dev/ubda".into(),
        "rw".into(),
        format!("mem={}M", memory >> 20),
        format!("umid={name}"),
        format!("uml_dir={}", safe(name, "state directory", &uml_dir)?),
        "con=null".into(),
        "con0=fd:0,fd:1".into(),
        "con1=fd:3".into(),
        "ssl=null".into(),
        format!("mconsole=notify:{}", safe(name, "notify socket", &notify)?),
        format!("hostfs={}", safe(name, "hostfs directory", &hostfs_dir)?),
        "noreboot".into(),
        "init=/sbin/umlvnf-agent".into(),
    ];
    if let Some(lpj) = ctx.loops_per_jiffy {
        argv.push(format!("lpj={lpj}"));
    }
    if kernel.seccomp_userspace {
        // A virtual clock does not advance under the seccomp userspace: idle guests there
        // never wake (a `sleep` never returns), so time-travel guests run under ptrace.
        let virtual_clock = topo.effective_clock(name) == Clock::Virtual;
        let userspace =
            topo.effective_userspace(name)
                .unwrap_or(if ctx.seccomp && !virtual_clock {
                    Userspace::Seccomp
                } else {
                    Userspace::Ptrace
                });
        argv.push(match userspace {
            Userspace::Seccomp => "seccomp=on".into(),
            Userspace::Ptrace => "seccomp=off".into(),
        });
    }
    let vcpus = topo.effective_vcpus(name);
    if vcpus > 1 {
        argv.push(format!("ncpus={vcpus}"));
    }
    if topo.effective_clock(name) == Clock::Virtual {
        argv.push("time-travel=inf-cpu".into());
    }

    let mut interfaces = Vec::new();
    let linked: Vec<&String> = vec_opts
        .keys()
        .filter(|(n, _)| n == name)
        .map(|(_, i)| i)
        .collect();
    for (index, iface) in linked.into_iter().enumerate() {
        let opts = &vec_opts[&(name.to_string(), iface.clone())];
        if opts.len() > 20 {
            return Err(PlanError::TooManyOptions {
                node: name.to_string(),
                interface: iface.clone(),
                count: opts.len(),
            });
        }
        for (_, v) in opts {
            // Tunnel addresses are typed IP addresses (IPv6 ones contain `::`).
            if !is_option_value_safe(v) && v.parse::<std::net::IpAddr>().is_err() {
                return Err(PlanError::UnsafeValue {
                    node: name.to_string(),
                    what: "vector option",
                    value: v.clone(),
                });
            }
        }
        let rendered: Vec<String> = opts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        argv.push(format!("vec{index}:{}", rendered.join(",")));
        let spec = node.interfaces.get(iface).cloned().unwrap_or_default();
        let opt = |key: &str| opts.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        interfaces.push(GuestInterface {
            device: format!("vec{index}"),
            transport: opt("transport").unwrap_or_default(),
            host_ifname: opt("ifname"),
            name: iface.clone(),
            mtu: spec.mtu,
            ipv4: spec.ipv4.iter().map(|a| a.to_string()).collect(),
            ipv6: spec.ipv6.iter().map(|a| a.to_string()).collect(),
        });
    }

    if interfaces.len() > MAX_GUEST_INTERFACES {
        return Err(PlanError::TooManyInterfaces {
            node: name.to_string(),
            count: interfaces.len(),
            max: MAX_GUEST_INTERFACES,
        });
    }
    // UML joins argv[1..] with spaces into its command line.
    let length = argv
        .iter()
        .skip(1)
        .map(|a| a.len() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    if length > MAX_COMMAND_LINE {
        return Err(PlanError::CommandLineTooLong {
            node: name.to_string(),
            length,
            max: MAX_COMMAND_LINE,
        });
    }

    let mut modules = Vec::new();
    if kernel.modular
        && (interfaces.iter().any(|i| !i.ipv6.is_empty())
            || node.routes.iter().any(|r| r.v6)
            || node.ip6tables.is_some())
    {
        modules.push("ipv6".to_string());
    }
    if kernel.modular && node.nftables.is_some() {
        modules.push("nf_tables".to_string());
    }

    Ok(GuestPlan {
        node: name.to_string(),
        argv,
        base_image,
        cow,
        config_drive,
        hostfs_dir,
        hostfs_shared,
        log: lab_dir.join("logs").join(format!("{name}.log")),
        console_log: lab_dir.join("logs").join(format!("{name}.console")),
        memory,
        cpus: node.cpus.clone(),
        restart: topo.effective_restart(name),
        capabilities: caps.get(name).cloned().unwrap_or_default(),
        setup: GuestSetup {
            modules,
            interfaces,
            routes: node.routes.clone(),
            sysctls: node
                .sysctls
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
            nftables: node.nftables.clone(),
            iptables: node.iptables.clone(),
            ip6tables: node.ip6tables.clone(),
            files: node
                .files
                .iter()
                .map(|f| {
                    let mode = f
                        .mode
                        .as_deref()
                        .and_then(|m| u32::from_str_radix(m, 8).ok())
                        .unwrap_or(0o644);
                    (PathBuf::from(&f.src), f.dst.clone(), mode)
                })
                .collect(),
            exec: node.exec.clone(),
        },
    })
}
