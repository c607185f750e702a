//! The planner: a [`Planner`] holds the topology, the machine context and the plan being
//! built, and walks the topology once: host node namespaces, then every link (one module per
//! kind), then the host nodes' settings and the guests' command lines.

mod allocator;
mod bpf;
mod bridged_link;
mod guest;
mod host_node;
mod tunnel_link;
mod tunnel_params;
mod veth_link;

use std::collections::BTreeMap;

use umlvnf_topology::{Link, Node, NodeKind, Topology, Transport};

use crate::{naming, HostStep, LinkPlan, Plan, PlanContext, PlanError};
use allocator::Allocator;

/// What one end of a link is.
enum LinkEnd<'a> {
    /// A guest's interface.
    Guest { node: &'a str, iface: &'a str },
    /// A `host` node's interface, inside its namespace.
    HostNode { node: &'a str, iface: &'a str },
    /// An interface of the root namespace (`host:IFNAME`).
    Root { iface: &'a str },
}

/// The context of one planning run and the plan it builds.
pub(crate) struct Planner<'a> {
    topo: &'a Topology,
    ctx: &'a PlanContext,
    /// The lab's name.
    lab: &'a str,
    plan: Plan,
    /// Loopback addresses and ports of tunnel ends.
    alloc: Allocator,
    /// Each guest interface's vector options, keyed by (node, interface).
    vec_opts: BTreeMap<(String, String), Vec<(String, String)>>,
    /// Host capabilities each guest keeps.
    caps: BTreeMap<String, Vec<String>>,
    /// Guest and host-node interfaces, as (node, interface), whose link goes to a remote end
    /// (straight from a guest, or through the datapath from a host node).
    remote_ends: std::collections::BTreeSet<(String, String)>,
    /// Receive steering for the far ends of pinned guests' links, applied once every link
    /// interface exists and sits in its namespace.
    steer: Vec<HostStep>,
}

impl<'a> Planner<'a> {
    /// A planner for `topo` on the machine `ctx` describes.
    pub(crate) fn new(topo: &'a Topology, ctx: &'a PlanContext) -> Self {
        let lab = topo.name.as_str();
        Planner {
            topo,
            ctx,
            lab,
            plan: Plan {
                lab: lab.to_string(),
                lab_dir: ctx.labs_dir.join(lab),
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
                share_of: None,
            },
            alloc: Allocator::new(topo),
            vec_opts: BTreeMap::new(),
            caps: BTreeMap::new(),
            remote_ends: Default::default(),
            steer: Vec::new(),
        }
    }

    /// Plans the whole topology.
    pub(crate) fn run(mut self) -> Result<Plan, PlanError> {
        let topo = self.topo;
        for name in topo.nodes.keys() {
            if topo.node_kind(name) == NodeKind::Host {
                let netns = naming::netns(self.lab, name);
                self.plan.host_steps.push(HostStep::Netns { name: netns });
            }
        }
        for (i, link) in topo.links.iter().enumerate() {
            let lp = self.link(i, link)?;
            self.plan.links.push(lp);
        }
        let steer = std::mem::take(&mut self.steer);
        self.plan.host_steps.extend(steer);
        for name in topo.nodes.keys() {
            match topo.node_kind(name) {
                NodeKind::Host => {
                    let h = self.host_node(name);
                    self.plan.host_nodes.push(h);
                }
                NodeKind::Uml => {
                    let g = self.guest(name)?;
                    self.plan.guests.push(g);
                }
            }
        }
        Ok(self.plan)
    }

    /// Plans link `i` by its kind: a tunnel or wire, a veth pair, or taps and a bridge.
    fn link(&mut self, i: usize, link: &Link) -> Result<LinkPlan, PlanError> {
        let ends = self.ends(link);
        let transport = link.transport.unwrap_or(Transport::Raw);
        let mtu = link_mtu(self.topo, link);
        if matches!(
            transport,
            Transport::Gre | Transport::L2tpv3 | Transport::Wire
        ) {
            return self.tunnel_link(i, link, &ends, mtu);
        }
        let has_guest = ends.iter().any(|e| matches!(e, LinkEnd::Guest { .. }));
        let mut lp = LinkPlan {
            endpoints: [link.endpoints[0].to_string(), link.endpoints[1].to_string()],
            transport: if has_guest {
                transport.name().to_string()
            } else {
                "veth".to_string()
            },
            host_interfaces: Vec::new(),
            bridge: None,
        };
        if has_guest && transport != Transport::Raw {
            self.bridged_link(i, link, transport, &ends, mtu, &mut lp);
        } else {
            self.veth_link(i, link, &ends, mtu, &mut lp);
        }
        Ok(lp)
    }

