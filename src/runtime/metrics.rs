//! The lab as a source of Prometheus metrics: guests, host-side interfaces and datapath queues,
//! served by `umlvnf-metrics` while the lab runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use umlvnf_metrics::{
    GuestInfo, HostInterface, LabSource, MetricsError, MetricsServer, QueueSample, QueuedSample,
};

use super::supervisor::Lab;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = umlvnf_metrics::DEFAULT_LISTEN;

/// Where metrics are served, and whether the address was asked for (then a taken port is an
/// error) or is the default (then a free port is used instead).
#[derive(Debug, Clone, Copy)]
pub enum Listen {
    /// No endpoint.
    Off,
    /// The default address, or a free loopback port when another lab has it.
    Default,
    /// This address exactly.
    Given(SocketAddr),
}

/// Starts the metrics endpoint of a lab and records its address in the lab state.
pub fn serve(lab: &Arc<Lab>, listen: Listen) -> Result<Option<SocketAddr>, String> {
    Ok(lab.record_metrics(start(lab, listen)?))
}

/// Starts the endpoint of `lab` (none when `listen` is off).
fn start(lab: &Arc<Lab>, listen: Listen) -> Result<Option<MetricsServer>, String> {
    let source: Arc<dyn LabSource> = Arc::new(LabMetrics(Arc::downgrade(lab)));
    let refresh = umlvnf_metrics::DEFAULT_GUEST_REFRESH;
    match listen {
        Listen::Off => Ok(None),
        Listen::Given(addr) => MetricsServer::start(addr, source, refresh)
            .map(Some)
            .map_err(|e| format!("metrics endpoint: {e}")),
        Listen::Default => {
            let addr: SocketAddr = DEFAULT_LISTEN.parse().expect("valid default address");
            match MetricsServer::start(addr, source.clone(), refresh) {
                Ok(s) => Ok(Some(s)),
                Err(MetricsError::AddressInUse { .. }) => {
                    let any: SocketAddr = "127.0.0.1:0".parse().expect("valid address");
                    MetricsServer::start(any, source, refresh)
                        .map(Some)
                        .map_err(|e| format!("metrics endpoint: {e}"))
                }
                Err(e) => Err(format!("metrics endpoint: {e}")),
            }
        }
    }
}

/// A weak handle, so that the server does not keep the lab alive.
struct LabMetrics(Weak<Lab>);

impl LabSource for LabMetrics {
    fn lab(&self) -> String {
        self.0
            .upgrade()
            .map(|l| match &l.plan().share_of {
                Some(s) => s.lab.clone(),
                None => l.name().to_string(),
            })
            .unwrap_or_default()
    }

    fn host(&self) -> String {
        self.0
            .upgrade()
            .and_then(|l| l.plan().share_of.as_ref().map(|s| s.host.clone()))
            .unwrap_or_default()
    }

    fn guests(&self) -> Vec<GuestInfo> {
        let Some(lab) = self.0.upgrade() else {
            return Vec::new();
        };
        lab.guest_records()
            .into_iter()
            .map(|(node, rec)| GuestInfo {
                node,
                pid: rec.process.map(|p| p.pid),
                up: rec.state == umlvnf_lab::NodeState::Ready,
                restarts: rec.restarts,
                boot_seconds: rec.boot_seconds,
            })
            .collect()
    }

    fn guest_stats(
        &self,
        node: &str,
        timeout: Duration,
    ) -> Result<String, umlvnf_metrics::GuestReadError> {
        let lab = self.0.upgrade().ok_or("the lab is gone")?;
        Ok(lab.guest_net_stats(node, timeout)?)
    }

    fn host_interfaces(&self) -> Vec<HostInterface> {
        self.0
            .upgrade()
            .map(|l| host_interfaces(l.plan()))
            .unwrap_or_default()
    }

