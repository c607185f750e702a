//! The settings of `host` nodes, applied inside their namespaces.

use super::{sysctls, Planner};
use crate::{naming, HostNodePlan};

impl Planner<'_> {
    /// The addresses, routes, sysctls and commands of host node `name`.
    pub(super) fn host_node(&self, name: &str) -> HostNodePlan {
        let node = &self.topo.nodes[name];
        HostNodePlan {
            node: name.to_string(),
            netns: naming::netns(self.lab, name),
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
            sysctls: sysctls(node),
            exec: node.exec.clone(),
            keepalive: self
                .remote_ends
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, i)| i.clone())
                .collect(),
        }
    }
}
