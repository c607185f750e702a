//! One host's share of a lab spread over several machines (`hosts:`): the nodes placed on it,
//! the links between them, and every link from one of them to a node on another host turned
//! into an L2TPv3-over-UDP tunnel between the two hosts' addresses.
//!
//! The share is a pure function of the topology and the host's name, so each host computes
//! its own and both ends of a crossing link agree without talking to each other. For link `i`
//! the end on its first endpoint's host receives session `2i+1` and sends session `2i+2`,
//! expects cookie [`COOKIE_BASE`]` + 2i+1` and sends cookie [`COOKIE_BASE`]` + 2i+2`, and
//! listens on UDP port [`FIRST_PORT`]` + 2i`; the other end mirrors all three (its port is
//! [`FIRST_PORT`]` + 2i+1`). Every id and port is distinct across the lab.

use std::collections::BTreeMap;

use umlvnf_topology::placement::place;
use umlvnf_topology::{
    Cookie, L2tpMode, L2tpv3Options, Link, RemoteEnd, Topology, Transport, TunnelId,
};

use crate::PlanError;

/// The UDP port of the first endpoint of link 0's tunnel; link `i` uses this plus `2i` and
/// `2i+1`.
pub const FIRST_PORT: u16 = 17100;
/// The cookies of cross-host tunnels count up from here (a fixed prefix makes a stray packet
/// of another lab unlikely to match).
pub const COOKIE_BASE: u32 = 0x756d_0000;

/// The name of host `host`'s share of lab `lab`: `LAB.HOST`. Lab and host names hold no `.`,
/// so the name is unambiguous, and it differs from every lab name, so a share's state
/// directory, lock, namespaces and interfaces never collide with another share's or lab's, even
/// when several hosts are simulated on one machine.
pub fn share_lab(lab: &str, host: &str) -> String {
    format!("{lab}.{host}")
}

