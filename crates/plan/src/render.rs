//! The plan as text for people (`umlvnf plan`).

use std::fmt::Write;

use umlvnf_packet::impair::Impairment;
use umlvnf_packet::units;

use crate::{HostStep, Plan, WireEncap, WireSocket};

/// Renders a plan as readable text: host steps, host node settings, and every UML command line.
pub fn render_text(p: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "lab {} (state in {})", p.lab, p.lab_dir.display());
    if let Some(s) = &p.share_of {
        let _ = writeln!(
            out,
            "share of lab {} that host {} runs (metrics: lab=\"{}\", host=\"{}\")",
            s.lab, s.host, s.lab, s.host
        );
    }
    let _ = writeln!(out, "owner mark: {}", p.owner);
    let _ = writeln!(
        out,
        "host access: {}",
        if p.host_access.is_empty() {
            "none (the lab stays in its own namespaces and state directory)".to_string()
        } else {
            p.host_access.join(", ")
        }
    );
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
    if !p.bpf_files.is_empty() {
        let _ = writeln!(out, "\nbpf filters (compiled before boot):");
        for b in &p.bpf_files {
            let what = match (&b.expression, b.drop_outgoing) {
                (Some(e), true) => format!("only \"{e}\", never what it sent"),
                (Some(e), false) => format!("only \"{e}\""),
                (None, _) => "everything but what it sent".to_string(),
            };
            let _ = writeln!(
                out,
                "  {} receives {what} ({})",
                b.endpoint,
                b.path.display()
            );
        }
    }
    if !p.wires.is_empty() {
        let _ = writeln!(out, "\nwires (umlvnf datapath):");
        for w in &p.wires {
            let _ = writeln!(out, "  {} ({:?}, depth {}):", w.name, w.backend, w.depth);
            for (k, e) in w.ends.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    {} {}: {}",
                    ['a', 'b'][k],
                    e.endpoint,
                    socket_text(&e.socket)
                );
            }
            for (k, dir) in ["a->b", "b->a"].iter().enumerate() {
                if let Some(i) = &w.impair[k] {
                    let i = Impairment::from(i);
                    let _ = writeln!(
                        out,
                        "    {dir}: loss {} delay {} jitter {} rate {} duplicate {} reorder {}",
                        units::format_percent(i.loss),
                        units::format_duration(i.delay),
                        units::format_duration(i.jitter),
                        i.rate_bps
                            .map_or("unlimited".to_string(), units::format_rate),
                        units::format_percent(i.duplicate),
                        units::format_percent(i.reorder)
                    );
                }
                if let Some(f) = &w.filter[k] {
                    let _ = writeln!(
                        out,
                        "    filter on frames received on {}: \"{f}\"",
                        ['a', 'b'][k]
                    );
                }
            }
        }
    }
    let _ = writeln!(out, "\nlinks:");
    for l in &p.links {
        let _ = writeln!(
            out,
            "  {} <-> {} [{}]{}{}",
            l.endpoints[0],
            l.endpoints[1],
            l.transport,
            if l.host_interfaces.is_empty() {
                String::new()
            } else {
                format!(" via {}", l.host_interfaces.join(", "))
            },
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
        HostStep::NoOffload { netns, name } => format!("offloads off on {name}{}", ns(netns)),
        HostStep::Up { netns, name } => format!("up {name}{}", ns(netns)),
        HostStep::SteerRx { netns, name, avoid } => format!(
            "receive processing of {name}{} off CPUs {avoid:?} (a pinned guest sends to it)",
            ns(netns)
        ),
    }
}

fn encap_text(e: &WireEncap) -> String {
    match e {
        WireEncap::Gre {
            rx_key,
            tx_key,
            sequence,
        } => {
            let keys = match (rx_key, tx_key) {
                (Some(r), Some(t)) => format!(" rx_key {r:#x} tx_key {t:#x}"),
                _ => String::new(),
            };
            format!("gre{keys}{}", if *sequence { " sequence" } else { "" })
        }
        WireEncap::L2tpv3 {
            udp,
            rx_session,
            tx_session,
            rx_cookie,
            tx_cookie,
            cookie64,
            counter,
        } => {
            let cookies = match (rx_cookie, tx_cookie) {
                (Some(r), Some(t)) => format!(
                    " rx_cookie {r:#x} tx_cookie {t:#x}{}",
                    if *cookie64 { " (64-bit)" } else { "" }
                ),
                _ => String::new(),
            };
            format!(
                "l2tpv3/{} rx_session {rx_session:#x} tx_session {tx_session:#x}{cookies}{}",
                if *udp { "udp" } else { "ip" },
                if *counter { " counter" } else { "" }
            )
        }
    }
}

fn socket_text(s: &WireSocket) -> String {
    match s {
        WireSocket::Packet { ifname, vnet_hdr } => format!(
            "packet socket on {ifname}{}",
            if *vnet_hdr { " (vnet header)" } else { "" }
        ),
        WireSocket::Udp {
            local,
            remote,
            encap,
        } => format!(
            "udp {local} -> {} {}",
            remote.map_or("(learned)".to_string(), |r| r.to_string()),
            encap_text(encap)
        ),
        WireSocket::RawIp {
            proto,
            local,
            remote,
            encap,
        } => format!(
            "raw ip proto {proto} {local} -> {remote} {}",
            encap_text(encap)
        ),
        WireSocket::Seqpacket { path } => format!("seqpacket listener {}", path.display()),
        WireSocket::Tap {
            netns,
            ifname,
            offload,
        } => format!(
            "tap {ifname}{}{}",
            netns
                .as_ref()
                .map(|n| format!(" in {n}"))
                .unwrap_or_default(),
            if *offload { " (offloads on)" } else { "" }
        ),
    }
}
