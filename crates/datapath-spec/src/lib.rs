//! What a wire of umlvnf's datapath is, as data: its two ends (the socket each opens and the
//! tunnel header it speaks), how it moves batches, its impairments and filters.
//!
//! The plan lists wires in this form and the datapath opens them from it
//! (`umlvnf_datapath::WireSpec::from_description`), so a link's settings have one
//! vocabulary from the plan to the sockets. This crate only describes: it opens nothing and
//! depends on nothing that acts on the host, so the plan can depend on it and stay pure.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Default batch depth of a wire (UML's default too).
pub const DEFAULT_DEPTH: u32 = 64;
/// Longest unix socket path (`sun_path` holds 108 bytes with the NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// How a wire's thread talks to the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// `recvmmsg`/`sendmmsg` batches. The default: measured faster than io_uring (see the
    /// datapath's documentation).
    #[default]
    Mmsg,
    /// io_uring batches: each end has its own ring; a batch is `depth` linked `recvmsg`
    /// requests (or one `sendmsg` request per frame) on the same preallocated buffers,
    /// submitted and reaped with one `io_uring_enter`. Adding such a wire fails where the
    /// kernel refuses io_uring.
    IoUring,
}

/// One wire: two ends joined frame by frame. `I` is the form its impairments are written in
/// (the topology's, in a plan); the datapath needs only their conversion to
/// `umlvnf_packet::impair::Impairment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wire<I> {
    /// `link{N}`, N the link's position in the topology.
    pub name: String,
    /// The position of the link it carries in the topology.
    pub link: usize,
    /// End `a` (the link's first endpoint) and end `b` (its second, or the remote end).
    pub ends: [WireEnd; 2],
    /// Impairments of the frames received on `a` and sent on `b` (`[0]`), and of the frames
    /// received on `b` and sent on `a` (`[1]`), as the topology writes them.
    pub impair: [Option<I>; 2],
    /// pcap filter expressions applied to the frames received on `a` (`[0]`) and on `b`
    /// (`[1]`), to be compiled for Ethernet (DLT_EN10MB).
    pub filter: [Option<String>; 2],
    /// How the datapath moves batches.
    pub backend: Backend,
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

/// The socket of one wire end (the datapath opens it as an `EndSpec`).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_read_back_what_they_write() {
        let end = WireEnd {
            endpoint: "r1:eth0".into(),
            socket: WireSocket::Udp {
                local: "127.64.0.1:20001".parse().expect("address"),
                remote: None,
                encap: WireEncap::Gre {
                    rx_key: Some(1),
                    tx_key: Some(2),
                    sequence: false,
                },
            },
        };
        let text = serde_json::to_string(&end).expect("serialises");
        assert!(text.contains(r#""kind":"udp""#) && text.contains(r#""type":"gre""#));
        assert_eq!(serde_json::from_str::<WireEnd>(&text).expect("reads"), end);
        assert_eq!(
            serde_json::to_string(&Backend::IoUring).expect("serialises"),
            r#""io_uring""#
        );
    }
}
