//! Whether the far end of each link to a remote end is heard from.
//!
//! A guest speaks such a link's tunnel itself, so the runtime reads the guest interface's
//! receive counter through the agent every [`umlvnf_agent::agent::keepalive::EVERY`]; for a
//! host node, umlvnf's datapath speaks the tunnel, so the frames its wire received from the
//! remote end are counted already, and the runtime sends the node's keepalives itself. Both
//! ends send a keepalive that often, so a counter that has not moved for [`SILENT_AFTER`]
//! means the peer is gone (its host down, its node stopped, or the underlay broken).

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
    /// `node:iface`.
    endpoint: String,
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

/// Where the frame counters of the watched ends are read.
pub trait PeerCounters {
    /// Guest `node`'s interface report (see [`umlvnf_metrics::parse_guest_report`]), `None`
    /// when it cannot be read.
    fn guest_report(&self, node: &str) -> Option<String>;
    /// Frames the datapath received from the remote end of the wire whose first end is
    /// `endpoint` (a host node's interface).
    fn wire_received(&self, endpoint: &str) -> Option<u64>;
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
        let end = |node: &str, iface: &str, netns: Option<&String>| {
            let endpoint = format!("{node}:{iface}");
            End {
                node: node.to_string(),
                iface: iface.to_string(),
                remote: plan
                    .links
                    .iter()
                    .find(|l| l.endpoints[0] == endpoint)
                    .map(|l| l.endpoints[1].clone())
                    .unwrap_or_else(|| "remote".to_string()),
                endpoint,
                netns: netns.cloned(),
            }
        };
        let guests = plan.guests.iter().flat_map(|g| {
            g.setup
                .interfaces
                .iter()
                .filter(|i| i.keepalive)
                .map(|i| end(&g.node, &i.name, None))
        });
        let host_nodes = plan
            .host_nodes
            .iter()
            .flat_map(|h| h.keepalive.iter().map(|i| end(&h.node, i, Some(&h.netns))));
        let ends: Vec<End> = guests.chain(host_nodes).collect();
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

    /// Reads every watched end's frame counter once from `counters` (each guest's report
    /// once) and notes which counters moved.
    pub fn poll(&self, counters: &dyn PeerCounters) {
        let mut reports: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
        let frames: Vec<Option<u64>> = self
            .ends
            .iter()
            .map(|end| match end.netns {
                Some(_) => counters.wire_received(&end.endpoint),
                None => reports
                    .entry(&end.node)
                    .or_insert_with(|| received_by_interface(counters.guest_report(&end.node)))
                    .get(&end.iface)
                    .copied(),
            })
            .collect();
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        for (seen, frames) in seen.iter_mut().zip(frames) {
            if frames.is_some() && seen.frames.is_some() && frames != seen.frames {
                seen.changed = Some(now);
            }
            if frames.is_some() {
                seen.frames = frames;
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
                    endpoint: end.endpoint.clone(),
                    remote: end.remote.clone(),
                    peer: peer_state(seen.frames.is_some(), age, self.since.elapsed()),
                    frames_received: seen.frames,
                    last_frame_seconds: age.map(|a| a.as_secs_f64()),
                }
            })
            .collect()
    }
}

/// Frames received by each interface of a guest's report (none when there is no report or it
/// does not parse).
fn received_by_interface(report: Option<String>) -> BTreeMap<String, u64> {
    report
        .and_then(|r| umlvnf_metrics::parse_guest_report(&r).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(i, s)| s.netdev.map(|c| (i, c.rx_packets)))
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
