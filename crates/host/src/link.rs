//! Interfaces: create veth pairs and bridges, change, move, list and delete links.

use std::os::fd::AsRawFd;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo as NlLinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::{HostError, Result};
use crate::names::{check_alias, check_ifname};
use crate::netns::open_netns;
use crate::rtnl::{Rtnl, Subject};
use crate::socket::NlError;

/// Packet and byte counters of an interface (64-bit counters when the kernel has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Packets dropped on send.
    pub tx_dropped: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Send errors.
    pub tx_errors: u64,
}

/// One interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Alias (`IFLA_IFALIAS`), `None` when unset or empty.
    pub alias: Option<String>,
    /// Link kind (`veth`, `bridge`, `tun`, ...), `None` for physical and loopback devices.
    pub kind: Option<String>,
    /// MTU in bytes.
    pub mtu: u32,
    /// Whether the interface is administratively up (`IFF_UP`).
    pub up: bool,
    /// Hardware address, when it is a 6-byte Ethernet address.
    pub mac: Option<[u8; 6]>,
    /// Index of the bridge (or other master) the interface is enslaved to.
    pub master: Option<u32>,
    /// Counters, when the kernel sent them.
    pub stats: Option<LinkStats>,
}

impl LinkInfo {
    fn from_message(msg: &LinkMessage) -> Option<LinkInfo> {
        let mut info = LinkInfo {
            index: msg.header.index,
            name: String::new(),
            alias: None,
            kind: None,
            mtu: 0,
            up: msg.header.flags.contains(LinkFlags::Up),
            mac: None,
            master: None,
            stats: None,
        };
        let mut stats32 = None;
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => info.name = n.clone(),
                LinkAttribute::IfAlias(a) if !a.is_empty() => info.alias = Some(a.clone()),
                LinkAttribute::Mtu(m) => info.mtu = *m,
                LinkAttribute::Address(a) => info.mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
                LinkAttribute::Controller(m) if *m != 0 => info.master = Some(*m),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        if let NlLinkInfo::Kind(k) = i {
                            info.kind = Some(k.to_string());
                        }
                    }
                }
                LinkAttribute::Stats64(s) => {
                    info.stats = Some(LinkStats {
                        rx_packets: s.rx_packets,
                        tx_packets: s.tx_packets,
                        rx_bytes: s.rx_bytes,
                        tx_bytes: s.tx_bytes,
                        rx_dropped: s.rx_dropped,
                        tx_dropped: s.tx_dropped,
                        rx_errors: s.rx_errors,
                        tx_errors: s.tx_errors,
                    })
                }
                LinkAttribute::Stats(s) => {
                    stats32 = Some(LinkStats {
                        rx_packets: s.rx_packets.into(),
                        tx_packets: s.tx_packets.into(),
                        rx_bytes: s.rx_bytes.into(),
                        tx_bytes: s.tx_bytes.into(),
                        rx_dropped: s.rx_dropped.into(),
                        tx_dropped: s.tx_dropped.into(),
                        rx_errors: s.rx_errors.into(),
                        tx_errors: s.tx_errors.into(),
                    })
                }
                _ => {}
            }
        }
        if info.stats.is_none() {
            info.stats = stats32;
        }
        (!info.name.is_empty()).then_some(info)
    }
}