    /// What each endpoint of `link` is.
    fn ends<'l>(&self, link: &'l Link) -> Vec<LinkEnd<'l>> {
        link.endpoints
            .iter()
            .map(|e| {
                if e.is_root() {
                    LinkEnd::Root {
                        iface: &e.interface,
                    }
                } else if self.topo.node_kind(&e.node) == NodeKind::Host {
                    LinkEnd::HostNode {
                        node: &e.node,
                        iface: &e.interface,
                    }
                } else {
                    LinkEnd::Guest {
                        node: &e.node,
                        iface: &e.interface,
                    }
                }
            })
            .collect()
    }

    /// Grants guest `node` the host capability `cap` (each once, sorted); `None` only makes
    /// sure the guest has an entry.
    fn add_cap(&mut self, node: &str, cap: Option<&str>) {
        let list = self.caps.entry(node.to_string()).or_default();
        if let Some(cap) = cap {
            if !list.iter().any(|c| c == cap) {
                list.push(cap.to_string());
                list.sort();
            }
        }
    }

    /// Emits the steps of a root-namespace interface that joins a link's bridge: MTU, bridge
    /// port, up.
    fn join_bridge(&mut self, name: &str, mtu: Option<u32>, bridge: Option<&str>) {
        let steps = &mut self.plan.host_steps;
        if let Some(m) = mtu {
            steps.push(HostStep::Mtu {
                netns: None,
                name: name.to_string(),
                mtu: m,
            });
        }
        if let Some(br) = bridge {
            steps.push(HostStep::Master {
                name: name.to_string(),
                bridge: br.to_string(),
            });
        }
        steps.push(HostStep::Up {
            netns: None,
            name: name.to_string(),
        });
    }

    /// Emits the steps that put one veth (or tap) end `ifname` where its endpoint lives; the
    /// root-namespace ones are recorded as the link's host interfaces.
    fn place_end(&mut self, end: &LinkEnd, ifname: &str, mtu: Option<u32>, lp: &mut LinkPlan) {
        let steps = &mut self.plan.host_steps;
        match end {
            LinkEnd::Guest { .. } | LinkEnd::Root { .. } => {
                if let Some(m) = mtu {
                    steps.push(HostStep::Mtu {
                        netns: None,
                        name: ifname.to_string(),
                        mtu: m,
                    });
                }
                steps.push(HostStep::Up {
                    netns: None,
                    name: ifname.to_string(),
                });
                lp.host_interfaces.push(ifname.to_string());
            }
            LinkEnd::HostNode { node, iface } => {
                let netns = naming::netns(self.lab, node);
                steps.push(HostStep::Move {
                    name: ifname.to_string(),
                    netns: netns.clone(),
                    new_name: iface.to_string(),
                });
                let spec = self
                    .topo
                    .nodes
                    .get(*node)
                    .and_then(|n| n.interfaces.get(*iface));
                if let Some(m) = spec.and_then(|s| s.mtu).or(mtu) {
                    steps.push(HostStep::Mtu {
                        netns: Some(netns.clone()),
                        name: iface.to_string(),
                        mtu: m,
                    });
                }
                if let Some(mac) = spec.and_then(|s| s.mac) {
                    steps.push(HostStep::Mac {
                        netns: Some(netns.clone()),
                        name: iface.to_string(),
                        mac: mac.to_string(),
                    });
                }
                steps.push(HostStep::Up {
                    netns: Some(netns),
                    name: iface.to_string(),
                });
            }
        }
    }

    /// The `mac=` and `mtu=` vector options of a guest interface. The MAC is stable: a
    /// restarted guest keeps its address, so its neighbours' ARP caches stay right (UML picks
    /// a random one otherwise).
    fn address_options(&self, node: &str, iface: &str) -> Vec<(String, String)> {
        let spec = self
            .topo
            .nodes
            .get(node)
            .and_then(|n| n.interfaces.get(iface));
        let mac = spec
            .and_then(|s| s.mac)
            .map(|m| m.to_string())
            .unwrap_or_else(|| naming::guest_mac(self.lab, node, iface));
        let mut o = vec![("mac".to_string(), mac)];
        if let Some(mtu) = spec.and_then(|s| s.mtu) {
            o.push(("mtu".into(), mtu.to_string()));
        }
        o
    }

    /// The CPUs guest `node` is pinned to, if it is.
    fn guest_cpus(&self, node: &str) -> Option<Vec<u32>> {
        self.topo
            .nodes
            .get(node)
            .and_then(|n| n.cpus.clone())
            .filter(|c| !c.is_empty())
    }
}

/// The largest MTU either end of a link asks for: host-side interfaces must carry it.
fn link_mtu(topo: &Topology, link: &Link) -> Option<u32> {
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

/// A node's sysctls as `(key, value)` text.
fn sysctls(node: &Node) -> Vec<(String, String)> {
    node.sysctls
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}
