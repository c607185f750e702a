//! `gre`, `l2tpv3` and `wire` links: the vector options of guest ends that speak a tunnel or
//! attach to umlvnf's datapath, the loopback addresses and ports they use, and the wire the
//! runtime's datapath creates ([`WirePlan`]) when the link goes through it.

use std::net::SocketAddr;

use umlvnf_topology::{
    Endpoint, Impairments, Link, RemoteEnd, Transport, WireAttach, WireBackend, WireHostEnd,
};

use super::bpf::bpf_options;
use super::tunnel_params::{Params, DEFAULT_REMOTE_PORT};
use super::{LinkEnd, Planner};
use crate::wire::{Backend, DEFAULT_DEPTH, MAX_SOCKET_PATH};
use crate::{naming, HostStep, LinkPlan, PlanError, WireEnd, WirePlan, WireSocket};

/// One tunnel or wire link while it is planned.
struct TunnelLink<'l> {
    /// The link's position in the topology.
    i: usize,
    link: &'l Link,
    transport: Transport,
    /// The tunnel parameters as the first endpoint sees them.
    params: Params,
    /// How guest ends attach to a wire.
    attach: WireAttach,
    /// Whether umlvnf's datapath carries the link.
    uses_datapath: bool,
    mtu: Option<u32>,
    lp: LinkPlan,
    /// The ends of the datapath's wire found so far, in endpoint order.
    wire_ends: Vec<WireEnd>,
}

impl TunnelLink<'_> {
    /// The parameters endpoint `side` speaks (the second endpoint mirrors the first).
    fn view(&self, side: usize) -> Params {
        if side == 0 {
            self.params
        } else {
            self.params.mirrored()
        }
    }

    /// The allocator key of something of this link: `link{i}/{what}`.
    fn key(&self, what: &str) -> String {
        format!("link{}/{what}", self.i)
    }

    /// How the link's remote end is written (`remote ADDRESS`, with the port for L2TPv3 over
    /// UDP; `PEER (ADDRESS)` when the far end is a known node, as on a link across hosts), if
    /// it has one.
    fn remote_text(&self) -> Option<String> {
        self.link.remote.as_ref().map(|r| {
            let at = match (self.transport, self.params.udp()) {
                (Transport::L2tpv3, true) => remote_address(r).to_string(),
                _ => r.address.to_string(),
            };
            match &r.peer {
                Some(peer) => format!("{peer} ({at})"),
                None => format!("remote {at}"),
            }
        })
    }
}

/// The address and port of a remote tunnel end.
fn remote_address(r: &RemoteEnd) -> SocketAddr {
    SocketAddr::new(r.address, r.port.unwrap_or(DEFAULT_REMOTE_PORT))
}

/// `a` for the first endpoint, `b` for the second.
fn side_char(side: usize) -> char {
    if side == 0 {
        'a'
    } else {
        'b'
    }
}

