//! `umlvnf graph`: the topology as Graphviz DOT or a Mermaid flowchart.

use std::fmt::Write;

use umlvnf_topology::{NodeKind, Topology, Transport};

/// Output format of `umlvnf graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

fn transport(t: Option<Transport>, has_guest: bool) -> &'static str {
    let datapath = matches!(
        t,
        Some(Transport::Gre | Transport::L2tpv3 | Transport::Wire)
    );
    if !has_guest && !datapath {
        return "veth";
    }
    t.unwrap_or(Transport::Raw).name()
}

fn has_guest(topo: &Topology, link: &umlvnf_topology::Link) -> bool {
    link.endpoints
        .iter()
        .any(|e| !e.is_root() && topo.node_kind(&e.node) == NodeKind::Uml)
}

/// Renders the topology in the chosen format.
pub fn render(topo: &Topology, format: GraphFormat) -> String {
    let mut out = String::new();
    match format {
        GraphFormat::Dot => {
            let _ = writeln!(out, "graph \"{}\" {{", topo.name);
            let _ = writeln!(out, "  node [fontname=\"monospace\"];");
            for name in topo.nodes.keys() {
                let shape = match topo.node_kind(name) {
                    NodeKind::Uml => "box3d",
                    NodeKind::Host => "box",
                };
                let _ = writeln!(
                    out,
                    "  \"{name}\" [shape={shape}, label=\"{name}\\n({})\"];",
                    kind_name(topo, name)
                );
            }
            if topo
                .links
                .iter()
                .any(|l| l.endpoints.iter().any(|e| e.is_root()))
            {
                let _ = writeln!(
                    out,
                    "  \"host\" [shape=ellipse, label=\"host (root netns)\"];"
                );
            }
            for (i, link) in topo.links.iter().enumerate() {
                let Some(a) = link.endpoints.first() else {
                    continue;
                };
                let b = &far_end(i, link);
                let _ = writeln!(
                    out,
                    "  \"{}\" -- \"{}\" [taillabel=\"{}\", headlabel=\"{}\", label=\"{}\"];",
                    a.node,
                    b.node,
                    a.interface,
                    b.interface,
                    transport(link.transport, has_guest(topo, link))
                );
            }
            let _ = writeln!(out, "}}");
        }
        GraphFormat::Mermaid => {
            let _ = writeln!(out, "flowchart LR");
            for name in topo.nodes.keys() {
                match topo.node_kind(name) {
                    NodeKind::Uml => {
                        let _ = writeln!(out, "  {name}[[\"{name} (uml)\"]]");
                    }
                    NodeKind::Host => {
                        let _ = writeln!(out, "  {name}[\"{name} (host)\"]");
                    }
                }
            }
            if topo
                .links
                .iter()
                .any(|l| l.endpoints.iter().any(|e| e.is_root()))
            {
                let _ = writeln!(out, "  host((\"host\"))");
            }
            for (i, link) in topo.links.iter().enumerate() {
                let Some(a) = link.endpoints.first() else {
                    continue;
                };
                let b = &far_end(i, link);
                let _ = writeln!(
                    out,
                    "  {} ---|\"{} {} {}\"| {}",
                    a.node,
                    a.interface,
                    transport(link.transport, has_guest(topo, link)),
                    b.interface,
                    b.node
                );
            }
        }
    }
    out
}

fn kind_name(topo: &Topology, name: &str) -> &'static str {
    match topo.node_kind(name) {
        NodeKind::Uml => "uml",
        NodeKind::Host => "host",
    }
}

/// The second endpoint of a link, or a `remoteN` node standing for its remote tunnel end.
fn far_end(i: usize, link: &umlvnf_topology::Link) -> umlvnf_topology::Endpoint {
    link.endpoints
        .get(1)
        .cloned()
        .unwrap_or_else(|| umlvnf_topology::Endpoint {
            node: format!("remote{i}"),
            interface: link
                .remote
                .as_ref()
                .map_or_else(String::new, |r| r.address.to_string()),
        })
}
