//! Gathering one scrape: the runtime's view, `/proc`, netlink and the guest cache.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::catalog::{desc, MetricKind};
use crate::exposition::{histogram_buckets, Exposition, Labels, Value};
use crate::guest_stats::GuestInterfaceStats;
use crate::source::LabSource;
use umlvnf_host::group_usage;

/// Collectors whose failures are counted in `umlvnf_collector_errors_total`.
pub(crate) const COLLECTORS: [&str; 3] = ["guest_read", "guest_parse", "netlink"];

/// Statistics last read from inside one guest.
#[derive(Debug, Clone)]
pub(crate) struct GuestEntry {
    /// Guest pid when the statistics were read (they belong to that boot).
    pub pid: Option<i32>,
    /// When the statistics were read (successfully).
    pub taken: Option<Instant>,
    /// Per interface statistics of the last successful read.
    pub stats: BTreeMap<String, GuestInterfaceStats>,
    /// Whether the last attempt succeeded.
    pub ok: bool,
}

/// State shared by the HTTP thread and the refresher.
pub(crate) struct State {
    pub source: Arc<dyn LabSource>,
    pub max_age: Duration,
    pub cache: Mutex<HashMap<String, GuestEntry>>,
    pub errors: Mutex<BTreeMap<&'static str, u64>>,
    pub last_scrape: Mutex<Option<Duration>>,
    /// Highest CPU time exported per guest and pid, so the counter never goes down while a
    /// process of the group exits before being reaped.
    pub cpu_floor: Mutex<HashMap<String, (i32, f64)>>,
}

/// Locks a mutex, going on with the data even when another thread panicked holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub(crate) fn count_error(&self, collector: &'static str) {
        *lock(&self.errors).entry(collector).or_default() += 1;
    }
}

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|&(k, v)| (k, v.to_string())).collect()
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn flag(b: bool) -> Value {
    Value::GaugeInt(i64::from(b))
}

/// Vector driver statistics with their own families: (ethtool name, family, direction).
const VECTOR_STATS: &[(&str, &str, Option<&str>)] = &[
    ("rx_queue_max", "umlvnf_guest_vector_queue_max", Some("rx")),
    ("tx_queue_max", "umlvnf_guest_vector_queue_max", Some("tx")),
    (
        "rx_queue_running_average",
        "umlvnf_guest_vector_queue_running_average",
        Some("rx"),
    ),
    (
        "tx_queue_running_average",
        "umlvnf_guest_vector_queue_running_average",
        Some("tx"),
    ),
    (
        "rx_encaps_errors",
        "umlvnf_guest_vector_encaps_errors",
        Some("rx"),
    ),
    ("tx_timeout_count", "umlvnf_guest_vector_tx_timeouts", None),
    (
        "tx_restart_queue",
        "umlvnf_guest_vector_tx_queue_restarts",
        None,
    ),
    ("tx_kicks", "umlvnf_guest_vector_tx_kicks", None),
    (
        "tx_flow_control_xon",
        "umlvnf_guest_vector_tx_flow_control_xon",
        None,
    ),
    (
        "tx_flow_control_xoff",
        "umlvnf_guest_vector_tx_flow_control_xoff",
        None,
    ),
    (
        "rx_csum_offload_good",
        "umlvnf_guest_vector_rx_csum_offload_good",
        None,
    ),
    (
        "rx_csum_offload_errors",
        "umlvnf_guest_vector_rx_csum_offload_errors",
        None,
    ),
    ("sg_ok", "umlvnf_guest_vector_sg_ok", None),
    ("sg_linearized", "umlvnf_guest_vector_sg_linearized", None),
];

fn push_guest_interface(
    e: &mut Exposition,
    lab: &str,
    node: &str,
    ifname: &str,
    stats: &GuestInterfaceStats,
) {
    if let Some(c) = stats.netdev {
        for (dir, packets, bytes, errors, drops) in [
            ("rx", c.rx_packets, c.rx_bytes, c.rx_errors, c.rx_dropped),
            ("tx", c.tx_packets, c.tx_bytes, c.tx_errors, c.tx_dropped),
        ] {
            let l = labels(&[
                ("lab", lab),
                ("node", node),
                ("interface", ifname),
                ("direction", dir),
            ]);
            e.push(
                "umlvnf_guest_interface_packets",
                l.clone(),
                Value::Counter(packets),
            );
            e.push("umlvnf_guest_interface", l.clone(), Value::Counter(bytes));
            e.push(
                "umlvnf_guest_interface_errors",
                l.clone(),
                Value::Counter(errors),
            );
            e.push("umlvnf_guest_interface_drops", l, Value::Counter(drops));
        }
    }
    for (name, value) in &stats.ethtool {
        let known = VECTOR_STATS.iter().find(|(stat, _, _)| stat == name);
        match known {
            Some(&(_, family, dir)) => {
                let mut l = labels(&[("lab", lab), ("node", node), ("interface", ifname)]);
                if let Some(dir) = dir {
                    l.push(("direction", dir.to_string()));
                }
                let is_counter = desc(family).map(|d| d.kind) == Some(MetricKind::Counter);
                let v = if is_counter {
                    Value::Counter(*value)
                } else {
                    Value::GaugeInt(int(*value))
                };
                e.push(family, l, v);
            }
            None => e.push(
                "umlvnf_guest_ethtool_other",
                labels(&[
                    ("lab", lab),
                    ("node", node),
                    ("interface", ifname),
                    ("stat", name),
                ]),
                Value::GaugeInt(int(*value)),
            ),
        }
    }
}

