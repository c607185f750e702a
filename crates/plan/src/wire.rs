//! The wires of umlvnf's datapath as the plan lists them (in the datapath's own description,
//! [`umlvnf_datapath_spec`]), and the BPF files of UML ends.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use umlvnf_topology::Impairment;

pub use umlvnf_datapath_spec::{
    Backend, WireEncap, WireEnd, WireSocket, DEFAULT_DEPTH, MAX_SOCKET_PATH,
};

/// One wire of umlvnf's datapath, with its impairments as the topology writes them.
pub type WirePlan = umlvnf_datapath_spec::Wire<Impairment>;

/// A classic BPF file (raw array of 8-byte instructions, host-endian) the runtime writes
/// before the guest boots and the guest's vector interface names with `bpffile=`: the pcap
/// filter of the endpoint, if any, compiled for DLT_EN10MB, and for `raw` ends a first check
/// that drops the frames the guest itself sends (a packet socket also receives what its
/// interface transmits: without this file a UML router read back every frame it forwarded,
/// 20 pings through it counted 47 frames received on its outgoing interface against 21 sent,
/// and a guest bridging two raw links looped its broadcasts; UML's default filter, meant for
/// frames with the guest's own source MAC, did not stop them, and bridged frames carry other
/// source MACs anyway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BpfFilePlan {
    /// The endpoint whose received frames it filters.
    pub endpoint: String,
    /// The pcap expression (`None`: every frame that is not dropped as outgoing).
    pub expression: Option<String>,
    /// Whether frames the interface sends (`PACKET_OUTGOING`) are dropped first.
    #[serde(default)]
    pub drop_outgoing: bool,
    /// Where to write the compiled program (`LABDIR/bpf/linkN-NODE-IFACE.bpf`).
    pub path: PathBuf,
}
