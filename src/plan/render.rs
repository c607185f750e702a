//! The plan as text for people (`umlvnf plan`).

use std::fmt::Write;

use super::{HostStep, Plan};

/// Renders a plan as readable text: host steps, host node settings, and every UML command line.
pub fn render_text(p: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "lab {} (state in {})", p.lab, p.lab_dir.display());
    let _ = writeln!(out, "owner mark: {}", p.owner);
    let _ = writeln!(out, "\nhost objects:");
    for step in &p.host_steps {
        let _ = writeln!(out, "  {}", step_text(step));
    }
    for h in &p.host_nodes {
        let _ = writeln!(out, "\nhost node {} (netns {}):", h.node, h.netns);
        for (ifname, addr) in &h.addresses {
            let _ = writeln!(out, "  address {addr} on {ifname}");
        }
        for r in &h.routes {
            let _ = writeln!(out, "  route {r}");
        }
        for (k, v) in &h.sysctls {
            let _ = writeln!(out, "  sysctl {k}={v}");
        }
        for e in &h.exec {
            let _ = writeln!(out, "  exec {e}");
        }
    }
    for g in &p.guests {
        let _ = writeln!(
            out,
            "\nguest {} ({} MiB, restart {:?}, capabilities: {}):",
            g.node,
            g.memory >> 20,
            g.restart,
            if g.capabilities.is_empty() {
                "none".to_string()
            } else {
                g.capabilities.join(" ")
            }
        );
        let _ = writeln!(out, "  {}", g.argv.join(" \\\n    "));
        for i in &g.setup.interfaces {
            let addrs: Vec<&str> = i
                .ipv4
                .iter()
                .chain(i.ipv6.iter())
                .map(String::as_str)
                .collect();
            let _ = writeln!(out, "  {} -> {} {}", i.device, i.name, addrs.join(" "));
        }
        for r in &g.setup.routes {
            let _ = writeln!(out, "  route {r}");
        }
        for (k, v) in &g.setup.sysctls {
            let _ = writeln!(out, "  sysctl {k}={v}");
        }
        for (name, rules) in [
            ("nftables", &g.setup.nftables),
            ("iptables", &g.setup.iptables),
            ("ip6tables", &g.setup.ip6tables),
        ] {
            if let Some(r) = rules {
                let _ = writeln!(
                    out,
                    "  {name} ruleset ({} lines) loaded at boot",
                    r.lines().count()
                );
            }
        }
        for e in &g.setup.exec {
            let _ = writeln!(out, "  exec {e}");
        }
    }
    let _ = writeln!(out, "\nlinks:");
    for l in &p.links {
        let _ = writeln!(
            out,
            "  {} <-> {} [{}] via {}{}",
            l.endpoints[0],
            l.endpoints[1],
            l.transport,
            l.host_interfaces.join(", "),
            l.bridge
                .as_ref()
                .map(|b| format!(" (bridge {b})"))
                .unwrap_or_default()
        );
    }
    out
}

fn ns(netns: &Option<String>) -> String {
    netns
        .as_ref()
        .map(|n| format!(" in {n}"))
        .unwrap_or_default()
}

fn step_text(step: &HostStep) -> String {
    match step {
        HostStep::Netns { name } => format!("netns {name}"),
        HostStep::Veth { name, peer } => format!("veth {name} <-> {peer}"),
        HostStep::Tap { name } => format!("tap {name} (persistent)"),
        HostStep::Bridge { name } => format!("bridge {name} (created unless it exists)"),
        HostStep::Move {
            name,
            netns,
            new_name,
        } => format!("move {name} to {netns} as {new_name}"),
        HostStep::Mtu { netns, name, mtu } => format!("mtu {mtu} on {name}{}", ns(netns)),
        HostStep::Mac { netns, name, mac } => format!("mac {mac} on {name}{}", ns(netns)),
        HostStep::Master { name, bridge } => format!("{name} joins bridge {bridge}"),
        HostStep::Up { netns, name } => format!("up {name}{}", ns(netns)),
    }
}