fn push_host_interfaces(state: &State, e: &mut Exposition, lab: &str) {
    let wanted = state.source.host_interfaces();
    if wanted.is_empty() {
        return;
    }
    let links = match umlvnf_host::Rtnl::root().and_then(|r| r.links()) {
        Ok(links) => links,
        Err(_) => {
            state.count_error("netlink");
            return;
        }
    };
    let by_name: HashMap<&str, &umlvnf_host::LinkInfo> =
        links.iter().map(|l| (l.name.as_str(), l)).collect();
    for hi in &wanted {
        let Some(link) = by_name.get(hi.ifname.as_str()) else {
            continue;
        };
        let base = [
            ("lab", lab),
            ("node", hi.node.as_str()),
            ("interface", hi.interface.as_str()),
            ("transport", hi.transport.as_str()),
            ("ifname", hi.ifname.as_str()),
        ];
        e.push("umlvnf_host_interface_up", labels(&base), flag(link.up));
        e.push(
            "umlvnf_host_interface_mtu",
            labels(&base),
            Value::GaugeInt(i64::from(link.mtu)),
        );
        let Some(s) = link.stats else { continue };
        for (dir, packets, bytes, errors, drops) in [
            ("rx", s.rx_packets, s.rx_bytes, s.rx_errors, s.rx_dropped),
            ("tx", s.tx_packets, s.tx_bytes, s.tx_errors, s.tx_dropped),
        ] {
            let mut l = labels(&base);
            l.push(("direction", dir.to_string()));
            e.push(
                "umlvnf_host_interface_packets",
                l.clone(),
                Value::Counter(packets),
            );
            e.push("umlvnf_host_interface", l.clone(), Value::Counter(bytes));
            e.push(
                "umlvnf_host_interface_errors",
                l.clone(),
                Value::Counter(errors),
            );
            e.push("umlvnf_host_interface_drops", l, Value::Counter(drops));
        }
    }
}

fn push_datapath(state: &State, e: &mut Exposition, lab: &str) {
    for q in state.source.datapath_queues() {
        let l = labels(&[
            ("lab", lab),
            ("link", q.link.as_str()),
            ("node", q.node.as_str()),
            ("interface", q.interface.as_str()),
            ("queue", q.queue.as_str()),
            ("transport", q.transport.as_str()),
        ]);
        e.push(
            "umlvnf_datapath_packets",
            l.clone(),
            Value::Counter(q.packets),
        );
        e.push("umlvnf_datapath", l.clone(), Value::Counter(q.bytes));
        e.push(
            "umlvnf_datapath_syscalls",
            l.clone(),
            Value::Counter(q.syscalls),
        );
        for (reason, n) in &q.drops {
            let mut lr = l.clone();
            lr.push(("reason", reason.clone()));
            e.push("umlvnf_datapath_drops", lr, Value::Counter(*n));
        }
        let (count, buckets) = histogram_buckets(&q.batch_sizes);
        e.push(
            "umlvnf_datapath_batch_size",
            l,
            Value::Histogram {
                sum: q.packets as f64,
                count,
                buckets,
            },
        );
    }
}

fn push_datapath_queued(state: &State, e: &mut Exposition, lab: &str) {
    for q in state.source.datapath_queued() {
        let l = labels(&[
            ("lab", lab),
            ("link", q.link.as_str()),
            ("node", q.node.as_str()),
            ("interface", q.interface.as_str()),
            ("queue", "tx"),
            ("transport", q.transport.as_str()),
        ]);
        e.push(
            "umlvnf_datapath_queued",
            l,
            Value::GaugeInt(i64::try_from(q.frames).unwrap_or(i64::MAX)),
        );
    }
}

/// Devices a guest kernel creates on its own: the first device of the bonding and dummy
/// drivers and the fallback devices of the IP tunnel drivers. Nine of a guest's dozen
/// interfaces are these, so they are exported only once they have carried a packet (a user who
/// configures one sees it from its first frame on).
const KERNEL_DEVICES: &[&str] = &[
    "bond0", "dummy0", "gre0", "gretap0", "erspan0", "ip6gre0", "ip6tnl0", "sit0", "tunl0",
    "ip_vti0", "ip6_vti0",
];