    fn datapath_queues(&self) -> Vec<QueueSample> {
        let Some(lab) = self.0.upgrade() else {
            return Vec::new();
        };
        let transports: BTreeMap<usize, String> = lab
            .plan()
            .wires
            .iter()
            .map(|w| (w.link, lab.plan().links[w.link].transport.clone()))
            .collect();
        let mut out = Vec::new();
        for (name, link, ends, c) in lab.wire_counters() {
            let transport = transports
                .get(&link)
                .cloned()
                .unwrap_or_else(|| "wire".into());
            // End a receives what goes a→b and sends what comes b→a; end b the other way.
            let per_end = [
                (&ends[0], &c.a_to_b.rx, &c.b_to_a.tx),
                (&ends[1], &c.b_to_a.rx, &c.a_to_b.tx),
            ];
            for (endpoint, rx, tx) in per_end {
                let (node, interface) = endpoint
                    .split_once(':')
                    .map(|(n, i)| (n.to_string(), i.to_string()))
                    .unwrap_or_else(|| (endpoint.clone(), String::new()));
                for (queue, q) in [("rx", rx), ("tx", tx)] {
                    out.push(QueueSample {
                        link: name.clone(),
                        node: node.clone(),
                        interface: interface.clone(),
                        queue: queue.into(),
                        transport: transport.clone(),
                        packets: q.packets,
                        bytes: q.bytes,
                        drops: umlvnf_datapath::DropReason::ALL
                            .iter()
                            .map(|r| (r.as_str().to_string(), q.drops.get(*r)))
                            .collect(),
                        syscalls: q.syscalls,
                        batch_sizes: q
                            .batch_hist
                            .iter()
                            .enumerate()
                            .map(|(i, n)| {
                                let upper = if i + 1 == q.batch_hist.len() {
                                    u64::MAX
                                } else {
                                    (1u64 << (i + 1)) - 1
                                };
                                (upper, *n)
                            })
                            .collect(),
                    });
                }
            }
        }
        out
    }

    fn datapath_queued(&self) -> Vec<QueuedSample> {
        let Some(lab) = self.0.upgrade() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, link, ends, c) in lab.wire_counters() {
            let transport = lab
                .plan()
                .links
                .get(link)
                .map_or_else(|| "wire".to_string(), |l| l.transport.clone());
            // Frames going a→b wait to be sent by end b, and the other way.
            for (endpoint, dir) in [(&ends[1], &c.a_to_b), (&ends[0], &c.b_to_a)] {
                let (node, interface) = endpoint
                    .split_once(':')
                    .map(|(n, i)| (n.to_string(), i.to_string()))
                    .unwrap_or_else(|| (endpoint.clone(), String::new()));
                out.push(QueuedSample {
                    link: name.clone(),
                    node,
                    interface,
                    transport: transport.clone(),
                    frames: dir.queued,
                });
            }
        }
        out
    }
}

/// Which node and interface each root-namespace interface of the lab serves.
fn host_interfaces(plan: &crate::plan::Plan) -> Vec<HostInterface> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    // Guest ends: the root-namespace interface each vector device opens.
    for g in &plan.guests {
        for i in &g.setup.interfaces {
            if let Some(ifname) = &i.host_ifname {
                if seen.insert(ifname.clone()) {
                    out.push(HostInterface {
                        ifname: ifname.clone(),
                        node: g.node.clone(),
                        interface: i.name.clone(),
                        transport: i.transport.clone(),
                    });
                }
            }
        }
    }
    // The rest belong to the link's non-guest end.
    for l in &plan.links {
        let other = l
            .endpoints
            .iter()
            .find(|e| {
                let node = e.split(':').next().unwrap_or("");
                !plan.guests.iter().any(|g| g.node == node)
            })
            .cloned()
            .unwrap_or_else(|| l.endpoints[1].clone());
        let (node, interface) = other
            .split_once(':')
            .map(|(n, i)| (n.to_string(), i.to_string()))
            .unwrap_or((other.clone(), String::new()));
        for ifname in &l.host_interfaces {
            if seen.insert(ifname.clone()) {
                out.push(HostInterface {
                    ifname: ifname.clone(),
                    node: node.clone(),
                    interface: interface.clone(),
                    transport: l.transport.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan;

    #[test]
    fn host_interfaces_name_the_node_and_interface_they_serve() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/links.yaml");
        let topo = umlvnf_topology::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let ctx = crate::images::planned_context(
            &topo,
            "/var/lib/umlvnf/labs".into(),
            [("minimal".to_string(), "/images/minimal.ext4".into())].into(),
            true,
        )
        .expect("context");
        let p = plan(&topo, &ctx).expect("plan");
        let found = host_interfaces(&p);
        let of = |node: &str, iface: &str| {
            found
                .iter()
                .find(|h| h.node == node && h.interface == iface)
                .unwrap_or_else(|| panic!("no host interface for {node}:{iface} in {found:?}"))
        };
        // Guest ends come from the guest's own devices, with their transport.
        assert_eq!(of("r1", "eth0").transport, "tap");
        assert_eq!(of("r1", "eth1").transport, "raw");
        assert_eq!(of("r2", "eth1").transport, "hybrid");
        // Other root-namespace interfaces belong to the link's non-guest end.
        assert!(found
            .iter()
            .any(|h| h.node == "host" && h.interface == "lkroot0"));
        let names: std::collections::BTreeSet<&str> =
            found.iter().map(|h| h.ifname.as_str()).collect();
        assert_eq!(names.len(), found.len(), "each interface once: {found:?}");
    }
}
