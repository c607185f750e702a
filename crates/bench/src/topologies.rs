//! The topologies the bench deploys, built as [`Topology`] values: the quickstart shape
//! (h1 – r1 – h2) for the single-guest scenarios, the transparent bridge firewall, and a
//! topology file of the user's carried by another transport. [`crate::lab::Lab`] writes them
//! out as topology text and loads them back before deploying.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path as FsPath;

use ipnet::{IpNet, Ipv4Net};
use umlvnf_topology::{
    Endpoint, Interface, Link, Memory, Node, Route, SysctlValue, Topology, Transport,
};

use crate::error::{BenchError, Result};

/// The subnet of h1 and the router's first interface.
pub const LEFT: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 0);
/// The subnet of h2 and the router's second interface.
pub const RIGHT: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 0);

/// `net` with its last byte set to `host`, as a `/prefix` address. Compile-time checked in
/// the `const` items that use it.
pub const fn address(net: Ipv4Addr, host: u8, prefix: u8) -> Ipv4Net {
    let [a, b, c, _] = net.octets();
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, host), prefix)
}

/// h1's address.
pub const H1: Ipv4Net = address(LEFT, 1, 24);
/// h2's address on the quickstart shape.
pub const H2: Ipv4Net = address(RIGHT, 1, 24);
/// The router's address facing h1 (h1's gateway).
pub const R1_LEFT: Ipv4Net = address(LEFT, 254, 24);
/// The router's address facing h2 (h2's gateway).
pub const R2_RIGHT: Ipv4Net = address(RIGHT, 254, 24);

/// How the generated quickstart lab's router is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestSetup {
    /// Link transport of both router links.
    pub transport: Transport,
    /// Host CPU the guest is pinned to (`cpus: [N]`).
    pub cpu: Option<u32>,
    /// Vector depth of both links (`depth: N`).
    pub depth: Option<u32>,
    /// An iptables ruleset for the router (`iptables:`), making it a firewall.
    pub iptables: Option<String>,
}

/// A host node with `eth0` at `address`, and a default route via `gateway` if given.
pub fn host(address: Ipv4Net, gateway: Option<Ipv4Net>) -> Node {
    let node = Node::host().with_interface("eth0", Interface::ipv4(address));
    match gateway {
        Some(g) => node.with_route(Route::via(None, IpAddr::V4(g.addr()))),
        None => node,
    }
}

/// A router guest: the `minimal` image in 128 MiB, forwarding IPv4, without interfaces yet.
pub fn router() -> Node {
    Node::guest("minimal", Memory { bytes: 128 << 20 })
        .with_sysctl("net.ipv4.ip_forward", SysctlValue::Int(1))
}

/// The link between `a` and `b` (`NODE:INTERFACE` each).
pub fn link(a: (&str, &str), b: (&str, &str)) -> Link {
    Link::between(Endpoint::new(a.0, a.1), Endpoint::new(b.0, b.1))
}

/// The quickstart topology (h1 – r1 – h2) for lab `lab` with `setup`.
pub fn quickstart(lab: &str, setup: &GuestSetup) -> Topology {
    let mut r1 = router()
        .with_interface("eth0", Interface::ipv4(R1_LEFT))
        .with_interface("eth1", Interface::ipv4(R2_RIGHT));
    r1.cpus = setup.cpu.map(|c| vec![c]);
    r1.iptables.clone_from(&setup.iptables);
    let router_link = |a, b| {
        let mut l = link(a, b).on(setup.transport);
        l.depth = setup.depth;
        l
    };
    Topology::named(lab)
        .with_node("h1", host(H1, Some(R1_LEFT)))
        .with_node("r1", r1)
        .with_node("h2", host(H2, Some(R2_RIGHT)))
        .with_link(router_link(("h1", "eth0"), ("r1", "eth0")))
        .with_link(router_link(("r1", "eth1"), ("h2", "eth0")))
}

/// A transparent bridge firewall for lab `lab`: h1 (10.1.0.1/24) and h2 (10.1.0.2/24) on
/// one subnet, joined through guest `r1`, which bridges its two wire links (`br0`) and
/// filters with the nftables `bridge` ruleset `nftables`, on wire links (no privileges).
pub fn bridge_firewall(lab: &str, nftables: &str) -> Topology {
    let mut r1 = Node::guest("minimal", Memory { bytes: 128 << 20 })
        .with_interface("eth0", Interface::default())
        .with_interface("eth1", Interface::default());
    r1.nftables = Some(nftables.to_string());
    r1.exec = vec![
        "modprobe bridge && ip link add br0 type bridge".into(),
        "ip link set eth0 master br0 && ip link set eth1 master br0 && ip link set br0 up".into(),
    ];
    Topology::named(lab)
        .with_node("h1", host(H1, None))
        .with_node("r1", r1)
        .with_node("h2", host(address(LEFT, 2, 24), None))
        .with_link(link(("h1", "eth0"), ("r1", "eth0")).on(Transport::Wire))
        .with_link(link(("r1", "eth1"), ("h2", "eth0")).on(Transport::Wire))
}