impl Planner<'_> {
    /// Plans one `gre`, `l2tpv3` or `wire` link (number `i`).
    pub(super) fn tunnel_link(
        &mut self,
        i: usize,
        link: &Link,
        ends: &[LinkEnd],
        mtu: Option<u32>,
    ) -> Result<LinkPlan, PlanError> {
        let transport = link.effective_transport();
        let mut t = TunnelLink {
            i,
            link,
            transport,
            params: Params::of(link),
            attach: link
                .wire
                .as_ref()
                .and_then(|w| w.attach)
                .unwrap_or(WireAttach::Bess),
            uses_datapath: self.topo.link_uses_datapath(link),
            mtu,
            lp: LinkPlan {
                endpoints: [String::new(), String::new()],
                transport: transport.name().to_string(),
                host_interfaces: Vec::new(),
                bridge: None,
            },
            wire_ends: Vec::new(),
        };
        let remote_text = t.remote_text();
        t.lp.endpoints = [
            link.endpoints[0].to_string(),
            link.endpoints
                .get(1)
                .map(|e| e.to_string())
                .or_else(|| remote_text.clone())
                .unwrap_or_default(),
        ];
        for (side, (end, ep)) in ends.iter().zip(link.endpoints.iter()).enumerate() {
            match end {
                LinkEnd::Guest { node, iface } => {
                    self.tunnel_guest_end(&mut t, side, node, iface, ep)?
                }
                LinkEnd::HostNode { .. } | LinkEnd::Root { .. }
                    if link.wire.as_ref().and_then(|w| w.host_end) == Some(WireHostEnd::Tap) =>
                {
                    self.tap_host_end(&mut t, side, end, ep)
                }
                LinkEnd::HostNode { .. } | LinkEnd::Root { .. } => {
                    self.veth_host_end(&mut t, side, end, ep)
                }
            }
        }
        // A host end with a remote: the datapath speaks the tunnel for it.
        if let (Some(r), true) = (&link.remote, t.uses_datapath) {
            if let Some(LinkEnd::HostNode { node, iface }) = ends.first() {
                self.remote_ends
                    .insert((node.to_string(), iface.to_string()));
            }
            let local = self.local_address(r, &t.key("dp-b"));
            t.wire_ends.push(WireEnd {
                endpoint: remote_text.unwrap_or_default(),
                socket: t.params.socket(local, remote_address(r)),
            });
        }
        if t.uses_datapath {
            self.push_wire(&mut t)?;
        }
        Ok(t.lp)
    }

    /// The local address of a tunnel to remote end `r`: as the topology gives it, or
    /// allocated under `key`.
    fn local_address(&mut self, r: &RemoteEnd, key: &str) -> SocketAddr {
        let ip = r.local.unwrap_or_else(|| self.alloc.address(key));
        let port = r.local_port.unwrap_or_else(|| self.alloc.port(key));
        SocketAddr::new(ip, port)
    }

    /// A loopback address and port allocated under `key`.
    fn loopback(&mut self, key: &str) -> SocketAddr {
        SocketAddr::new(self.alloc.address(key), self.alloc.port(key))
    }

    /// The vector interface of a guest end of a tunnel or wire link, and the wire end the
    /// datapath holds for it, if any.
    fn tunnel_guest_end(
        &mut self,
        t: &mut TunnelLink,
        side: usize,
        node: &str,
        iface: &str,
        ep: &Endpoint,
    ) -> Result<(), PlanError> {
        let sc = side_char(side);
        let (mut opts, cap, wire_end) = if let Some(r) = &t.link.remote {
            // Straight from the guest to the remote end.
            self.remote_ends
                .insert((node.to_string(), iface.to_string()));
            let local = self.local_address(r, &t.key(&sc.to_string()));
            let pv = t.view(side);
            (
                pv.uml_options(local, remote_address(r)),
                pv.capability(),
                None,
            )
        } else if t.transport == Transport::Wire && t.attach == WireAttach::Bess {
            let (opts, we) = self.bess_guest_end(t.i, node, ep)?;
            (opts, None, Some(we))
        } else if t.uses_datapath {
            // The guest speaks the tunnel to the datapath on the loopback.
            let g = self.loopback(&t.key(&sc.to_string()));
            let d = self.loopback(&t.key(&format!("dp-{sc}")));
            let pv = if t.transport == Transport::Wire {
                t.params
            } else {
                t.view(side)
            };
            let we = WireEnd {
                endpoint: ep.to_string(),
                socket: pv.mirrored().socket(d, g),
            };
            (pv.uml_options(g, d), pv.capability(), Some(we))
        } else {
            // Guest to guest directly: each side gets its own loopback address.
            let me = self.loopback(&t.key(&sc.to_string()));
            let peer = self.loopback(&t.key(&side_char(1 - side).to_string()));
            let pv = t.view(side);
            (pv.uml_options(me, peer), pv.capability(), None)
        };
        if let Some(d) = t.link.depth {
            opts.push(("depth".into(), d.to_string()));
        }
        opts.extend(self.address_options(node, iface));
        // Filters of datapath-carried ends are the datapath's; direct tunnels take none.
        opts.extend(bpf_options(t.link, None));
        self.vec_opts
            .insert((node.to_string(), iface.to_string()), opts);
        self.add_cap(node, cap);
        t.wire_ends.extend(wire_end);
        Ok(())
    }

    /// A guest attached to a wire by `bess`: the datapath listens on a unix seqpacket socket
    /// in the lab directory, the guest's UML connects to it.
    fn bess_guest_end(
        &self,
        i: usize,
        node: &str,
        ep: &Endpoint,
    ) -> Result<(Vec<(String, String)>, WireEnd), PlanError> {
        let path = self
            .plan
            .lab_dir
            .join("wires")
            .join(format!("link{i}-{node}.sock"));
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
        Ok((opts, we))
    }

    /// A host node's interface (or `host:IFNAME`) that is a tap the datapath holds.
    fn tap_host_end(&mut self, t: &mut TunnelLink, side: usize, end: &LinkEnd, ep: &Endpoint) {
        let (tap, netns, ifname) = match end {
            LinkEnd::HostNode { node, iface } => (
                naming::link_ifname(self.lab, t.i, side_char(side)),
                Some(naming::netns(self.lab, node)),
                iface.to_string(),
            ),
            _ => (ep.interface.clone(), None, ep.interface.clone()),
        };
        self.plan
            .host_steps
            .push(HostStep::Tap { name: tap.clone() });
        self.place_end(end, &tap, t.mtu, &mut t.lp);
        t.wire_ends.push(WireEnd {
            endpoint: ep.to_string(),
            socket: WireSocket::Tap {
                netns,
                ifname,
                offload: false,
            },
        });
    }

    /// A veth pair: the datapath reads the root-namespace end, the other end is the host
    /// node's interface (or `host:IFNAME`).
    fn veth_host_end(&mut self, t: &mut TunnelLink, side: usize, end: &LinkEnd, ep: &Endpoint) {
        let dp = naming::link_ifname(self.lab, t.i, side_char(side));
        let peer = match end {
            LinkEnd::Root { iface } => iface.to_string(),
            _ => naming::link_ifname(self.lab, t.i, if side == 0 { 'p' } else { 'q' }),
        };
        self.plan.host_steps.push(HostStep::Veth {
            name: peer.clone(),
            peer: dp.clone(),
        });
        self.place_end(end, &peer, t.mtu, &mut t.lp);
        let no_offload = match end {
            LinkEnd::HostNode { node, iface } => HostStep::NoOffload {
                netns: Some(naming::netns(self.lab, node)),
                name: iface.to_string(),
            },
            _ => HostStep::NoOffload {
                netns: None,
                name: peer.clone(),
            },
        };
        self.plan.host_steps.push(no_offload);
        self.place_end(&LinkEnd::Root { iface: &dp }, &dp, t.mtu, &mut t.lp);
        t.wire_ends.push(WireEnd {
            endpoint: ep.to_string(),
            socket: WireSocket::Packet {
                ifname: dp,
                vnet_hdr: false,
            },
        });
    }

    /// Adds the link's wire to the plan, once both its ends are known.
    fn push_wire(&mut self, t: &mut TunnelLink) -> Result<(), PlanError> {
        let link = t.link;
        let [mut a, mut b] = <[WireEnd; 2]>::try_from(std::mem::take(&mut t.wire_ends))
            .map_err(|_| PlanError::WireEnds { link: t.i })?;
        self.offload_host_ends(&mut a.socket, &mut b.socket);
        let a_ep = link.endpoints.first();
        let b_ep = link.endpoints.get(1);
        let imp = |sender: Option<&Endpoint>| {
            link.impair.as_ref().and_then(|imps| match (imps, sender) {
                (Impairments::Both(x), _) => Some(x.clone()),
                (_, Some(s)) => imps.for_sender(s).cloned(),
                _ => None,
            })
        };
        let filt = |receiver: Option<&Endpoint>| receiver.and_then(|e| link.filter.get(e).cloned());
        self.plan.wires.push(WirePlan {
            name: format!("link{}", t.i),
            link: t.i,
            ends: [a, b],
            impair: [imp(a_ep), imp(b_ep)],
            filter: [filt(b_ep), filt(a_ep)],
            backend: match link.wire.as_ref().and_then(|w| w.backend) {
                None | Some(WireBackend::Mmsg) => Backend::Mmsg,
                Some(WireBackend::IoUring) => Backend::IoUring,
            },
            depth: link.depth.unwrap_or(DEFAULT_DEPTH),
        });
        Ok(())
    }

    /// Two host ends (veth or tap) both offload: the frames keep their virtio-net header
    /// (checksum still to do, TSO/GSO super-frames up to 64 KiB carried whole), so the taps
    /// get offloads and the veths' far ends keep theirs.
    fn offload_host_ends(&mut self, a: &mut WireSocket, b: &mut WireSocket) {
        let host_end =
            |s: &WireSocket| matches!(s, WireSocket::Tap { .. } | WireSocket::Packet { .. });
        if !(host_end(a) && host_end(b)) {
            return;
        }
        let mut veths = Vec::new();
        for s in [a, b] {
            match s {
                WireSocket::Tap { offload, .. } => *offload = true,
                WireSocket::Packet { ifname, vnet_hdr } => {
                    *vnet_hdr = true;
                    veths.push(ifname.clone());
                }
                _ => {}
            }
        }
        self.keep_offloads(&veths);
    }

    /// Drops the `NoOffload` steps of the veths whose root-namespace (datapath) ends are
    /// `dp_ends`: their far ends (in the root namespace or moved into a host node) keep their
    /// offloads, since the datapath carries the frames with their virtio-net header.
    fn keep_offloads(&mut self, dp_ends: &[String]) {
        let steps = &mut self.plan.host_steps;
        let peers: Vec<String> = steps
            .iter()
            .filter_map(|s| match s {
                HostStep::Veth { name, peer } if dp_ends.contains(peer) => Some(name.clone()),
                _ => None,
            })
            .collect();
        let moved: Vec<(Option<String>, String)> = steps
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
        steps.retain(|s| match s {
            HostStep::NoOffload { netns, name } => {
                let in_root = netns.is_none() && peers.contains(name);
                !in_root && !moved.contains(&(netns.clone(), name.clone()))
            }
            _ => true,
        });
    }
}
