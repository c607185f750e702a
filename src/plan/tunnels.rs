//! Planning of `gre`, `l2tpv3` and `wire` links: the vector options of guest ends that speak a
//! tunnel or attach to umlvnf's datapath, the loopback addresses and ports they use, and the
//! wires the runtime's datapath must create ([`WirePlan`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use umlvnf_topology::{
    Endpoint, Impairment, L2tpMode, Link, RxTx, Topology, Transport, WireAttach, WireBackend,
    WireHostEnd,
};

use super::{naming, place_end, End, HostStep, LinkPlan, Plan, PlanError};

/// Default batch depth of a wire (UML's default too).
pub const DEFAULT_WIRE_DEPTH: u32 = 64;
/// Longest unix socket path (`sun_path` holds 108 bytes with the NUL).
pub const MAX_SOCKET_PATH: usize = 107;
/// UDP ports allocated for tunnels are in `PORT_BASE..PORT_BASE + PORT_SPAN` (below the
/// kernel's ephemeral range).
pub const PORT_BASE: u16 = 20000;
/// Size of the allocated port range.
pub const PORT_SPAN: u16 = 10000;
/// The L2TPv3 port used for a remote end that names none.
pub const DEFAULT_REMOTE_PORT: u16 = 1701;
/// The session both ways of a guest attached to a wire by L2TPv3.
pub const ATTACH_SESSION: u32 = 1;

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

/// A GRE key or L2TPv3 session as UML's command line must carry it: UML parses these with
/// `kstrtoint`, so values above 0x7fffffff are written as negative decimals (two's complement),
/// which puts the same 32 bits on the wire. A positive value above 0x7fffffff fails to parse
/// and crashes the guest.
pub fn uml_u32(v: u32) -> String {
    (v as i32).to_string()
}

/// Deterministic loopback addresses and UDP ports for tunnel ends, distinct within a lab.
#[derive(Debug)]
pub struct Allocator {
    lab: String,
    ips: BTreeSet<IpAddr>,
    ports: BTreeSet<u16>,
    given_ips: BTreeMap<String, IpAddr>,
    given_ports: BTreeMap<String, u16>,
}

impl Allocator {
    /// An allocator for `topo` that avoids every address and port the topology names itself.
    pub fn new(topo: &Topology) -> Self {
        let mut ips = BTreeSet::new();
        let mut ports = BTreeSet::new();
        for link in &topo.links {
            if let Some(r) = &link.remote {
                ips.insert(r.address);
                ips.extend(r.local);
                ports.extend(r.port);
                ports.extend(r.local_port);
            }
        }
        Allocator {
            lab: topo.name.clone(),
            ips,
            ports,
            given_ips: BTreeMap::new(),
            given_ports: BTreeMap::new(),
        }
    }

    fn hash(&self, key: &str, salt: u32) -> u32 {
        let d = Sha256::digest(format!("{}/{key}/{salt}", self.lab).as_bytes());
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// A loopback address in 127.64.0.0/10 (never .0 or .255 in the last byte), derived from
    /// the lab and `key`, not given to another key of this lab; the same key gets the same one.
    pub fn address(&mut self, key: &str) -> IpAddr {
        if let Some(ip) = self.given_ips.get(key) {
            return *ip;
        }
        for salt in 0.. {
            let h = self.hash(key, salt);
            let last = (h & 0xff) as u8;
            if last == 0 || last == 255 {
                continue;
            }
            let ip = IpAddr::V4(Ipv4Addr::from(0x7f40_0000 | (h & 0x003f_ffff)));
            if self.ips.insert(ip) {
                self.given_ips.insert(key.to_string(), ip);
                return ip;
            }
        }
        unreachable!("the address space is far larger than any lab")
    }

    /// A UDP port in 20000..30000 derived from the lab and `key`, not given to another key of
    /// this lab; the same key gets the same one.
    pub fn port(&mut self, key: &str) -> u16 {
        if let Some(p) = self.given_ports.get(key) {
            return *p;
        }
        for salt in 0.. {
            let p = PORT_BASE + (self.hash(key, salt) % u32::from(PORT_SPAN)) as u16;
            if self.ports.insert(p) {
                self.given_ports.insert(key.to_string(), p);
                return p;
            }
        }
        unreachable!("fewer than 10000 tunnel ports per lab")
    }
}

/// What the planner accumulates for guests: vector options per interface, capabilities.
pub(super) struct GuestAcc<'a> {
    pub vec_opts: &'a mut BTreeMap<(String, String), Vec<(String, String)>>,
    pub caps: &'a mut BTreeMap<String, Vec<String>>,
}

