//! Links carried by one veth pair: `raw` links (the guest reads its end with a packet
//! socket) and links without a guest.

use umlvnf_topology::{Endpoint, Link};

use super::bpf::bpf_options;
use super::{LinkEnd, Planner};
use crate::{naming, HostStep, LinkPlan};

impl Planner<'_> {
    /// Plans link `i` as one veth pair; each end goes where its endpoint is.
    pub(super) fn veth_link(
        &mut self,
        i: usize,
        link: &Link,
        ends: &[LinkEnd],
        mtu: Option<u32>,
        lp: &mut LinkPlan,
    ) {
        let lab = self.lab;
        let a = naming::link_ifname(lab, i, 'a');
        let b = naming::link_ifname(lab, i, 'b');
        let created = match (&ends[0], &ends[1]) {
            (_, LinkEnd::Root { iface }) => [a, iface.to_string()],
            (LinkEnd::Root { iface }, _) => [iface.to_string(), b],
            _ => [a, b],
        };
        self.plan.host_steps.push(HostStep::Veth {
            name: created[0].clone(),
            peer: created[1].clone(),
        });
        for (k, (end, ifname)) in ends.iter().zip(created.iter()).enumerate() {
            self.place_end(end, ifname, mtu, lp);
            if let LinkEnd::Guest { node, iface } = end {
                self.raw_guest_end(i, link, node, iface, ifname);
                if let Some(avoid) = self.guest_cpus(node) {
                    // What the guest sends arrives at the other end of the pair.
                    let (netns, name) = match &ends[1 - k] {
                        LinkEnd::HostNode { node, iface } => {
                            (Some(naming::netns(lab, node)), iface.to_string())
                        }
                        _ => (None, created[1 - k].clone()),
                    };
                    self.steer.push(HostStep::SteerRx { netns, name, avoid });
                }
            }
        }
    }

    /// The vector interface of a guest reading veth end `ifname` with a packet socket.
    fn raw_guest_end(&mut self, i: usize, link: &Link, node: &str, iface: &str, ifname: &str) {
        let mut opts = self.vector_options("raw", ifname, link, node, iface);
        let ep = Endpoint {
            node: node.to_string(),
            interface: iface.to_string(),
        };
        let bpffile = self.guest_bpf_file(i, link, &ep, true);
        opts.extend(bpf_options(link, bpffile.as_deref()));
        self.vec_opts
            .insert((node.to_string(), iface.to_string()), opts);
        self.add_cap(node, Some("CAP_NET_RAW"));
    }

    /// The `key=value` options of a guest's `raw`, `tap` or `hybrid` vector interface.
    pub(super) fn vector_options(
        &self,
        transport: &str,
        ifname: &str,
        link: &Link,
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
        opts.extend(self.address_options(node, iface));
        opts
    }
}