/// Whether `ifname` is one of [`KERNEL_DEVICES`] that has neither received nor sent anything.
fn idle_kernel_device(ifname: &str, stats: &GuestInterfaceStats) -> bool {
    KERNEL_DEVICES.contains(&ifname)
        && stats
            .netdev
            .is_none_or(|c| c.rx_packets == 0 && c.tx_packets == 0)
}

fn push_guests(state: &State, e: &mut Exposition, lab: &str) {
    let guests = state.source.guests();
    let pids: Vec<i32> = guests.iter().filter_map(|g| g.pid).collect();
    let usage = group_usage(&pids);
    let cache = lock(&state.cache).clone();
    let mut floor = lock(&state.cpu_floor);
    let now = Instant::now();
    for g in &guests {
        let l = labels(&[("lab", lab), ("node", g.node.as_str())]);
        e.push("umlvnf_guest_up", l.clone(), flag(g.up));
        e.push(
            "umlvnf_guest_restarts",
            l.clone(),
            Value::Counter(u64::from(g.restarts)),
        );
        if let Some(b) = g.boot_seconds {
            e.push("umlvnf_guest_boot_duration", l.clone(), Value::Gauge(b));
        }
        if let Some(u) = g.pid.and_then(|pid| usage.get(&pid).map(|u| (pid, u))) {
            let (pid, u) = u;
            let entry = floor.entry(g.node.clone()).or_insert((pid, 0.0));
            if entry.0 != pid {
                *entry = (pid, 0.0);
            }
            entry.1 = entry.1.max(u.cpu_seconds);
            e.push("umlvnf_guest_cpu", l.clone(), Value::CounterF(entry.1));
            e.push(
                "umlvnf_guest_memory_rss",
                l.clone(),
                Value::GaugeInt(int(u.rss_bytes)),
            );
            e.push(
                "umlvnf_guest_processes",
                l.clone(),
                Value::GaugeInt(i64::from(u.processes)),
            );
        }
        let Some(entry) = cache.get(&g.node) else {
            continue;
        };
        e.push("umlvnf_guest_stats_ok", l.clone(), flag(entry.ok));
        let Some(taken) = entry.taken else { continue };
        let age = now.saturating_duration_since(taken);
        e.push("umlvnf_guest_stats_age", l, Value::Gauge(age.as_secs_f64()));
        if age > state.max_age || entry.pid != g.pid {
            continue;
        }
        for (ifname, stats) in &entry.stats {
            if !idle_kernel_device(ifname, stats) {
                push_guest_interface(e, lab, &g.node, ifname, stats);
            }
        }
    }
    floor.retain(|node, _| guests.iter().any(|g| &g.node == node));
}

/// Collects every family for one scrape.
pub(crate) fn collect(state: &State) -> Exposition {
    let lab = state.source.lab();
    let mut e = Exposition::for_host(state.source.host());
    e.push(
        "umlvnf_build",
        labels(&[("lab", &lab), ("version", env!("CARGO_PKG_VERSION"))]),
        Value::Info,
    );
    if let Some(d) = *lock(&state.last_scrape) {
        e.push(
            "umlvnf_scrape_duration",
            labels(&[("lab", &lab)]),
            Value::Gauge(d.as_secs_f64()),
        );
    }
    e.push(
        "umlvnf_guest_stats_max_age",
        labels(&[("lab", &lab)]),
        Value::Gauge(state.max_age.as_secs_f64()),
    );
    push_guests(state, &mut e, &lab);
    push_host_interfaces(state, &mut e, &lab);
    push_datapath(state, &mut e, &lab);
    push_datapath_queued(state, &mut e, &lab);
    let errors = lock(&state.errors).clone();
    for c in COLLECTORS {
        e.push(
            "umlvnf_collector_errors",
            labels(&[("lab", &lab), ("collector", c)]),
            Value::Counter(errors.get(c).copied().unwrap_or(0)),
        );
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_stats::NetDevCounters;

    #[test]
    fn idle_kernel_devices_are_left_out_until_they_carry_a_packet() {
        let counters = |rx, tx| GuestInterfaceStats {
            netdev: Some(NetDevCounters {
                rx_packets: rx,
                tx_packets: tx,
                ..NetDevCounters::default()
            }),
            ethtool: Vec::new(),
        };
        assert!(idle_kernel_device("gre0", &counters(0, 0)));
        assert!(idle_kernel_device("bond0", &GuestInterfaceStats::default()));
        assert!(!idle_kernel_device("gre0", &counters(0, 1)));
        assert!(!idle_kernel_device("sit0", &counters(3, 0)));
        // The topology's interfaces and lo are always exported.
        assert!(!idle_kernel_device("eth0", &counters(0, 0)));
        assert!(!idle_kernel_device("lo", &counters(0, 0)));
    }
}
