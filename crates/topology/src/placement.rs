//! Which host of a lab spread over several machines (`hosts:`) runs each node.
//!
//! The rule: a node with `host:` runs there. The others are taken in node-name order, and each
//! goes to the host with the most room left (its `capacity` less the nodes it holds already; a
//! host without `capacity` counts as having room for every node of the lab), ties going to the
//! host whose name sorts first. A host that is full takes no more nodes. The result depends on
//! the topology alone, so every host computes the same placement.

use std::collections::BTreeMap;

use crate::model::Topology;

/// Why the nodes could not all be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementError {
    /// Node `node` names host `host`, which is not under `hosts:`.
    UnknownHost {
        /// The node.
        node: String,
        /// The host it names.
        host: String,
    },
    /// The nodes given to `host` with `host:` exceed its capacity.
    OverCapacity {
        /// The host.
        host: String,
        /// Its capacity.
        capacity: u32,
        /// The nodes that name it, in name order.
        nodes: Vec<String>,
    },
    /// Every host is full before node `node` is placed.
    NoRoom {
        /// The first node left without a host.
        node: String,
        /// The capacity of all hosts together.
        total: u64,
    },
}

/// The host of every node, by node name, or `None` when the topology has no `hosts:`.
pub fn place(topo: &Topology) -> Result<Option<BTreeMap<String, String>>, PlacementError> {
    if topo.hosts.is_empty() {
        return Ok(None);
    }
    let unlimited = topo.nodes.len() as u64;
    let capacity = |h: &str| {
        topo.hosts[h]
            .capacity
            .map_or(unlimited, |c| u64::from(c).min(unlimited))
    };
    let mut held: BTreeMap<&str, Vec<String>> = topo
        .hosts
        .keys()
        .map(|h| (h.as_str(), Vec::new()))
        .collect();
    let mut placed = BTreeMap::new();
    for (name, node) in &topo.nodes {
        if let Some(host) = &node.host {
            let Some(list) = held.get_mut(host.as_str()) else {
                return Err(PlacementError::UnknownHost {
                    node: name.clone(),
                    host: host.clone(),
                });
            };
            list.push(name.clone());
            placed.insert(name.clone(), host.clone());
        }
    }
    for (host, list) in &held {
        if let Some(c) = topo.hosts[*host].capacity {
            if list.len() as u64 > u64::from(c) {
                return Err(PlacementError::OverCapacity {
                    host: host.to_string(),
                    capacity: c,
                    nodes: list.clone(),
                });
            }
        }
    }
    for name in topo.nodes.keys() {
        if placed.contains_key(name) {
            continue;
        }
        let best = held
            .iter()
            .map(|(h, list)| (capacity(h).saturating_sub(list.len() as u64), *h))
            .filter(|(room, _)| *room > 0)
            // Most room first; among equals, the first name (max_by keeps the last maximum).
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)));
        let Some((_, host)) = best else {
            return Err(PlacementError::NoRoom {
                node: name.clone(),
                total: topo.hosts.keys().map(|h| capacity(h)).sum(),
            });
        };
        held.entry(host).or_default().push(name.clone());
        placed.insert(name.clone(), host.to_string());
    }
    Ok(Some(placed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HostSpec, Node};

    fn topo(hosts: &[(&str, Option<u32>)], nodes: &[(&str, Option<&str>)]) -> Topology {
        let mut t: Topology = serde_json::from_str(r#"{"name": "t", "nodes": {}}"#).unwrap();
        for (h, cap) in hosts {
            let address = format!("192.0.2.{}", t.hosts.len() + 1).parse().unwrap();
            t.hosts.insert(
                h.to_string(),
                HostSpec {
                    address,
                    capacity: *cap,
                },
            );
        }
        for (n, host) in nodes {
            let node = Node {
                host: host.map(str::to_string),
                ..Node::default()
            };
            t.nodes.insert(n.to_string(), node);
        }
        t
    }

    fn hosts_of(p: &BTreeMap<String, String>) -> Vec<&str> {
        p.values().map(String::as_str).collect()
    }

    #[test]
    fn no_hosts_means_no_placement() {
        assert_eq!(place(&topo(&[], &[("r1", None)])), Ok(None));
    }

    #[test]
    fn spreads_unplaced_nodes_by_room_left_with_ties_to_the_first_name() {
        let t = topo(
            &[("b", None), ("a", None)],
            &[("r1", None), ("r2", None), ("r3", None)],
        );
        let p = place(&t).unwrap().unwrap();
        assert_eq!(hosts_of(&p), ["a", "b", "a"]);
        // The same topology always gives the same placement.
        assert_eq!(place(&t).unwrap().unwrap(), p);
    }

    #[test]
    fn respects_capacity_and_explicit_hosts() {
        let t = topo(
            &[("a", Some(1)), ("b", Some(3))],
            &[("r1", None), ("r2", Some("a")), ("r3", None)],
        );
        assert_eq!(hosts_of(&place(&t).unwrap().unwrap()), ["b", "a", "b"]);
        let full = topo(&[("a", Some(1))], &[("r1", None), ("r2", None)]);
        assert_eq!(
            place(&full),
            Err(PlacementError::NoRoom {
                node: "r2".into(),
                total: 1
            })
        );
        let over = topo(&[("a", Some(1))], &[("r1", Some("a")), ("r2", Some("a"))]);
        assert!(matches!(
            place(&over),
            Err(PlacementError::OverCapacity { capacity: 1, .. })
        ));
        let unknown = topo(&[("a", None)], &[("r1", Some("z"))]);
        assert!(matches!(
            place(&unknown),
            Err(PlacementError::UnknownHost { .. })
        ));
    }
}
