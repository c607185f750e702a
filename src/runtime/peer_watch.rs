//! Whether the far end of each link from a guest straight to a remote end is heard from.
//!
//! Nothing on the host carries such a link (the guest speaks the tunnel itself), so the
//! runtime reads the guest interface's receive counter through the agent every
//! [`umlvnf_agent::agent::keepalive::EVERY`]. Both ends send a keepalive that often, so a
//! counter that has not moved for [`SILENT_AFTER`] means the peer is gone (its host down, its
//! guest stopped, or the underlay broken).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use umlvnf_lab::{PeerState, RemoteEndStatus};

use crate::plan::Plan;

/// A peer silent for this long is down: three keepalive intervals.
pub const SILENT_AFTER: Duration = Duration::from_secs(6);

/// One guest interface whose link goes to a remote end.
#[derive(Debug, Clone)]
struct End {
    node: String,
    iface: String,
    remote: String,
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
    /// The ends of `plan` to watch: every guest interface marked for keepalives.
    pub fn of(plan: &Plan) -> PeerWatch {
        let mut ends = Vec::new();
        for g in &plan.guests {
            for i in g.setup.interfaces.iter().filter(|i| i.keepalive) {
                let endpoint = format!("{}:{}", g.node, i.name);
                let remote = plan
                    .links
                    .iter()
                    .find(|l| l.endpoints[0] == endpoint)
                    .map(|l| l.endpoints[1].clone())
                    .unwrap_or_else(|| "remote".to_string());
                ends.push(End {
                    node: g.node.clone(),
                    iface: i.name.clone(),
                    remote,
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

    /// Reads every watched guest once with `read` (node → its interface report, `None` when it
    /// cannot be read) and notes which counters moved.
    pub fn poll(&self, read: &dyn Fn(&str) -> Option<String>) {
        let mut nodes: Vec<&str> = self.ends.iter().map(|e| e.node.as_str()).collect();
        nodes.dedup();
        for node in nodes {
            let report = read(node)
                .and_then(|r| umlvnf_metrics::parse_guest_report(&r).ok())
                .unwrap_or_default();
            let now = Instant::now();
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            for (end, seen) in self.ends.iter().zip(seen.iter_mut()) {
                if end.node != node {
                    continue;
                }
                let frames = report
                    .get(&end.iface)
                    .and_then(|s| s.netdev)
                    .map(|c| c.rx_packets);
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
