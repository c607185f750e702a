//! What the runtime tells the metrics server about a running lab.

use std::time::Duration;

/// One UML guest of the lab, as the runtime sees it at the moment of the call.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestInfo {
    /// Node name from the topology.
    pub node: String,
    /// Pid of the guest's UML process-group leader (the group id of all its host processes),
    /// `None` while it is not running.
    pub pid: Option<i32>,
    /// Whether the guest is booted and answering.
    pub up: bool,
    /// How many times the runtime restarted this guest since the lab came up.
    pub restarts: u32,
    /// Seconds from starting the UML process to the guest being ready, for the current boot.
    pub boot_seconds: Option<f64>,
}

/// One host-side interface (veth end, tap) that serves a node's interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInterface {
    /// Interface name in the host's root network namespace.
    pub ifname: String,
    /// Node this interface serves.
    pub node: String,
    /// That node's interface name (as in the topology).
    pub interface: String,
    /// Transport of the link (`raw`, `tap`, `l2tpv3`, ...).
    pub transport: String,
}

/// Counters of one queue of umlvnf's userspace datapath, as absolute values since the queue
/// was created (they are exported as counters, so they must never go down while it exists).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueSample {
    /// Link name.
    pub link: String,
    /// Node whose interface the queue serves.
    pub node: String,
    /// That node's interface.
    pub interface: String,
    /// Queue direction as seen from the node: `"rx"` or `"tx"`.
    pub queue: String,
    /// Transport of the link.
    pub transport: String,
    /// Packets moved. Should equal the sum of all batch sizes (it is the histogram's `_sum`).
    pub packets: u64,
    /// Bytes moved (whole frames, without transport headers).
    pub bytes: u64,
    /// Packets dropped, by reason (a short fixed word such as `"full"`, `"too_big"`).
    pub drops: Vec<(String, u64)>,
    /// System calls made by this queue.
    pub syscalls: u64,
    /// Batch size histogram: `(upper bound in packets, number of batches in this bucket)`, the
    /// counts *not* cumulative. `u64::MAX` as a bound means `+Inf`; a `+Inf` bucket is added
    /// when missing.
    pub batch_sizes: Vec<(u64, u64)>,
}

/// Frames waiting in one direction's impairment delay queue of umlvnf's userspace datapath,
/// labelled by the queue that will send them (the `tx` queue of `node`'s `interface`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueuedSample {
    /// Link name.
    pub link: String,
    /// Node whose interface will send the frames.
    pub node: String,
    /// That node's interface.
    pub interface: String,
    /// Transport of the link.
    pub transport: String,
    /// Frames waiting right now. With the counters of the same direction, received +
    /// duplicated = sent + drops + these.
    pub frames: u64,
}

/// Why a guest's statistics report could not be read: the source's own error, kept whole.
pub type GuestReadError = Box<dyn std::error::Error + Send + Sync>;

/// The running lab, implemented by the runtime. Every method is called from the server's
/// threads and must return quickly (no I/O that can block for long), except
/// [`LabSource::guest_stats`], which only the background refresher calls.
pub trait LabSource: Send + Sync + 'static {
    /// Lab name (the `lab` label of every series): for a lab spread over several machines,
    /// the whole lab's name, the same on every host.
    fn lab(&self) -> String;
    /// The host whose share of a lab spread over several machines this is (the `host` label
    /// of every series); empty for a lab on one machine.
    fn host(&self) -> String {
        String::new()
    }
    /// Every UML guest of the lab, running or not.
    fn guests(&self) -> Vec<GuestInfo>;
    /// Guest `node`'s interface statistics report: `/proc/net/dev`, then for every interface
    /// a line `== NAME` followed by its `ethtool -S` output (see
    /// [`crate::parse_guest_report`]). Fails (with a sentence) when the guest is not
    /// reachable or `timeout` passes.
    fn guest_stats(&self, node: &str, timeout: Duration) -> Result<String, GuestReadError>;
    /// Host-side interfaces of the lab's links.
    fn host_interfaces(&self) -> Vec<HostInterface>;
    /// Queues of umlvnf's userspace datapath (empty when no link uses it).
    fn datapath_queues(&self) -> Vec<QueueSample>;
    /// Frames waiting in the datapath's delay queues, one sample per direction of each link
    /// the datapath carries (exported as `umlvnf_datapath_queued`). The default reports none.
    fn datapath_queued(&self) -> Vec<QueuedSample> {
        Vec::new()
    }
}
