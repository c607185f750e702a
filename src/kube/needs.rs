//! What the container of one share needs from its node, read from the share's plan: Linux
//! capabilities, whether it must be privileged, whether it must leave seccomp unconfined, and
//! the room guest memory takes in `/dev/shm`.
//!
//! Tried with a share's runtime whose bounding set held only what is derived here
//! (`setpriv --bounding-set`): the guests-only share of `topologies/hosts/two-hosts.yaml` runs
//! with `SETPCAP` alone, and the other share (a veth between two guests on raw sockets) with
//! `SETPCAP`, `NET_ADMIN` and `NET_RAW`; without `NET_RAW` its guests cannot bring their raw
//! interfaces up, without `NET_ADMIN` its veth pair is refused.

use std::collections::BTreeSet;

use crate::plan::wire::{Backend, WireSocket};
use crate::plan::{HostStep, Plan};

/// Room in `/dev/shm` beyond the guests' memory.
pub const SHM_MARGIN: u64 = 64 << 20;

/// What one share's container needs, with the reason for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    /// Capabilities to add (Kubernetes spelling, without `CAP_`), sorted.
    pub capabilities: BTreeSet<&'static str>,
    /// Why each capability is there, in the order of `capabilities`.
    pub reasons: Vec<String>,
    /// Why the container must be privileged, if it must.
    pub privileged: Option<String>,
    /// Why seccomp must be left unconfined, if it must.
    pub unconfined_seccomp: Option<String>,
    /// Bytes of guest memory the share maps from `/dev/shm`.
    pub guest_memory: u64,
}

impl Needs {
    /// The size of the `/dev/shm` volume: the guests' memory and [`SHM_MARGIN`], in MiB.
    pub fn shm_mib(&self) -> u64 {
        (self.guest_memory + SHM_MARGIN).div_ceil(1 << 20)
    }
}

/// Reads what the share planned in `plan` needs.
pub fn needs(plan: &Plan) -> Needs {
    let mut caps: Vec<(&'static str, String)> = vec![(
        "SETPCAP",
        "guests drop every capability their links do not need from their bounding set, which \
         needs it (container runtimes grant it by default; added so the drop cannot fail \
         silently)"
            .into(),
    )];
    let namespaces = plan
        .host_steps
        .iter()
        .any(|s| matches!(s, HostStep::Netns { .. }))
        || !plan.host_nodes.is_empty();
    let taps = plan
        .host_steps
        .iter()
        .any(|s| matches!(s, HostStep::Tap { .. }));
    let interfaces = plan
        .host_steps
        .iter()
        .any(|s| !matches!(s, HostStep::Netns { .. } | HostStep::SteerRx { .. }));
    let guest_cap = |cap: &str| {
        plan.guests
            .iter()
            .any(|g| g.capabilities.iter().any(|c| c == cap))
    };
    let packet_wires = plan.wires.iter().any(|w| {
        w.ends.iter().any(|e| {
            matches!(
                e.socket,
                WireSocket::Packet { .. } | WireSocket::RawIp { .. }
            )
        })
    });

    if interfaces || guest_cap("CAP_NET_ADMIN") {
        caps.push((
            "NET_ADMIN",
            "the share creates interfaces on the node (veth pairs, bridges, taps) or a guest \
             keeps it for a tap link"
                .into(),
        ));
    }
    if guest_cap("CAP_NET_RAW") || packet_wires {
        caps.push((
            "NET_RAW",
            "a guest or umlvnf's datapath reads a link through a raw socket".into(),
        ));
    }
    if namespaces {
        caps.push((
            "SYS_ADMIN",
            "host nodes are network namespaces, bind-mounted under /run/netns and entered \
             with setns"
                .into(),
        ));
    }
    let privileged = match (namespaces, taps) {
        (true, _) => Some(
            "the share has host nodes: their namespaces are bind mounts (which the runtime's \
             default AppArmor profile refuses), their sysctls are written through /proc/sys \
             (read-only in a container) and commands in them see a sysfs mounted for them"
                .to_string(),
        ),
        (false, true) => {
            Some("the share creates taps through /dev/net/tun, which a container has not".into())
        }
        (false, false) => None,
    };
    let unconfined_seccomp = plan
        .wires
        .iter()
        .any(|w| w.backend == Backend::IoUring)
        .then(|| {
            "a wire uses the io_uring backend, which container runtimes' default seccomp \
             profiles refuse"
                .to_string()
        });
    caps.sort_by_key(|(c, _)| *c);
    Needs {
        capabilities: caps.iter().map(|(c, _)| *c).collect(),
        reasons: caps
            .into_iter()
            .map(|(c, why)| format!("{c}: {why}"))
            .collect(),
        privileged,
        unconfined_seccomp,
        guest_memory: plan.guests.iter().map(|g| g.memory).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(yaml: &str) -> Plan {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("lab.yaml");
        std::fs::write(&file, yaml).expect("write");
        crate::plan::plan_file(&file, &mut crate::images::PlannedHere)
            .expect("plans")
            .plan
    }

    #[test]
    fn guests_on_udp_tunnels_need_only_setpcap() {
        let n = needs(&planned(
            "name: t\nnodes:\n  r1: {memory: 64M}\n  r2: {memory: 96M}\nlinks:\n  - endpoints: [r1:eth0, r2:eth0]\n    transport: l2tpv3\n",
        ));
        assert_eq!(n.capabilities, BTreeSet::from(["SETPCAP"]));
        assert_eq!(n.privileged, None);
        assert_eq!(n.unconfined_seccomp, None);
        assert_eq!(n.guest_memory, 160 << 20);
        assert_eq!(n.shm_mib(), 224);
    }

    #[test]
    fn raw_links_need_net_admin_and_net_raw() {
        let n = needs(&planned(
            "name: t\nnodes:\n  r1: {}\n  r2: {}\nlinks:\n  - endpoints: [r1:eth0, r2:eth0]\n",
        ));
        assert_eq!(
            n.capabilities,
            BTreeSet::from(["NET_ADMIN", "NET_RAW", "SETPCAP"])
        );
        assert_eq!(n.reasons.len(), 3);
        assert!(n.reasons[0].starts_with("NET_ADMIN: "), "{:?}", n.reasons);
        assert_eq!(n.privileged, None);
    }

    #[test]
    fn host_nodes_need_sys_admin_and_privilege() {
        let n = needs(&planned(
            "name: t\nnodes:\n  r1: {}\n  h1: {kind: host}\nlinks:\n  - endpoints: [r1:eth0, h1:eth0]\n",
        ));
        assert!(n.capabilities.contains("SYS_ADMIN"), "{n:?}");
        assert!(n.capabilities.contains("NET_ADMIN"), "{n:?}");
        assert!(n
            .privileged
            .as_deref()
            .is_some_and(|p| p.contains("AppArmor")));
    }

    #[test]
    fn taps_need_privilege_and_io_uring_unconfined_seccomp() {
        let n = needs(&planned(
            "name: t\nnodes:\n  r1: {}\n  r2: {}\nlinks:\n  - endpoints: [r1:eth0, r2:eth0]\n    transport: tap\n",
        ));
        assert!(n
            .privileged
            .as_deref()
            .is_some_and(|p| p.contains("/dev/net/tun")));
        let n = needs(&planned(
            "name: t\nnodes:\n  r1: {}\n  r2: {}\nlinks:\n  - endpoints: [r1:eth0, r2:eth0]\n    transport: wire\n    wire: {backend: io_uring}\n",
        ));
        assert!(n.unconfined_seccomp.is_some(), "{n:?}");
        assert_eq!(n.privileged, None);
    }
}