/// The tunnel parameters of a link as seen by its first endpoint.
#[derive(Debug, Clone, Copy)]
enum Params {
    Gre {
        keys: Option<RxTx<u32>>,
        sequence: bool,
    },
    L2tp {
        udp: bool,
        sessions: RxTx<u32>,
        cookies: Option<RxTx<u64>>,
        cookie64: bool,
        counter: bool,
    },
}

impl Params {
    fn of(link: &Link) -> Self {
        match link.effective_transport() {
            Transport::Gre => {
                let g = link.gre.clone().unwrap_or_default();
                Params::Gre {
                    keys: g.keys(),
                    sequence: g.sequence == Some(true),
                }
            }
            Transport::L2tpv3 => {
                let l = link.l2tpv3.clone().unwrap_or_default();
                Params::L2tp {
                    udp: l.effective_mode() == L2tpMode::Udp,
                    sessions: l.sessions(),
                    cookies: l.cookies(),
                    cookie64: l.cookie64 == Some(true),
                    counter: l.counter == Some(true),
                }
            }
            _ => Params::L2tp {
                udp: true,
                sessions: RxTx {
                    rx: ATTACH_SESSION,
                    tx: ATTACH_SESSION,
                },
                cookies: None,
                cookie64: false,
                counter: false,
            },
        }
    }

    fn mirrored(self) -> Self {
        match self {
            Params::Gre { keys, sequence } => Params::Gre {
                keys: keys.map(RxTx::mirrored),
                sequence,
            },
            Params::L2tp {
                udp,
                sessions,
                cookies,
                cookie64,
                counter,
            } => Params::L2tp {
                udp,
                sessions: sessions.mirrored(),
                cookies: cookies.map(RxTx::mirrored),
                cookie64,
                counter,
            },
        }
    }

    fn udp(self) -> bool {
        matches!(self, Params::L2tp { udp: true, .. })
    }

    fn encap(self) -> WireEncap {
        match self {
            Params::Gre { keys, sequence } => WireEncap::Gre {
                rx_key: keys.map(|k| k.rx),
                tx_key: keys.map(|k| k.tx),
                sequence,
            },
            Params::L2tp {
                udp,
                sessions,
                cookies,
                cookie64,
                counter,
            } => WireEncap::L2tpv3 {
                udp,
                rx_session: sessions.rx,
                tx_session: sessions.tx,
                rx_cookie: cookies.map(|c| c.rx),
                tx_cookie: cookies.map(|c| c.tx),
                cookie64,
                counter,
            },
        }
    }

    /// The datapath socket for these parameters between `local` and `remote`.
    fn socket(self, local: SocketAddr, remote: SocketAddr) -> WireSocket {
        match self {
            Params::L2tp { udp: true, .. } => WireSocket::Udp {
                local,
                remote: Some(remote),
                encap: self.encap(),
            },
            Params::L2tp { udp: false, .. } => WireSocket::RawIp {
                proto: 115,
                local: local.ip(),
                remote: remote.ip(),
                encap: self.encap(),
            },
            Params::Gre { .. } => WireSocket::RawIp {
                proto: 47,
                local: local.ip(),
                remote: remote.ip(),
                encap: self.encap(),
            },
        }
    }

