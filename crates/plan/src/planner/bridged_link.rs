//! `tap` and `hybrid` links: a persistent tap for each guest end, joined by a bridge (host
//! nodes and root interfaces join it through a veth), or one tap alone for `host:IFNAME`.

use umlvnf_topology::{Endpoint, Link, Transport};

use super::bpf::bpf_options;
use super::{LinkEnd, Planner};
use crate::{naming, HostStep, LinkPlan};

impl Planner<'_> {
    /// Plans link `i`: taps for the guest ends, joined by a bridge unless a tap stands alone
    /// for `host:IF`.
    pub(super) fn bridged_link(
        &mut self,
        i: usize,
        link: &Link,
        transport: Transport,
        ends: &[LinkEnd],
        mtu: Option<u32>,
        lp: &mut LinkPlan,
    ) {
        let lab = self.lab;
        let lone_root = link.bridge.is_none()
            && ends
                .iter()
                .filter(|e| matches!(e, LinkEnd::Guest { .. }))
                .count()
                == 1
            && ends.iter().any(|e| matches!(e, LinkEnd::Root { .. }));
        let bridge = if lone_root {
            None
        } else {
            let name = link
                .bridge
                .clone()
                .unwrap_or_else(|| naming::link_bridge(lab, i));
            self.plan
                .host_steps
                .push(HostStep::Bridge { name: name.clone() });
            self.plan.host_steps.push(HostStep::Up {
                netns: None,
                name: name.clone(),
            });
            Some(name)
        };
        let root_if = ends.iter().find_map(|e| match e {
            LinkEnd::Root { iface } => Some(*iface),
            _ => None,
        });
        for (side, end) in ['a', 'b'].into_iter().zip(ends.iter()) {
            match end {
                LinkEnd::Guest { node, iface } => {
                    let tap = match (lone_root, root_if) {
                        (true, Some(r)) => r.to_string(),
                        _ => naming::link_ifname(lab, i, side),
                    };
                    self.plan
                        .host_steps
                        .push(HostStep::Tap { name: tap.clone() });
                    self.join_bridge(&tap, mtu, bridge.as_deref());
                    if let Some(avoid) = self.guest_cpus(node) {
                        // The guest's writes to the tap are received by the tap device.
                        self.steer.push(HostStep::SteerRx {
                            netns: None,
                            name: tap.clone(),
                            avoid,
                        });
                    }
                    lp.host_interfaces.push(tap.clone());
                    self.tap_guest_end(i, link, transport, node, iface, &tap);
                }
                LinkEnd::Root { .. } if lone_root => {}
                other => {
                    // A host node or the root namespace joins the bridge through a veth.
                    let h = naming::link_ifname(lab, i, side);
                    let peer = match other {
                        LinkEnd::Root { iface } => iface.to_string(),
                        _ => naming::link_ifname(lab, i, 'h'),
                    };
                    self.plan.host_steps.push(HostStep::Veth {
                        name: h.clone(),
                        peer: peer.clone(),
                    });
                    self.place_end(other, &peer, mtu, lp);
                    self.join_bridge(&h, mtu, bridge.as_deref());
                    lp.host_interfaces.push(h);
                }
            }
        }
        lp.bridge = bridge;
    }

    /// The vector interface of a guest on tap `tap` (`hybrid`: it also reads the tap with a
    /// packet socket).
    fn tap_guest_end(
        &mut self,
        i: usize,
        link: &Link,
        transport: Transport,
        node: &str,
        iface: &str,
        tap: &str,
    ) {
        let mut opts = self.vector_options(transport.name(), tap, link, node, iface);
        let ep = Endpoint {
            node: node.to_string(),
            interface: iface.to_string(),
        };
        let hybrid = transport == Transport::Hybrid;
        let bpffile = if hybrid {
            self.guest_bpf_file(i, link, &ep, false)
        } else {
            None
        };
        opts.extend(bpf_options(link, bpffile.as_deref()));
        self.vec_opts
            .insert((node.to_string(), iface.to_string()), opts);
        if hybrid {
            self.add_cap(node, Some("CAP_NET_RAW"));
        }
        self.add_cap(node, Some("CAP_NET_ADMIN"));
    }
}
