//! Every metric family umlvnf exports: name, type, labels and meaning.

use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

/// Type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Monotonic counter (exposed with `_total`).
    Counter,
    /// Value that goes up and down.
    Gauge,
    /// Histogram (exposed as `_bucket`, `_sum`, `_count`).
    Histogram,
    /// Info metric (exposed with `_info`, value 1).
    Info,
}

impl MetricKind {
    /// The OpenMetrics type name (`counter`, `gauge`, `histogram`, `info`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::Info => "info",
        }
    }

    pub(crate) fn metric_type(self) -> MetricType {
        match self {
            MetricKind::Counter => MetricType::Counter,
            MetricKind::Gauge => MetricType::Gauge,
            MetricKind::Histogram => MetricType::Histogram,
            MetricKind::Info => MetricType::Info,
        }
    }
}

/// Description of one metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDesc {
    /// Family name without unit and type suffixes (as in OpenMetrics `# TYPE` minus the unit).
    pub base: &'static str,
    /// Unit suffix (`bytes`, `seconds`), if any.
    pub unit: Option<&'static str>,
    /// Type.
    pub kind: MetricKind,
    /// Label names, in order.
    pub labels: &'static [&'static str],
    /// Meaning (the `# HELP` text).
    pub help: &'static str,
}

impl MetricDesc {
    /// Family name with its unit, as in the OpenMetrics `# TYPE` line
    /// (e.g. `umlvnf_datapath_bytes`).
    pub fn family(&self) -> String {
        match self.unit {
            Some(unit) => format!("{}_{unit}", self.base),
            None => self.base.to_string(),
        }
    }

    /// Name of the sample series a query uses (e.g. `umlvnf_datapath_bytes_total`,
    /// `umlvnf_build_info`, `umlvnf_datapath_batch_size_bucket` for histograms).
    pub fn series(&self) -> String {
        let family = self.family();
        match self.kind {
            MetricKind::Counter => format!("{family}_total"),
            MetricKind::Info => format!("{family}_info"),
            MetricKind::Histogram => format!("{family}_bucket"),
            MetricKind::Gauge => family,
        }
    }

    pub(crate) fn unit(&self) -> Option<Unit> {
        self.unit.map(|u| match u {
            "bytes" => Unit::Bytes,
            "seconds" => Unit::Seconds,
            other => Unit::Other(other.to_string()),
        })
    }
}

const GUEST: &[&str] = &["lab", "host", "node"];
const GUEST_IF: &[&str] = &["lab", "host", "node", "interface", "direction"];
const GUEST_IF_NODIR: &[&str] = &["lab", "host", "node", "interface"];
const HOST_IF: &[&str] = &[
    "lab",
    "host",
    "node",
    "interface",
    "transport",
    "ifname",
    "direction",
];
const HOST_IF_NODIR: &[&str] = &["lab", "host", "node", "interface", "transport", "ifname"];
const QUEUE: &[&str] = &[
    "lab",
    "host",
    "link",
    "node",
    "interface",
    "queue",
    "transport",
];
const QUEUE_REASON: &[&str] = &[
    "lab",
    "host",
    "link",
    "node",
    "interface",
    "queue",
    "transport",
    "reason",
];

macro_rules! m {
    ($base:literal, $unit:expr, $kind:ident, $labels:expr, $help:literal) => {
        MetricDesc {
            base: $base,
            unit: $unit,
            kind: MetricKind::$kind,
            labels: $labels,
            help: $help,
        }
    };
}