    /// UML's `vecN` options for a guest speaking these parameters from `local` to `remote`.
    fn uml_options(self, local: SocketAddr, remote: SocketAddr) -> Vec<(String, String)> {
        let mut o: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: String| o.push((k.to_string(), v));
        match self {
            Params::Gre { keys, sequence } => {
                put("transport", "gre".into());
                put("src", local.ip().to_string());
                put("dst", remote.ip().to_string());
                if let Some(k) = keys {
                    put("rx_key", uml_u32(k.rx));
                    put("tx_key", uml_u32(k.tx));
                }
                if sequence {
                    put("sequence", "1".into());
                }
            }
            Params::L2tp {
                udp,
                sessions,
                cookies,
                cookie64,
                counter,
            } => {
                put("transport", "l2tpv3".into());
                if udp {
                    put("udp", "1".into());
                }
                put("src", local.ip().to_string());
                put("dst", remote.ip().to_string());
                if udp {
                    put("srcport", local.port().to_string());
                    put("dstport", remote.port().to_string());
                }
                put("rx_session", uml_u32(sessions.rx));
                put("tx_session", uml_u32(sessions.tx));
                if let Some(c) = cookies {
                    if cookie64 {
                        put("cookie64", "1".into());
                    }
                    put("rx_cookie", c.rx.to_string());
                    put("tx_cookie", c.tx.to_string());
                }
                if counter {
                    put("counter", "1".into());
                }
            }
        }
        if remote.is_ipv6() {
            put("v6", "1".into());
        }
        o
    }

    /// Host capabilities a guest speaking these parameters needs.
    fn capability(self) -> Option<&'static str> {
        match self {
            Params::L2tp { udp: true, .. } => None,
            _ => Some("CAP_NET_RAW"),
        }
    }
}

/// The common tail of a guest's vector options: MAC, MTU, depth, filter and bpfflash.
fn guest_tail(
    topo: &Topology,
    link: &Link,
    ep: &Endpoint,
    bpffile: Option<&Path>,
) -> Vec<(String, String)> {
    let mut o = Vec::new();
    if let Some(d) = link.depth {
        o.push(("depth".into(), d.to_string()));
    }
    let spec = topo
        .nodes
        .get(&ep.node)
        .and_then(|n| n.interfaces.get(&ep.interface));
    let mac = spec
        .and_then(|s| s.mac)
        .map(|m| m.to_string())
        .unwrap_or_else(|| naming::guest_mac(&topo.name, &ep.node, &ep.interface));
    o.push(("mac".into(), mac));
    if let Some(mtu) = spec.and_then(|s| s.mtu) {
        o.push(("mtu".into(), mtu.to_string()));
    }
    o.extend(bpf_options(link, bpffile));
    o
}

/// `bpffile=` and `bpfflash=1` for a guest end of `link`, as the topology asks.
pub(super) fn bpf_options(link: &Link, bpffile: Option<&Path>) -> Vec<(String, String)> {
    let mut o = Vec::new();
    if let Some(p) = bpffile {
        o.push(("bpffile".into(), p.to_string_lossy().into_owned()));
    }
    if link.bpfflash == Some(true) {
        o.push(("bpfflash".into(), "1".into()));
    }
    o
}

/// The BPF file of a guest's `raw` or `hybrid` end, recorded in the plan: for `raw` always
/// (it drops what the guest sends, see [`BpfFilePlan`]), for `hybrid` only when the topology
/// filters the end (a hybrid end receives through a tap, where what the host sends towards
/// the guest is outgoing).
pub(super) fn guest_bpf_file(
    p: &mut Plan,
    link_index: usize,
    link: &Link,
    ep: &Endpoint,
    raw: bool,
) -> Option<PathBuf> {
    let expression = link.filter.get(ep).cloned();
    if expression.is_none() && !raw {
        return None;
    }
    let path = p
        .lab_dir
        .join("bpf")
        .join(format!("link{link_index}-{}-{}.bpf", ep.node, ep.interface));
    p.bpf_files.push(BpfFilePlan {
        endpoint: ep.to_string(),
        expression,
        drop_outgoing: raw,
        path: path.clone(),
    });
    Some(path)
}

