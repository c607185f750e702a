//! One topology carried by another transport: what `umlvnf bench --topology` measures for
//! each transport a guest can use.

use crate::model::{NodeKind, Topology, Transport};

impl Topology {
    /// This topology with every link between two nodes, at least one of them a guest, carried
    /// by `transport`.
    ///
    /// Options that belong to the link's old transport go with it (`gre`, `l2tpv3`, `remote`,
    /// `wire`, `bridge`, and `impair` and `filter` where the new transport has no place for
    /// them); `depth`, `gro` and `bpfflash` stay. Links to `host:IFNAME` and links between two
    /// host nodes are left as they are. The result still has to be validated (for instance by
    /// [`crate::to_text`] and [`crate::load_str`]): some topologies cannot take every
    /// transport.
    pub fn with_transport(&self, transport: Transport) -> Topology {
        let mut out = self.clone();
        for link in &mut out.links {
            let [a, b] = link.endpoints.as_slice() else {
                continue;
            };
            if a.is_root() || b.is_root() {
                continue;
            }
            let guest = |node: &str| self.node_kind(node) == NodeKind::Uml;
            if !guest(&a.node) && !guest(&b.node) {
                continue;
            }
            link.transport = Some(transport);
            if transport != Transport::Gre {
                link.gre = None;
            }
            if transport != Transport::L2tpv3 {
                link.l2tpv3 = None;
            }
            link.remote = None;
            if transport != Transport::Wire {
                link.wire = None;
            }
            if !matches!(transport, Transport::Tap | Transport::Hybrid) {
                link.bridge = None;
            }
            // Impairments need umlvnf's datapath: a wire, or a tunnel it terminates for a host.
            let datapath = transport == Transport::Wire
                || (transport.is_tunnel() && (!guest(&a.node) || !guest(&b.node)));
            if !datapath {
                link.impair = None;
            }
            // Filters run on the datapath's sockets or as UML's raw-socket filter.
            if !(datapath || matches!(transport, Transport::Raw | Transport::Hybrid)) {
                link.filter.clear();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::model::Transport;
    use crate::{load_str, to_text};

    const LAB: &str = "name: rt\nnodes:\n  h1: {kind: host, interfaces: {eth0: {ipv4: [10.1.0.1/24]}}}\n  \
r1:\n    interfaces:\n      eth0: {ipv4: [10.1.0.254/24]}\n      eth1: {ipv4: [10.2.0.254/24]}\n  \
h2: {kind: host, interfaces: {eth0: {ipv4: [10.2.0.1/24]}}}\nlinks:\n  - endpoints: [h1:eth0, r1:eth0]\n    \
transport: wire\n    impair: {loss: 1%}\n    filter: {r1:eth0: \"not icmp\"}\n  - endpoints: [r1:eth1, h2:eth0]\n    \
transport: gre\n    gre: {key: 7}\n    depth: 128\n";

    #[test]
    fn every_transport_gives_a_valid_topology() {
        let file = Path::new("/tmp/rt.yaml");
        let t = load_str(LAB, file).unwrap_or_else(|e| panic!("{e}"));
        for transport in [
            Transport::Raw,
            Transport::Tap,
            Transport::Hybrid,
            Transport::Gre,
            Transport::L2tpv3,
            Transport::Wire,
        ] {
            let moved = t.with_transport(transport);
            assert!(moved.links.iter().all(|l| l.transport == Some(transport)));
            let again = load_str(&to_text(&moved), file)
                .unwrap_or_else(|e| panic!("{}: {e}", transport.name()));
            assert_eq!(again, moved, "{}", transport.name());
            // Depth stays; the GRE key goes unless it is still GRE.
            assert_eq!(again.links[1].depth, Some(128));
            assert_eq!(again.links[1].gre.is_some(), transport == Transport::Gre);
            // Impairments stay where umlvnf's datapath carries the link.
            let datapath = matches!(
                transport,
                Transport::Wire | Transport::Gre | Transport::L2tpv3
            );
            assert_eq!(
                again.links[0].impair.is_some(),
                datapath,
                "{}",
                transport.name()
            );
        }
    }

    #[test]
    fn links_to_the_root_namespace_stay() {
        let text = "name: rt\nhost_access: {host_interfaces: true}\nnodes:\n  r1: {interfaces: {eth0: {}, eth1: {}}}\nlinks:\n  - endpoints: \
                    [r1:eth0, host:rtx0]\n  - endpoints: [r1:eth1, host:rtx1]\n    transport: tap\n";
        let t = load_str(text, Path::new("/tmp/rt.yaml")).unwrap_or_else(|e| panic!("{e}"));
        let moved = t.with_transport(Transport::Wire);
        assert_eq!(moved, t);
    }
}