/// The share of `topo` that host `host` runs (named [`share_lab`]), or the whole topology when
/// `host` is `None` and the topology has no `hosts:`.
pub fn share(topo: &Topology, host: Option<&str>) -> Result<Topology, PlanError> {
    let names = || {
        if topo.hosts.is_empty() {
            "none: the topology has no `hosts:`, so plan it without a host".to_string()
        } else {
            topo.hosts
                .keys()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let placement = place(topo).ok().flatten();
    let (host, placement) = match (host, placement) {
        (None, None) => return Ok(topo.clone()),
        (None, Some(_)) => return Err(PlanError::HostNeeded { hosts: names() }),
        (Some(h), Some(p)) if topo.hosts.contains_key(h) => (h, p),
        (Some(h), _) => {
            return Err(PlanError::UnknownHost {
                host: h.to_string(),
                hosts: names(),
            })
        }
    };
    let here = |node: &str| placement.get(node).map(String::as_str) == Some(host);
    let mut out = topo.clone();
    out.name = share_lab(&topo.name, host);
    out.nodes.retain(|name, _| here(name));
    out.links = Vec::new();
    for (i, link) in topo.links.iter().enumerate() {
        let sides: Vec<bool> = link.endpoints.iter().map(|e| here(&e.node)).collect();
        match sides.iter().position(|&h| h) {
            None => {}
            Some(_) if sides.iter().all(|&h| h) => out.links.push(link.clone()),
            Some(side) => out.links.push(crossing(topo, &placement, i, link, side)?),
        }
    }
    Ok(out)
}

/// Link `i` as seen from its endpoint `side` (the one on this host): a single-endpoint
/// L2TPv3-over-UDP link to the other endpoint's host.
fn crossing(
    topo: &Topology,
    placement: &BTreeMap<String, String>,
    i: usize,
    link: &Link,
    side: usize,
) -> Result<Link, PlanError> {
    let host_of = |s: usize| placement.get(&link.endpoints[s].node);
    let addr = |s: usize| {
        host_of(s)
            .and_then(|h| topo.hosts.get(h))
            .map(|h| h.address)
    };
    let (Some(local), Some(remote)) = (addr(side), addr(1 - side)) else {
        // Validation places every endpoint of a link on a host.
        return Err(PlanError::WireEnds { link: i });
    };
    let port = |s: usize| {
        u16::try_from(2 * i + s)
            .ok()
            .and_then(|k| FIRST_PORT.checked_add(k))
            .ok_or(PlanError::NoTunnelPort {
                link: i,
                first: FIRST_PORT,
            })
    };
    let number = |s: usize| u32::try_from(2 * i + s + 1).ok();
    let (Some(rx), Some(tx)) = (number(side), number(1 - side)) else {
        return Err(PlanError::NoTunnelPort {
            link: i,
            first: FIRST_PORT,
        });
    };
    let mut out = link.clone();
    out.endpoints = vec![link.endpoints[side].clone()];
    out.transport = Some(Transport::L2tpv3);
    out.l2tpv3 = Some(L2tpv3Options {
        mode: Some(L2tpMode::Udp),
        rx_session: Some(TunnelId(rx)),
        tx_session: Some(TunnelId(tx)),
        rx_cookie: Some(Cookie(u64::from(COOKIE_BASE.wrapping_add(rx)))),
        tx_cookie: Some(Cookie(u64::from(COOKIE_BASE.wrapping_add(tx)))),
        ..L2tpv3Options::default()
    });
    out.remote = Some(RemoteEnd {
        address: remote,
        port: Some(port(1 - side)?),
        local: Some(local),
        local_port: Some(port(side)?),
        peer: host_of(1 - side).map(|h| format!("{} on {h}", link.endpoints[1 - side])),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_HOSTS: &str = "
name: mh
hosts:
  a: {address: 192.0.2.1}
  b: {address: 192.0.2.2, capacity: 2}
nodes:
  r1: {interfaces: {eth0: {}}}
  r2: {host: b, interfaces: {eth0: {}, eth1: {}}}
  r3: {interfaces: {eth0: {}}}
  r4: {host: b, interfaces: {eth0: {}, eth1: {}}}
links:
  - endpoints: [r1:eth0, r2:eth0]
  - endpoints: [r2:eth1, r4:eth0]
  - endpoints: [r3:eth0, r4:eth1]
";

    fn load(text: &str) -> Topology {
        umlvnf_topology::load_str(text, std::path::Path::new("/tmp/mh.yaml"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn each_host_keeps_its_nodes_and_the_links_that_touch_them() {
        let t = load(TWO_HOSTS);
        let a = share(&t, Some("a")).unwrap();
        let b = share(&t, Some("b")).unwrap();
        assert_eq!(a.nodes.keys().collect::<Vec<_>>(), ["r1", "r3"]);
        assert_eq!(b.nodes.keys().collect::<Vec<_>>(), ["r2", "r4"]);
        // Each share is a lab of its own, named so that it collides with no other.
        assert_eq!((a.name.as_str(), b.name.as_str()), ("mh.a", "mh.b"));
        assert_eq!(a.links.len(), 2);
        assert_eq!(b.links.len(), 3);
        // The link inside b is unchanged; a has no part of it.
        assert_eq!(b.links[1], t.links[1]);
    }

    #[test]
    fn both_ends_of_a_crossing_link_agree() {
        let t = load(TWO_HOSTS);
        let a = share(&t, Some("a")).unwrap();
        let b = share(&t, Some("b")).unwrap();
        for (la, lb) in [(&a.links[0], &b.links[0]), (&a.links[1], &b.links[2])] {
            let (oa, ob) = (la.l2tpv3.clone().unwrap(), lb.l2tpv3.clone().unwrap());
            assert_eq!(oa.tx_session, ob.rx_session);
            assert_eq!(oa.rx_session, ob.tx_session);
            assert_eq!(oa.tx_cookie, ob.rx_cookie);
            assert_eq!(oa.rx_cookie, ob.tx_cookie);
            let (ra, rb) = (la.remote.clone().unwrap(), lb.remote.clone().unwrap());
            assert_eq!(
                (ra.address, ra.local),
                (rb.local.unwrap(), Some(rb.address))
            );
            assert_eq!((ra.port, ra.local_port), (rb.local_port, rb.port));
            assert_eq!(la.endpoints.len(), 1);
            assert_eq!(la.transport, Some(Transport::L2tpv3));
        }
        let first = a.links[0].l2tpv3.clone().unwrap();
        assert_eq!(
            (first.rx_session, first.tx_session),
            (Some(TunnelId(1)), Some(TunnelId(2)))
        );
        let third = a.links[1].remote.clone().unwrap();
        assert_eq!(
            (third.local_port, third.port),
            (Some(FIRST_PORT + 4), Some(FIRST_PORT + 5))
        );
    }

    #[test]
    fn shares_plan_and_need_a_known_host() {
        let t = load(TWO_HOSTS);
        assert!(matches!(share(&t, None), Err(PlanError::HostNeeded { .. })));
        assert!(matches!(
            share(&t, Some("zz")),
            Err(PlanError::UnknownHost { .. })
        ));
        let single = load("name: one\nnodes: {r1: {}}\n");
        assert_eq!(share(&single, None).unwrap(), single);
        assert!(matches!(
            share(&single, Some("a")),
            Err(PlanError::UnknownHost { .. })
        ));
    }
}
