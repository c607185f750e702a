//! Constructors for building a topology in code (as the benchmarks do) rather than loading it
//! from a file: a value built here is turned into topology text with [`crate::to_text`] and
//! checked with [`crate::load_str`] like any file.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use crate::model::{
    Endpoint, HostAccess, Interface, Link, Memory, Node, NodeDefaults, NodeKind, Route,
    SysctlValue, Topology, Transport,
};

impl Topology {
    /// An empty lab named `name`: no nodes, no links, nothing allowed on the host.
    pub fn named(name: impl Into<String>) -> Topology {
        Topology {
            name: name.into(),
            defaults: NodeDefaults::default(),
            nodes: BTreeMap::new(),
            links: Vec::new(),
            metrics: None,
            host_access: HostAccess::default(),
            hosts: BTreeMap::new(),
        }
    }

    /// This topology with node `name` added (replacing one of that name).
    pub fn with_node(mut self, name: impl Into<String>, node: Node) -> Topology {
        self.nodes.insert(name.into(), node);
        self
    }

    /// This topology with `link` added after the others.
    pub fn with_link(mut self, link: Link) -> Topology {
        self.links.push(link);
        self
    }
}

impl Node {
    /// A host node (a network namespace) with nothing set yet.
    pub fn host() -> Node {
        Node {
            kind: Some(NodeKind::Host),
            ..Node::default()
        }
    }

    /// A guest booting `image` with `memory`, kind and everything else left to the defaults.
    pub fn guest(image: impl Into<String>, memory: Memory) -> Node {
        Node {
            image: Some(image.into()),
            memory: Some(memory),
            ..Node::default()
        }
    }

    /// This node with interface `name` added (replacing one of that name).
    pub fn with_interface(mut self, name: impl Into<String>, interface: Interface) -> Node {
        self.interfaces.insert(name.into(), interface);
        self
    }

    /// This node with `route` added after the others.
    pub fn with_route(mut self, route: Route) -> Node {
        self.routes.push(route);
        self
    }

    /// This node with sysctl `key` set to `value`.
    pub fn with_sysctl(mut self, key: impl Into<String>, value: SysctlValue) -> Node {
        self.sysctls.insert(key.into(), value);
        self
    }
}

impl Interface {
    /// An interface with the one IPv4 address `address`.
    pub fn ipv4(address: Ipv4Net) -> Interface {
        Interface {
            ipv4: vec![address],
            ..Interface::default()
        }
    }
}

impl Route {
    /// `DST via GATEWAY`, or `default via GATEWAY` when `dst` is `None`.
    pub fn via(dst: Option<IpNet>, gateway: IpAddr) -> Route {
        let v6 = dst.map_or(gateway.is_ipv6(), |d| d.addr().is_ipv6());
        Route {
            dst: dst.map(|d| d.trunc()),
            via: Some(gateway),
            dev: None,
            metric: None,
            v6,
        }
    }
}

impl Endpoint {
    /// Interface `interface` of node `node`.
    pub fn new(node: impl Into<String>, interface: impl Into<String>) -> Endpoint {
        Endpoint {
            node: node.into(),
            interface: interface.into(),
        }
    }
}

impl Link {
    /// A link between `a` and `b` on the default transport, with no options set.
    pub fn between(a: Endpoint, b: Endpoint) -> Link {
        Link {
            endpoints: vec![a, b],
            ..Link::default()
        }
    }

    /// This link carried by `transport`.
    pub fn on(mut self, transport: Transport) -> Link {
        self.transport = Some(transport);
        self
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::path::Path;

    use super::*;

    #[test]
    fn a_built_topology_reads_back_the_same() {
        let net = |a, b, c, d, p| Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), p);
        let gw = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 254));
        let t = Topology::named("built")
            .with_node(
                "h1",
                Node::host()
                    .with_interface("eth0", Interface::ipv4(net(10, 1, 0, 1, 24)))
                    .with_route(Route::via(None, gw)),
            )
            .with_node(
                "r1",
                Node::guest("minimal", Memory { bytes: 128 << 20 })
                    .with_interface("eth0", Interface::ipv4(net(10, 1, 0, 254, 24)))
                    .with_sysctl("net.ipv4.ip_forward", SysctlValue::Int(1)),
            )
            .with_link(
                Link::between(Endpoint::new("h1", "eth0"), Endpoint::new("r1", "eth0"))
                    .on(Transport::Wire),
            );
        assert_eq!(
            Route::via(None, gw).to_string(),
            "default via 10.1.0.254",
            "routes are written as iproute2 reads them"
        );
        let again = crate::load_str(&crate::to_text(&t), Path::new("/tmp/built.yaml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, t);
    }
}
