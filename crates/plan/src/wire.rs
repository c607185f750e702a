//! The wires of umlvnf's datapath as the plan lists them, and the BPF files of UML ends.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use umlvnf_topology::{Impairment, WireBackend};

/// Default batch depth of a wire (UML's default too).
pub const DEFAULT_WIRE_DEPTH: u32 = 64;
/// Longest unix socket path (`sun_path` holds 108 bytes with the NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// One wire of umlvnf's datapath: two ends joined frame by frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WirePlan {
    /// `link{N}`, N the link's position in the topology.
    pub name: String,
    /// The link's position in the topology.
    pub link: usize,
    /// End `a` (the link's first endpoint) and end `b` (its second, or the remote end).
    pub ends: [WireEnd; 2],
    /// Impairments of the frames received on `a` and sent on `b` (`[0]`), and of the frames
    /// received on `b` and sent on `a` (`[1]`), as the topology writes them.
    pub impair: [Option<Impairment>; 2],
    /// pcap filter expressions applied to the frames received on `a` (`[0]`) and on `b`
    /// (`[1]`), to be compiled for Ethernet (DLT_EN10MB).
    pub filter: [Option<String>; 2],
    /// How the datapath moves batches.
    pub backend: WireBackend,
    /// Frames per batch.
    pub depth: u32,
}

/// One end of a wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireEnd {
    /// The endpoint this end carries, as written (`r1:eth5`, `h1:eth0`, `host:lab0`), or
    /// `remote ADDRESS` for the far end of a tunnel.
    pub endpoint: String,
    /// The socket the datapath opens.
    pub socket: WireSocket,
}

/// The socket of one wire end (maps onto the datapath's `EndSpec`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireSocket {
    /// AF_PACKET on a veth end in the root namespace (created by the plan's host steps).
    Packet {
        /// The root-namespace interface.
        ifname: String,
        /// Whether to use `PACKET_VNET_HDR`.
        vnet_hdr: bool,
    },
    /// A UDP socket bound to `local`.
    Udp {
        /// Local address and port.
        local: SocketAddr,
        /// The peer; `None` learns it from the first datagram.
        remote: Option<SocketAddr>,
        /// Encapsulation.
        encap: WireEncap,
    },
    /// A raw IP socket bound to `local` and connected to `remote`.
    RawIp {
        /// IP protocol: 47 (GRE) or 115 (L2TPv3).
        proto: u8,
        /// Local address.
        local: IpAddr,
        /// Remote address.
        remote: IpAddr,
        /// Encapsulation.
        encap: WireEncap,
    },
    /// A unix seqpacket socket the datapath listens on; the guest's UML connects to it
    /// (`transport=bess`).
    Seqpacket {
        /// Socket path (`LABDIR/wires/linkN-NODE.sock`).
        path: PathBuf,
    },
    /// A persistent tap (created by the plan's host steps) that is the host node's interface
    /// itself; the datapath attaches to it from inside its namespace.
    Tap {
        /// Where the tap is (`None`: the root namespace).
        netns: Option<String>,
        /// Its name there.
        ifname: String,
        /// Whether the tap's interface may hand over partial checksums and TSO frames.
        offload: bool,
    },
}

/// Tunnel parameters as seen by the datapath end: what it expects to receive and what it sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WireEncap {
    /// GRE, protocol 0x6558 (transparent Ethernet bridging), no checksum.
    Gre {
        /// Key expected on receive (set together with `tx_key`, or neither).
        rx_key: Option<u32>,
        /// Key sent.
        tx_key: Option<u32>,
        /// Sequence numbers present.
        sequence: bool,
    },
    /// L2TPv3 Ethernet pseudowire.
    L2tpv3 {
        /// Over UDP (with the 4-byte data header) rather than IP.
        udp: bool,
        /// Session expected on receive.
        rx_session: u32,
        /// Session sent.
        tx_session: u32,
        /// Cookie expected on receive.
        rx_cookie: Option<u64>,
        /// Cookie sent.
        tx_cookie: Option<u64>,
        /// Cookies are 8 bytes instead of 4.
        cookie64: bool,
        /// The 4-byte sublayer with a counter is present.
        counter: bool,
    },
}

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