/// Drops the `NoOffload` steps of the veths whose root-namespace (datapath) ends are
/// `dp_ends`: their far ends (in the root namespace or moved into a host node) keep their
/// offloads, since the datapath carries the frames with their virtio-net header.
fn keep_offloads(p: &mut Plan, dp_ends: &[String]) {
    let peers: Vec<String> = p
        .host_steps
        .iter()
        .filter_map(|s| match s {
            HostStep::Veth { name, peer } if dp_ends.contains(peer) => Some(name.clone()),
            _ => None,
        })
        .collect();
    let moved: Vec<(Option<String>, String)> = p
        .host_steps
        .iter()
        .filter_map(|s| match s {
            HostStep::Move {
                name,
                netns,
                new_name,
            } if peers.contains(name) => Some((Some(netns.clone()), new_name.clone())),
            _ => None,
        })
        .collect();
    p.host_steps.retain(|s| match s {
        HostStep::NoOffload { netns, name } => {
            let in_root = netns.is_none() && peers.contains(name);
            !in_root && !moved.contains(&(netns.clone(), name.clone()))
        }
        _ => true,
    });
}

fn add_cap(caps: &mut BTreeMap<String, Vec<String>>, node: &str, cap: Option<&str>) {
    let list = caps.entry(node.to_string()).or_default();
    if let Some(cap) = cap {
        if !list.iter().any(|c| c == cap) {
            list.push(cap.to_string());
            list.sort();
        }
    }
}