impl Rtnl {
    /// Creates a veth pair `name` ⇄ `peer` (both down) and, if given, sets `alias` on both
    /// ends. Fails with [`HostError::LinkExists`] naming whichever end is taken; if setting the
    /// alias fails the pair is deleted again.
    pub fn veth_add(&self, name: &str, peer: &str, alias: Option<&str>) -> Result<()> {
        check_ifname(name)?;
        check_ifname(peer)?;
        if let Some(a) = alias {
            check_alias(a)?;
        }
        if name == peer {
            return Err(HostError::LinkExists(peer.to_string()));
        }
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::Kind(InfoKind::Veth),
            NlLinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        let action = format!("create veth pair `{name}` ⇄ `{peer}` in {}", self.place());
        if let Err(e) = self
            .sock
            .ack(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
        {
            let err = self.fail(e, action, Subject::NewLink(name));
            if let HostError::LinkExists(_) = err {
                if !self.link_exists(name)? && self.link_exists(peer)? {
                    return Err(HostError::LinkExists(peer.to_string()));
                }
            }
            return Err(err);
        }
        if let Some(a) = alias {
            let set = self
                .link_set_alias(name, a)
                .and_then(|()| self.link_set_alias(peer, a));
            if let Err(e) = set {
                let _ = self.link_del(name);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Creates bridge `name` (down) and sets `alias` on it if given. Fails with
    /// [`HostError::LinkExists`] if the name is taken; if setting the alias fails the bridge
    /// is deleted again.
    pub fn bridge_add(&self, name: &str, alias: Option<&str>) -> Result<()> {
        check_ifname(name)?;
        if let Some(a) = alias {
            check_alias(a)?;
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![NlLinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.sock
            .ack(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
            .map_err(|e| {
                self.fail(
                    e,
                    format!("create bridge `{name}` in {}", self.place()),
                    Subject::NewLink(name),
                )
            })?;
        if let Some(a) = alias {
            if let Err(e) = self.link_set_alias(name, a) {
                let _ = self.link_del(name);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Deletes interface `name` (for a veth, both ends go). Works for persistent taps too.
    /// Fails with [`HostError::NoSuchLink`] if it does not exist.
    pub fn link_del(&self, name: &str) -> Result<()> {
        let index = self.index_of(name)?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.sock
            .ack(RouteNetlinkMessage::DelLink(msg), 0)
            .map_err(|e| {
                self.fail(
                    e,
                    format!("delete interface `{name}` in {}", self.place()),
                    Subject::Link(name),
                )
            })
    }

    /// Whether interface `name` exists in this socket's namespace.
    pub fn link_exists(&self, name: &str) -> Result<bool> {
        Ok(self.get_link(name)?.is_some())
    }

    /// Sets interface `name` administratively up.
    pub fn link_set_up(&self, name: &str) -> Result<()> {
        self.set_flags(name, true)
    }

    /// Sets interface `name` administratively down.
    pub fn link_set_down(&self, name: &str) -> Result<()> {
        self.set_flags(name, false)
    }

    fn set_flags(&self, name: &str, up: bool) -> Result<()> {
        let index = self.index_of(name)?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        if up {
            msg.header.flags = LinkFlags::Up;
        }
        msg.header.change_mask = LinkFlags::Up;
        let what = if up { "up" } else { "down" };
        self.sock
            .ack(RouteNetlinkMessage::SetLink(msg), 0)
            .map_err(|e| {
                self.fail(
                    e,
                    format!("set interface `{name}` {what} in {}", self.place()),
                    Subject::Link(name),
                )
            })
    }

    /// Sends `RTM_SETLINK` for `name` with the given attributes.
    fn set_attrs(&self, name: &str, attrs: Vec<LinkAttribute>, what: &str) -> Result<()> {
        let index = self.index_of(name)?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes = attrs;
        self.sock
            .ack(RouteNetlinkMessage::SetLink(msg), 0)
            .map_err(|e| {
                self.fail(
                    e,
                    format!("set {what} of interface `{name}` in {}", self.place()),
                    Subject::Link(name),
                )
            })
    }

    /// Sets the MTU of `name` (68 to 65535; the driver may refuse more).
    pub fn link_set_mtu(&self, name: &str, mtu: u32) -> Result<()> {
        if !(68..=65535).contains(&mtu) {
            return Err(HostError::InvalidMtu {
                name: name.to_string(),
                mtu,
            });
        }
        self.set_attrs(name, vec![LinkAttribute::Mtu(mtu)], &format!("MTU {mtu}"))
    }

    /// Sets the Ethernet address of `name`.
    pub fn link_set_mac(&self, name: &str, mac: [u8; 6]) -> Result<()> {
        let text = mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        self.set_attrs(
            name,
            vec![LinkAttribute::Address(mac.to_vec())],
            &format!("MAC address {text}"),
        )
    }

    /// Enslaves `name` to bridge `bridge` (both in this socket's namespace).
    pub fn link_set_master(&self, name: &str, bridge: &str) -> Result<()> {
        let master = self.index_of(bridge)?;
        self.set_attrs(
            name,
            vec![LinkAttribute::Controller(master)],
            &format!("master `{bridge}`"),
        )
    }

    /// Removes `name` from its bridge, if any.
    pub fn link_set_nomaster(&self, name: &str) -> Result<()> {
        self.set_attrs(name, vec![LinkAttribute::Controller(0)], "no master")
    }

    /// Sets the alias (`IFLA_IFALIAS`) of `name`; an empty alias clears it.
    pub fn link_set_alias(&self, name: &str, alias: &str) -> Result<()> {
        check_alias(alias)?;
        self.set_attrs(
            name,
            vec![LinkAttribute::IfAlias(alias.to_string())],
            &format!("alias `{alias}`"),
        )
    }

    /// Moves `name` into named namespace `netns`, renaming it to `new_name` in the same request
    /// if given. The alias, MTU and MAC survive the move; the link arrives down and without
    /// addresses. If the rename is refused after the move happened, it is retried with a socket
    /// in the target namespace so the error names the real cause.
    pub fn link_move_to_netns(
        &self,
        name: &str,
        netns: &str,
        new_name: Option<&str>,
    ) -> Result<()> {
        if let Some(n) = new_name {
            check_ifname(n)?;
        }
        let index = self.index_of(name)?;
        let ns = open_netns(netns)?;
        let target = Rtnl::in_netns(netns)?;
        let final_name = new_name.unwrap_or(name);
        if target.link_exists(final_name)? {
            return Err(HostError::LinkExistsInNetns {
                name: final_name.to_string(),
                netns: netns.to_string(),
            });
        }
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        if let Some(n) = new_name {
            msg.attributes.push(LinkAttribute::IfName(n.to_string()));
        }
        let action = format!(
            "move interface `{name}` from {} into network namespace `{netns}` as `{final_name}`",
            self.place()
        );
        let result = self.sock.ack(RouteNetlinkMessage::SetLink(msg), 0);
        drop(ns);
        let Err(e) = result else {
            return Ok(());
        };
        let still_here = self.link_exists(name)?;
        if still_here || new_name.is_none() {
            // The move itself failed.
            if still_here && matches!(e, NlError::Errno(libc::EEXIST)) {
                return Err(HostError::LinkExistsInNetns {
                    name: final_name.to_string(),
                    netns: netns.to_string(),
                });
            }
            return Err(self.fail(e, action, Subject::Link(name)));
        }
        // Moved but not renamed: retry the rename from inside the target namespace, and on
        // failure move the link back where it was.
        match target.link_rename(name, final_name) {
            Ok(()) => Ok(()),
            Err(err) => {
                let _ = target.move_back(name, self.netns());
                Err(match err {
                    HostError::LinkExists(n) => HostError::LinkExistsInNetns {
                        name: n,
                        netns: netns.to_string(),
                    },
                    other => other,
                })
            }
        }
    }

    /// Moves `name` into named namespace `origin`, or into the namespace of this process
    /// when `origin` is `None` (best effort, for undoing a half-done move).
    fn move_back(&self, name: &str, origin: Option<&str>) -> Result<()> {
        let index = self.index_of(name)?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        let file = origin.map(open_netns).transpose()?;
        match &file {
            Some(f) => msg.attributes.push(LinkAttribute::NetNsFd(f.as_raw_fd())),
            None => msg
                .attributes
                .push(LinkAttribute::NetNsPid(std::process::id())),
        }
        self.sock
            .ack(RouteNetlinkMessage::SetLink(msg), 0)
            .map_err(|e| self.fail(e, format!("move `{name}` back"), Subject::Link(name)))
    }

    /// Renames interface `name` to `new_name` (the link must be down).
    pub fn link_rename(&self, name: &str, new_name: &str) -> Result<()> {
        check_ifname(new_name)?;
        let index = self.index_of(name)?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes
            .push(LinkAttribute::IfName(new_name.to_string()));
        self.sock
            .ack(RouteNetlinkMessage::SetLink(msg), 0)
            .map_err(|e| {
                self.fail(
                    e,
                    format!(
                        "rename interface `{name}` to `{new_name}` in {}",
                        self.place()
                    ),
                    Subject::NewLink(new_name),
                )
            })
    }

    /// All interfaces of this socket's namespace, in index order.
    pub fn links(&self) -> Result<Vec<LinkInfo>> {
        let replies = self
            .sock
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
            .map_err(|e| {
                self.fail(
                    e,
                    format!("list interfaces of {}", self.place()),
                    Subject::Other,
                )
            })?;
        let mut links: Vec<LinkInfo> = replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => LinkInfo::from_message(l),
                _ => None,
            })
            .collect();
        links.sort_by_key(|l| l.index);
        Ok(links)
    }

    /// Information about one interface, or `None` if it does not exist.
    pub fn link(&self, name: &str) -> Result<Option<LinkInfo>> {
        Ok(self
            .get_link(name)?
            .as_ref()
            .and_then(LinkInfo::from_message))
    }

    /// Names of the interfaces whose alias is exactly `alias`, in index order.
    pub fn links_with_alias(&self, alias: &str) -> Result<Vec<String>> {
        Ok(self
            .links()?
            .into_iter()
            .filter(|l| l.alias.as_deref() == Some(alias))
            .map(|l| l.name)
            .collect())
    }
}