/// Every family, in exposition order.
pub const METRICS: &[MetricDesc] = &[
    // Meta.
    m!("umlvnf_build", None, Info, &["lab", "host", "version"], "umlvnf version serving this lab"),
    m!("umlvnf_scrape_duration", Some("seconds"), Gauge, &["lab", "host"],
       "Time the previous scrape of /metrics took to collect and encode"),
    m!("umlvnf_guest_stats_max_age", Some("seconds"), Gauge, &["lab", "host"],
       "Stated maximum age of cached guest statistics; older ones are not exported"),
    m!("umlvnf_collector_errors", None, Counter, &["lab", "host", "collector"],
       "Failed collections by collector (guest_read, guest_parse, netlink)"),
    // Guests.
    m!("umlvnf_guest_up", None, Gauge, GUEST, "1 when the guest is booted and answering, else 0"),
    m!("umlvnf_guest_restarts", None, Counter, GUEST, "Restarts of the guest since the lab came up"),
    m!("umlvnf_guest_boot_duration", Some("seconds"), Gauge, GUEST,
       "Time from starting UML to the guest being ready, for its current boot"),
    m!("umlvnf_guest_cpu", Some("seconds"), Counter, GUEST,
       "User plus system CPU time of the guest's host processes (its UML process group)"),
    m!("umlvnf_guest_memory_rss", Some("bytes"), Gauge, GUEST,
       "Resident memory of the guest's host processes, shared address spaces counted once"),
    m!("umlvnf_guest_processes", None, Gauge, GUEST, "Host processes in the guest's UML process group"),
    m!("umlvnf_guest_stats_age", Some("seconds"), Gauge, GUEST,
       "Age of the cached statistics read from inside the guest"),
    m!("umlvnf_guest_stats_ok", None, Gauge, GUEST,
       "1 when the last read of statistics from inside the guest succeeded, else 0"),
    // Guest interfaces, from /proc/net/dev inside the guest.
    m!("umlvnf_guest_interface_packets", None, Counter, GUEST_IF,
       "Packets received (rx) or sent (tx) by the guest's interface, from the guest kernel"),
    m!("umlvnf_guest_interface", Some("bytes"), Counter, GUEST_IF,
       "Bytes received (rx) or sent (tx) by the guest's interface, from the guest kernel"),
    m!("umlvnf_guest_interface_errors", None, Counter, GUEST_IF,
       "Receive or transmit errors of the guest's interface, from the guest kernel"),
    m!("umlvnf_guest_interface_drops", None, Counter, GUEST_IF,
       "Packets dropped on receive or transmit by the guest kernel"),
    // UML vector driver statistics (ethtool -S inside the guest).
    m!("umlvnf_guest_vector_queue_max", None, Gauge, GUEST_IF,
       "Largest number of packets the vector driver handled in one queue pass (rx_queue_max, tx_queue_max)"),
    m!("umlvnf_guest_vector_queue_running_average", None, Gauge, GUEST_IF,
       "Running average of packets per vector queue pass (rx/tx_queue_running_average)"),
    m!("umlvnf_guest_vector_encaps_errors", None, Counter, GUEST_IF,
       "Frames whose transport encapsulation the vector driver rejected (rx_encaps_errors)"),
    m!("umlvnf_guest_vector_tx_timeouts", None, Counter, GUEST_IF_NODIR,
       "Transmit timeouts of the vector driver (tx_timeout_count)"),
    m!("umlvnf_guest_vector_tx_queue_restarts", None, Counter, GUEST_IF_NODIR,
       "Times the vector driver restarted its stopped transmit queue (tx_restart_queue)"),
    m!("umlvnf_guest_vector_tx_kicks", None, Counter, GUEST_IF_NODIR,
       "Times the vector driver flushed its transmit queue to the host (tx_kicks)"),
    m!("umlvnf_guest_vector_tx_flow_control_xon", None, Counter, GUEST_IF_NODIR,
       "Transmit flow control resumes of the vector driver (tx_flow_control_xon)"),
    m!("umlvnf_guest_vector_tx_flow_control_xoff", None, Counter, GUEST_IF_NODIR,
       "Transmit flow control stops of the vector driver (tx_flow_control_xoff)"),
    m!("umlvnf_guest_vector_rx_csum_offload_good", None, Counter, GUEST_IF_NODIR,
       "Received frames whose offloaded checksum was good (rx_csum_offload_good)"),
    m!("umlvnf_guest_vector_rx_csum_offload_errors", None, Counter, GUEST_IF_NODIR,
       "Received frames whose offloaded checksum was bad (rx_csum_offload_errors)"),
    m!("umlvnf_guest_vector_sg_ok", None, Counter, GUEST_IF_NODIR,
       "Frames sent scatter-gather without copying (sg_ok)"),
    m!("umlvnf_guest_vector_sg_linearized", None, Counter, GUEST_IF_NODIR,
       "Frames that had to be linearized (copied) before sending (sg_linearized)"),
    m!("umlvnf_guest_ethtool_other", None, Gauge, &["lab", "host", "node", "interface", "stat"],
       "Any other ethtool -S statistic of a guest interface, raw"),
    // Host-side interfaces, from netlink.
    m!("umlvnf_host_interface_packets", None, Counter, HOST_IF,
       "Packets received (rx) or sent (tx) by the host-side interface of a node's interface"),
    m!("umlvnf_host_interface", Some("bytes"), Counter, HOST_IF,
       "Bytes received (rx) or sent (tx) by the host-side interface of a node's interface"),
    m!("umlvnf_host_interface_errors", None, Counter, HOST_IF,
       "Receive or transmit errors of the host-side interface"),
    m!("umlvnf_host_interface_drops", None, Counter, HOST_IF,
       "Packets dropped on receive or transmit by the host-side interface"),
    m!("umlvnf_host_interface_up", None, Gauge, HOST_IF_NODIR,
       "1 when the host-side interface is administratively up, else 0"),
    m!("umlvnf_host_interface_mtu", Some("bytes"), Gauge, HOST_IF_NODIR, "MTU of the host-side interface"),
    // umlvnf's userspace datapath.
    m!("umlvnf_datapath_packets", None, Counter, QUEUE, "Packets moved by a datapath queue"),
    m!("umlvnf_datapath", Some("bytes"), Counter, QUEUE, "Bytes moved by a datapath queue"),
    m!("umlvnf_datapath_drops", None, Counter, QUEUE_REASON, "Packets dropped by a datapath queue, by reason"),
    m!("umlvnf_datapath_syscalls", None, Counter, QUEUE, "System calls made by a datapath queue"),
    m!("umlvnf_datapath_batch_size", None, Histogram, QUEUE,
       "Packets per system call (batch) of a datapath queue"),
    m!("umlvnf_datapath_queued", None, Gauge, QUEUE,
       "Frames waiting in the impairment delay queue for a datapath tx queue to send them"),
];

/// Looks a family up by its base name.
pub(crate) fn desc(base: &str) -> Option<&'static MetricDesc> {
    METRICS.iter().find(|d| d.base == base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_conventional() {
        let mut seen = std::collections::HashSet::new();
        for d in METRICS {
            assert!(seen.insert(d.family()), "duplicate {}", d.family());
            assert!(d.base.starts_with("umlvnf_"));
            assert!(!d.base.ends_with("_total"));
            assert!(
                d.labels.starts_with(&["lab", "host"]),
                "{} lacks lab and host first",
                d.base
            );
            assert!(d
                .family()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
            assert!(!d.help.ends_with('.'));
        }
        let d = |b| desc(b).unwrap();
        assert_eq!(d("umlvnf_guest_up").kind, MetricKind::Gauge);
        assert_eq!(d("umlvnf_datapath").series(), "umlvnf_datapath_bytes_total");
        assert_eq!(d("umlvnf_build").series(), "umlvnf_build_info");
        assert!(desc("nope").is_none());
    }
}