/// Plans one `gre`, `l2tpv3` or `wire` link (number `i`).
#[allow(clippy::too_many_arguments)]
pub(super) fn plan_link(
    p: &mut Plan,
    topo: &Topology,
    i: usize,
    link: &Link,
    ends: &[End],
    mtu: Option<u32>,
    alloc: &mut Allocator,
    acc: &mut GuestAcc<'_>,
) -> Result<LinkPlan, PlanError> {
    let lab = topo.name.clone();
    let transport = link.effective_transport();
    let params = Params::of(link);
    let attach = link
        .wire
        .as_ref()
        .and_then(|w| w.attach)
        .unwrap_or(WireAttach::Bess);
    let uses_datapath = topo.link_uses_datapath(link);
    let remote_text = link
        .remote
        .as_ref()
        .map(|r| match (transport, params.udp()) {
            (Transport::L2tpv3, true) => format!(
                "remote {}",
                SocketAddr::new(r.address, r.port.unwrap_or(DEFAULT_REMOTE_PORT))
            ),
            _ => format!("remote {}", r.address),
        });
    let mut lp = LinkPlan {
        endpoints: [
            link.endpoints[0].to_string(),
            link.endpoints
                .get(1)
                .map(|e| e.to_string())
                .or_else(|| remote_text.clone())
                .unwrap_or_default(),
        ],
        transport: transport.name().to_string(),
        host_interfaces: Vec::new(),
        bridge: None,
    };

    // Per endpoint, the params it speaks (the second endpoint mirrors the first).
    let view = |side: usize| if side == 0 { params } else { params.mirrored() };
    let side_char = |side: usize| if side == 0 { 'a' } else { 'b' };

    let mut wire_ends: Vec<WireEnd> = Vec::new();
    for (side, (end, ep)) in ends.iter().zip(link.endpoints.iter()).enumerate() {
        let sc = side_char(side);
        match end {
            End::Guest { node, iface } => {
                // Filters of datapath-carried ends are the datapath's; direct tunnels take none.
                let bpffile: Option<PathBuf> = None;
                let (mut opts, cap, wire_end) = if let Some(r) = &link.remote {
                    // Straight from the guest to the remote end.
                    let local_ip = r
                        .local
                        .unwrap_or_else(|| alloc.address(&format!("link{i}/{sc}")));
                    let local_port = r
                        .local_port
                        .unwrap_or_else(|| alloc.port(&format!("link{i}/{sc}")));
                    let local = SocketAddr::new(local_ip, local_port);
                    let remote = SocketAddr::new(r.address, r.port.unwrap_or(DEFAULT_REMOTE_PORT));
                    let pv = view(side);
                    (pv.uml_options(local, remote), pv.capability(), None)
                } else if transport == Transport::Wire && attach == WireAttach::Bess {
                    let path = p.lab_dir.join("wires").join(format!("link{i}-{node}.sock"));
                    let text = path.to_string_lossy().into_owned();
                    if text.len() > MAX_SOCKET_PATH {
                        return Err(PlanError::SocketPathTooLong { path: text });
                    }
                    let opts = vec![
                        ("transport".to_string(), "bess".to_string()),
                        ("dst".to_string(), text),
                    ];
                    let we = WireEnd {
                        endpoint: ep.to_string(),
                        socket: WireSocket::Seqpacket { path },
                    };
                    (opts, None, Some(we))
                } else if uses_datapath {
                    // The guest speaks the tunnel to the datapath on the loopback.
                    let g = SocketAddr::new(
                        alloc.address(&format!("link{i}/{sc}")),
                        alloc.port(&format!("link{i}/{sc}")),
                    );
                    let d = SocketAddr::new(
                        alloc.address(&format!("link{i}/dp-{sc}")),
                        alloc.port(&format!("link{i}/dp-{sc}")),
                    );
                    let pv = if transport == Transport::Wire {
                        params
                    } else {
                        view(side)
                    };
                    let we = WireEnd {
                        endpoint: ep.to_string(),
                        socket: pv.mirrored().socket(d, g),
                    };
                    (pv.uml_options(g, d), pv.capability(), Some(we))
                } else {
                    // Guest to guest directly: each side gets its own loopback address.
                    let me = SocketAddr::new(
                        alloc.address(&format!("link{i}/{sc}")),
                        alloc.port(&format!("link{i}/{sc}")),
                    );
                    let osc = side_char(1 - side);
                    let peer = SocketAddr::new(
                        alloc.address(&format!("link{i}/{osc}")),
                        alloc.port(&format!("link{i}/{osc}")),
                    );
                    let pv = view(side);
                    (pv.uml_options(me, peer), pv.capability(), None)
                };
                opts.extend(guest_tail(topo, link, ep, bpffile.as_deref()));
                acc.vec_opts
                    .insert((node.to_string(), iface.to_string()), opts);
                add_cap(acc.caps, node, cap);
                wire_ends.extend(wire_end);
            }
            End::HostNode { .. } | End::Root { .. }
                if link.wire.as_ref().and_then(|w| w.host_end) == Some(WireHostEnd::Tap) =>
            {
                // A tap that is the host node's interface (or `host:IFNAME`) itself; the
                // datapath holds it.
                let (tap, netns, ifname) = match end {
                    End::HostNode { node, iface } => (
                        naming::link_ifname(&lab, i, sc),
                        Some(naming::netns(&lab, node)),
                        iface.to_string(),
                    ),
                    _ => (ep.interface.clone(), None, ep.interface.clone()),
                };
                p.host_steps.push(HostStep::Tap { name: tap.clone() });
                place_end(p, topo, &lab, end, &tap, mtu, &mut lp);
                wire_ends.push(WireEnd {
                    endpoint: ep.to_string(),
                    socket: WireSocket::Tap {
                        netns,
                        ifname,
                        offload: false,
                    },
                });
            }
            End::HostNode { .. } | End::Root { .. } => {
                // A veth pair: the datapath reads the root-namespace end, the other end is the
                // host node's interface (or `host:IFNAME`).
                let dp = naming::link_ifname(&lab, i, sc);
                let peer = match end {
                    End::Root { iface } => iface.to_string(),
                    _ => naming::link_ifname(&lab, i, if side == 0 { 'p' } else { 'q' }),
                };
                p.host_steps.push(HostStep::Veth {
                    name: peer.clone(),
                    peer: dp.clone(),
                });
                place_end(p, topo, &lab, end, &peer, mtu, &mut lp);
                p.host_steps.push(match end {
                    End::HostNode { node, iface } => HostStep::NoOffload {
                        netns: Some(naming::netns(&lab, node)),
                        name: iface.to_string(),
                    },
                    _ => HostStep::NoOffload {
                        netns: None,
                        name: peer.clone(),
                    },
                });
                place_end(p, topo, &lab, &End::Root { iface: &dp }, &dp, mtu, &mut lp);
                wire_ends.push(WireEnd {
                    endpoint: ep.to_string(),
                    socket: WireSocket::Packet {
                        ifname: dp,
                        vnet_hdr: false,
                    },
                });
            }
        }
    }

    // A host end with a remote: the datapath speaks the tunnel for it.
    if let (Some(r), true) = (&link.remote, uses_datapath) {
        let local_ip = r
            .local
            .unwrap_or_else(|| alloc.address(&format!("link{i}/dp-b")));
        let local_port = r
            .local_port
            .unwrap_or_else(|| alloc.port(&format!("link{i}/dp-b")));
        let local = SocketAddr::new(local_ip, local_port);
        let remote = SocketAddr::new(r.address, r.port.unwrap_or(DEFAULT_REMOTE_PORT));
        wire_ends.push(WireEnd {
            endpoint: remote_text.clone().unwrap_or_default(),
            socket: params.socket(local, remote),
        });
    }

    if uses_datapath {
        let [mut a, mut b] =
            <[WireEnd; 2]>::try_from(wire_ends).map_err(|_| PlanError::WireEnds { link: i })?;
        // Two host ends (veth or tap) both offload: the frames keep their virtio-net header
        // (checksum still to do, TSO/GSO super-frames up to 64 KiB carried whole), so the
        // taps get offloads and the veths' far ends keep theirs.
        let host_end =
            |s: &WireSocket| matches!(s, WireSocket::Tap { .. } | WireSocket::Packet { .. });
        if host_end(&a.socket) && host_end(&b.socket) {
            let mut veths = Vec::new();
            for s in [&mut a.socket, &mut b.socket] {
                match s {
                    WireSocket::Tap { offload, .. } => *offload = true,
                    WireSocket::Packet { ifname, vnet_hdr } => {
                        *vnet_hdr = true;
                        veths.push(ifname.clone());
                    }
                    _ => {}
                }
            }
            keep_offloads(p, &veths);
        }
        {
            let a_ep = link.endpoints.first();
            let b_ep = link.endpoints.get(1);
            let imp = |sender: Option<&Endpoint>| {
                link.impair.as_ref().and_then(|imps| match (imps, sender) {
                    (umlvnf_topology::Impairments::Both(x), _) => Some(x.clone()),
                    (_, Some(s)) => imps.for_sender(s).cloned(),
                    _ => None,
                })
            };
            let filt =
                |receiver: Option<&Endpoint>| receiver.and_then(|e| link.filter.get(e).cloned());
            p.wires.push(WirePlan {
                name: format!("link{i}"),
                link: i,
                ends: [a, b],
                impair: [imp(a_ep), imp(b_ep)],
                filter: [filt(b_ep), filt(a_ep)],
                backend: link
                    .wire
                    .as_ref()
                    .and_then(|w| w.backend)
                    .unwrap_or(WireBackend::Mmsg),
                depth: link.depth.unwrap_or(DEFAULT_WIRE_DEPTH),
            });
        }
    }
    Ok(lp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_above_i32_max_render_as_negative_decimals() {
        assert_eq!(uml_u32(0), "0");
        assert_eq!(uml_u32(0x7fff_ffff), "2147483647");
        assert_eq!(uml_u32(0x8000_0000), "-2147483648");
        assert_eq!(uml_u32(0xffff_fff0), "-16");
        assert_eq!(uml_u32(u32::MAX), "-1");
    }
}
