//! Prometheus metrics of a running umlvnf lab.
//!
//! [`MetricsServer::start`] serves `/metrics` in the OpenMetrics text format (default
//! [`DEFAULT_LISTEN`]) from what the runtime exposes through [`LabSource`]: datapath queue
//! counters, guests and their host processes (`/proc`), host-side interfaces (netlink), and
//! statistics read from inside each guest (`/proc/net/dev`, `ethtool -S`) by a background
//! refresher so that a scrape never waits for a guest. [`METRICS`] lists every family.

mod catalog;
mod collect;
mod error;
mod exposition;
mod guest_stats;
mod http;
mod refresher;
mod server;
mod source;

pub use catalog::{MetricDesc, MetricKind, METRICS};
pub use error::{MetricsError, ParseError};
pub use guest_stats::{
    parse_ethtool_stats, parse_guest_report, parse_proc_net_dev, GuestInterfaceStats,
    NetDevCounters,
};
pub use server::{
    guest_read_timeout, guest_stats_max_age, MetricsServer, DEFAULT_GUEST_REFRESH, DEFAULT_LISTEN,
};
pub use source::{GuestInfo, GuestReadError, HostInterface, LabSource, QueueSample, QueuedSample};
