//! Whether the far end of each link to a remote end is heard from.
//!
//! A guest speaks such a link's tunnel itself, so the runtime reads the guest interface's
//! receive counter through the agent every [`umlvnf_agent::agent::keepalive::EVERY`]; for a
//! host node (whose tunnel umlvnf's datapath speaks) it reads the interface's counter in the
//! node's namespace and sends the node's keepalives itself. Both ends send a keepalive that
//! often, so a counter that has not moved for [`SILENT_AFTER`] means the peer is gone (its
//! host down, its node stopped, or the underlay broken).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use umlvnf_lab::{PeerState, RemoteEndStatus};

use crate::plan::Plan;

/// A peer silent for this long is down: three keepalive intervals.
pub const SILENT_AFTER: Duration = Duration::from_secs(6);

/// One node interface whose link goes to a remote end.
#[derive(Debug, Clone)]
struct End {
    node: String,
    iface: String,
    remote: String,
    /// The namespace of a host node; `None` for a guest.
    netns: Option<String>,
}

/// What was last read of one end.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    frames: Option<u64>,
    changed: Option<Instant>,
}

/// The ends watched and what was seen of them.
pub struct PeerWatch {
    ends: Vec<End>,
    seen: Mutex<Vec<Seen>>,
    since: Instant,
}

impl PeerWatch {
    /// The ends of `plan` to watch: every guest and host-node interface marked for
    /// keepalives.
    pub fn of(plan: &Plan) -> PeerWatch {
        let remote_of = |node: &str, iface: &str| {
            let endpoint = format!("{node}:{iface}");
            plan.links
                .iter()
                .find(|l| l.endpoints[0] == endpoint)
                .map(|l| l.endpoints[1].clone())
                .unwrap_or_else(|| "remote".to_string())
        };
        let mut ends = Vec::new();
        for g in &plan.guests {
            for i in g.setup.interfaces.iter().filter(|i| i.keepalive) {
                ends.push(End {
                    node: g.node.clone(),
                    iface: i.name.clone(),
                    remote: remote_of(&g.node, &i.name),
                    netns: None,
                });
            }
        }
        for h in &plan.host_nodes {
            for iface in &h.keepalive {
                ends.push(End {
                    node: h.node.clone(),
                    iface: iface.clone(),
                    remote: remote_of(&h.node, iface),
                    netns: Some(h.netns.clone()),
                });
            }
        }
        let seen = Mutex::new(vec![Seen::default(); ends.len()]);
        PeerWatch {
            ends,
            seen,
            since: Instant::now(),
        }
    }

    /// Whether there is anything to watch.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Sends a keepalive on every watched host-node interface, from inside its namespace
    /// (guests send their own). A failure is left for the peer to notice.
    pub fn send_keepalives(&self) {
        for end in &self.ends {
            if let Some(ns) = &end.netns {
                let _ = umlvnf_host::run_in_netns(ns, || {
                    umlvnf_agent::agent::keepalive::send(&end.node, &end.iface)
                });
            }
        }
    }

    /// Reads every watched end once (a guest's counters with `read`, node → its interface
    /// report, `None` when it cannot be read; a host node's in its namespace) and notes which
    /// counters moved.
    pub fn poll(&self, read: &dyn Fn(&str) -> Option<String>) {
        let mut nodes: Vec<&str> = self.ends.iter().map(|e| e.node.as_str()).collect();
        nodes.dedup();
        for node in nodes {
            let netns = self
                .ends
                .iter()
                .find(|e| e.node == node)
                .and_then(|e| e.netns.as_deref());
            let frames_of: BTreeMap<String, u64> = match netns {
                None => read(node)
                    .and_then(|r| umlvnf_metrics::parse_guest_report(&r).ok())
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(i, s)| s.netdev.map(|c| (i, c.rx_packets)))
                    .collect(),
                Some(ns) => netns_counters(ns),
            };
            let now = Instant::now();
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            for (end, seen) in self.ends.iter().zip(seen.iter_mut()) {
                if end.node != node {
                    continue;
                }
                let frames = frames_of.get(&end.iface).copied();
                if frames.is_some() && seen.frames.is_some() && frames != seen.frames {
                    seen.changed = Some(now);
                }
                if frames.is_some() {
                    seen.frames = frames;
                }
            }
        }
    }

    /// Every watched end as `inspect` shows it.
    pub fn status(&self) -> Vec<RemoteEndStatus> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        self.ends
            .iter()
            .zip(seen.iter())
            .map(|(end, seen)| {
                let age = seen.changed.map(|t| t.elapsed());
                RemoteEndStatus {
                    endpoint: format!("{}:{}", end.node, end.iface),
                    remote: end.remote.clone(),
                    peer: peer_state(seen.frames.is_some(), age, self.since.elapsed()),
                    frames_received: seen.frames,
                    last_frame_seconds: age.map(|a| a.as_secs_f64()),
                }
            })
            .collect()
    }
}

/// Frames received by every interface of namespace `ns` (`/proc/net/dev` as a thread inside
/// it sees it); empty when it cannot be read.
fn netns_counters(ns: &str) -> BTreeMap<String, u64> {
    umlvnf_host::run_in_netns(ns, || std::fs::read_to_string("/proc/thread-self/net/dev"))
        .ok()
        .and_then(|r| r.ok())
        .and_then(|text| umlvnf_metrics::parse_proc_net_dev(&text).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(i, c)| (i, c.rx_packets))
        .collect()
}

/// The state of a peer whose end has been read (`read`), whose counter last moved `age` ago,
/// watched for `watched`.
fn peer_state(read: bool, age: Option<Duration>, watched: Duration) -> PeerState {
    match age {
        Some(a) if a <= SILENT_AFTER => PeerState::Up,
        _ if !read || watched <= SILENT_AFTER => PeerState::Unknown,
        _ => PeerState::Down,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_up_while_its_frames_arrive_and_down_once_silent() {
        let s = Duration::from_secs;
        assert_eq!(peer_state(true, Some(s(1)), s(60)), PeerState::Up);
        assert_eq!(peer_state(true, Some(s(30)), s(60)), PeerState::Down);
        assert_eq!(peer_state(true, None, s(60)), PeerState::Down);
        // Too early to tell, or the guest cannot be read.
        assert_eq!(peer_state(true, None, s(2)), PeerState::Unknown);
        assert_eq!(peer_state(false, None, s(60)), PeerState::Unknown);
    }
}