/// The topology file `file` under lab name `lab`, with every guest link carried by
/// `transport` ([`Topology::with_transport`]), checked by writing it out as topology text
/// and loading it back. A file that does not load, or that cannot take this transport, is an
/// error that says why.
pub fn retransported(file: &FsPath, lab: &str, transport: Transport) -> Result<Topology> {
    let bad = |reason: String| BenchError::Topology {
        path: file.to_path_buf(),
        reason,
    };
    let topology = umlvnf_topology::load(file).map_err(|e| bad(e.to_string()))?;
    let mut moved = topology.with_transport(transport);
    moved.name = lab.to_string();
    umlvnf_topology::load_str(&umlvnf_topology::to_text(&moved), file).map_err(|e| {
        bad(format!(
            "with every guest link as `{}` it is not valid: {e}",
            transport.name()
        ))
    })
}

/// The route to `dst` via `gateway`.
pub fn route_via(dst: Ipv4Net, gateway: Ipv4Net) -> Route {
    Route::via(Some(IpNet::V4(dst)), IpAddr::V4(gateway.addr()))
}

/// `t` written out as topology text and loaded back (the test's failure if it does not load).
#[cfg(test)]
pub(crate) fn reads_back(t: &Topology) -> Topology {
    let text = umlvnf_topology::to_text(t);
    umlvnf_topology::load_str(&text, FsPath::new("generated.yaml"))
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransported_chain_has_every_link_on_the_transport() {
        let chain = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("../../topologies/chain.yaml");
        for t in [Transport::Wire, Transport::L2tpv3] {
            let topo = reads_back(&retransported(&chain, "bn1-7", t).unwrap());
            assert_eq!(topo.name, "bn1-7");
            assert_eq!(topo.links.len(), 4);
            assert!(
                topo.links.iter().all(|l| l.transport == Some(t)),
                "{topo:?}"
            );
        }
        let e = retransported(FsPath::new("/nonexistent.yaml"), "bn1-7", Transport::Raw)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent.yaml"), "{e}");
    }

    #[test]
    fn generated_topology_has_the_setup() {
        let y = reads_back(&quickstart(
            "bn1-0",
            &GuestSetup {
                transport: Transport::Wire,
                cpu: Some(0),
                depth: Some(128),
                iptables: None,
            },
        ));
        assert_eq!(y.name, "bn1-0");
        assert_eq!(y.nodes["r1"].cpus, Some(vec![0]));
        let wires = y
            .links
            .iter()
            .filter(|l| l.transport == Some(Transport::Wire));
        assert_eq!(wires.count(), 2);
        assert_eq!(y.links.iter().filter(|l| l.depth == Some(128)).count(), 2);
        assert_eq!(
            y.nodes["h1"].routes[0].to_string(),
            "default via 10.1.0.254"
        );
        let plain = reads_back(&quickstart(
            "x",
            &GuestSetup {
                transport: Transport::Raw,
                cpu: None,
                depth: None,
                iptables: None,
            },
        ));
        assert!(plain.nodes.values().all(|n| n.cpus.is_none()));
        assert!(plain.links.iter().all(|l| l.depth.is_none()));
    }

    #[test]
    fn bridge_firewall_topology_is_valid_with_its_ruleset() {
        let topo = reads_back(&bridge_firewall(
            "bnnft",
            &crate::scenario::nftables_bridge_rules(),
        ));
        let rules = topo.nodes["r1"].nftables.as_deref().expect("ruleset");
        assert!(rules.starts_with("table bridge filter {"), "{rules}");
        assert_eq!(
            rules.matches(" drop").count(),
            usize::from(crate::scenario::FIREWALL_RULES)
        );
        assert_eq!(topo.nodes["r1"].exec.len(), 2);
        let wires = topo
            .links
            .iter()
            .filter(|l| l.transport == Some(Transport::Wire));
        assert_eq!(wires.count(), 2);
    }

    #[test]
    fn firewall_topology_is_valid_with_its_ruleset() {
        let topo = reads_back(&quickstart(
            "bnfw",
            &GuestSetup {
                transport: Transport::Raw,
                cpu: None,
                depth: None,
                iptables: Some(crate::scenario::firewall_rules()),
            },
        ));
        let rules = topo.nodes["r1"].iptables.as_deref().expect("ruleset");
        assert_eq!(
            rules.matches("-j DROP").count(),
            usize::from(crate::scenario::FIREWALL_RULES)
        );
        assert!(rules.ends_with("COMMIT\n"));
    }
}
