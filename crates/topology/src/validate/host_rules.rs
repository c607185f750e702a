//! Checks of a lab spread over several machines: host names and addresses, each node's
//! `host:`, the placement's capacities and the links that cross from one host to another.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::Validator;
use crate::model::{Topology, Transport};
use crate::names::is_valid_name;
use crate::placement::{place, PlacementError};

impl Validator<'_> {
    /// Every rule of `hosts:` and `host:`.
    pub(super) fn host_rules(&mut self, topo: &Topology) {
        if topo.hosts.is_empty() {
            for (name, node) in &topo.nodes {
                if node.host.is_some() {
                    self.at_key(
                        &format!("nodes.{name}.host"),
                        "`host:` names a machine of a lab spread over several, but the topology has no `hosts:`: list the machines under `hosts:` or remove `host:`",
                    );
                }
            }
            return;
        }
        let mut seen: HashMap<IpAddr, &str> = HashMap::new();
        for (name, host) in &topo.hosts {
            let hpath = format!("hosts.{name}");
            if !is_valid_name(name) {
                self.at_key(
                    &hpath,
                    format!("`{}` is not a valid host name: use 1 to 12 lower-case letters, digits and `-`, starting with a letter", name.escape_debug()),
                );
            }
            if let Some(first) = seen.insert(host.address, name) {
                self.at_value(
                    &format!("{hpath}.address"),
                    format!("address {} is already the address of host `{first}`: give every host its own underlay address", host.address),
                );
            }
        }
        let known = || {
            topo.hosts
                .keys()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let placement = match place(topo) {
            Ok(p) => p.unwrap_or_default(),
            Err(PlacementError::UnknownHost { node, host }) => {
                let msg = format!(
                    "no host `{}` under `hosts:`: name one of {}",
                    host.escape_debug(),
                    known()
                );
                self.at_value(&format!("nodes.{node}.host"), msg);
                return;
            }
            Err(PlacementError::OverCapacity {
                host,
                capacity,
                nodes,
            }) => {
                let msg = format!(
                    "host `{host}` holds at most {capacity} nodes but {} name it ({}): raise its capacity or move nodes to another host",
                    nodes.len(),
                    nodes.join(", ")
                );
                self.at_value(&format!("hosts.{host}.capacity"), msg);
                return;
            }
            Err(PlacementError::NoRoom { node, total }) => {
                let msg = format!(
                    "the hosts hold {total} nodes together, too few for the lab's {} (no room left for `{node}`): raise a capacity or add a host",
                    topo.nodes.len()
                );
                self.at_key("hosts", msg);
                return;
            }
        };
        self.cross_host_links(topo, &placement);
    }

    /// A link between nodes on different hosts must be one umlvnf can carry as an L2TPv3 tunnel
    /// between the hosts: between two nodes (a guest speaks the tunnel itself, umlvnf's
    /// datapath speaks it for a host node), without options of its own.
    fn cross_host_links(&mut self, topo: &Topology, placement: &BTreeMap<String, String>) {
        for (i, link) in topo.links.iter().enumerate() {
            let hosts: Vec<Option<&String>> = link
                .endpoints
                .iter()
                .map(|e| placement.get(&e.node))
                .collect();
            if hosts.len() != 2 || hosts[0] == hosts[1] {
                continue;
            }
            let lpath = format!("links[{i}]");
            if link.endpoints.iter().any(|e| e.is_root()) {
                self.at_value(
                    &format!("{lpath}.endpoints"),
                    "a `host:IFNAME` end is not supported in a lab spread over several machines yet: join the interface through a host node, or remove `hosts:`",
                );
                continue;
            }
            let plain = matches!(
                link.transport,
                None | Some(Transport::Raw | Transport::L2tpv3)
            ) && link.gre.is_none()
                && link.l2tpv3.is_none()
                && link.remote.is_none()
                && link.wire.is_none()
                && link.impair.is_none()
                && link.filter.is_empty()
                && link.bridge.is_none();
            if !plain {
                self.at_value(
                    &format!("{lpath}.endpoints"),
                    "this link joins nodes on different hosts, which umlvnf carries as an L2TPv3 tunnel of its own: remove its transport options (gre, l2tpv3, remote, wire, impair, filter, bridge) or put both ends on the same host",
                );
            }
        }
    }
}
