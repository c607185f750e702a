//! Routes in the main table.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::addr::family_of;
use crate::error::{HostError, Result};
use crate::rtnl::{Rtnl, Subject};
use crate::socket::NlError;

/// One route of the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// Destination (`0.0.0.0/0` or `::/0` for a default route).
    pub dst: IpNet,
    /// Gateway, if any.
    pub via: Option<IpAddr>,
    /// Output interface name, if any.
    pub dev: Option<String>,
    /// Metric (`RTA_PRIORITY`), if set.
    pub metric: Option<u32>,
}

fn describe(dst: &IpNet, via: Option<IpAddr>, dev: Option<&str>, metric: Option<u32>) -> String {
    let mut s = if dst.prefix_len() == 0 {
        "default".to_string()
    } else {
        dst.to_string()
    };
    if let Some(v) = via {
        let _ = write!(s, " via {v}");
    }
    if let Some(d) = dev {
        let _ = write!(s, " dev {d}");
    }
    if let Some(m) = metric {
        let _ = write!(s, " metric {m}");
    }
    s
}

impl Rtnl {
    /// Adds a route to the main table. `dst` `None` means the default route of the family of
    /// `via` (IPv4 when `via` is also `None`; pass `Some("::/0")` for an IPv6 default through
    /// a device only). At least one of `via` and `dev` is needed; `dst` must be a network
    /// address (host bits zero) of the same family as `via`. A route without gateway gets
    /// link scope, like `ip route add ... dev X`. Errors: [`HostError::RouteExists`],
    /// [`HostError::GatewayUnreachable`], [`HostError::NoSuchLink`], [`HostError::InvalidRoute`].
    pub fn route_add(
        &self,
        dst: Option<IpNet>,
        via: Option<IpAddr>,
        dev: Option<&str>,
        metric: Option<u32>,
    ) -> Result<()> {
        let dst = match (dst, via) {
            (Some(d), _) => d,
            (None, Some(IpAddr::V6(_))) => IpNet::new(Ipv6Addr::UNSPECIFIED.into(), 0)
                .map_err(|e| HostError::InvalidRoute(e.to_string()))?,
            (None, _) => IpNet::new(Ipv4Addr::UNSPECIFIED.into(), 0)
                .map_err(|e| HostError::InvalidRoute(e.to_string()))?,
        };
        let text = describe(&dst, via, dev, metric);
        if via.is_none() && dev.is_none() {
            return Err(HostError::InvalidRoute(format!(
                "`{text}` has neither a gateway nor an interface: give `via`, `dev` or both"
            )));
        }
        if let Some(v) = via {
            if v.is_ipv4() != dst.addr().is_ipv4() {
                return Err(HostError::InvalidRoute(format!(
                    "`{text}` mixes address families: the gateway and the destination must \
                     both be IPv4 or both IPv6"
                )));
            }
        }
        if dst.trunc() != dst {
            return Err(HostError::InvalidRoute(format!(
                "`{text}` has host bits set in its destination: use {}",
                dst.trunc()
            )));
        }
        let oif = dev.map(|d| self.index_of(d)).transpose()?;

        let header = RouteHeader {
            address_family: family_of(&dst.addr()),
            destination_prefix_length: dst.prefix_len(),
            table: RouteHeader::RT_TABLE_MAIN,
            protocol: RouteProtocol::Static,
            scope: if via.is_none() {
                RouteScope::Link
            } else {
                RouteScope::Universe
            },
            kind: RouteType::Unicast,
            ..RouteHeader::default()
        };
        let mut msg = RouteMessage::default();
        msg.header = header;
        if dst.prefix_len() > 0 {
            msg.attributes
                .push(RouteAttribute::Destination(RouteAddress::from(dst.addr())));
        }
        if let Some(v) = via {
            msg.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(v)));
        }
        if let Some(i) = oif {
            msg.attributes.push(RouteAttribute::Oif(i));
        }
        if let Some(m) = metric {
            msg.attributes.push(RouteAttribute::Priority(m));
        }
        self.sock
            .ack(
                RouteNetlinkMessage::NewRoute(msg),
                NLM_F_CREATE | NLM_F_EXCL,
            )
            .map_err(|e| match e {
                NlError::Errno(libc::EEXIST) => HostError::RouteExists(text.clone()),
                NlError::Errno(libc::ENETUNREACH) => HostError::GatewayUnreachable(text.clone()),
                e => self.fail(
                    e,
                    format!("add route {text} in {}", self.place()),
                    match dev {
                        Some(d) => Subject::Link(d),
                        None => Subject::Other,
                    },
                ),
            })
    }

    /// The IPv4 and IPv6 routes of the main table (including connected and IPv6 link-local
    /// routes), with interface names resolved.
    pub fn routes(&self) -> Result<Vec<RouteInfo>> {
        let names: HashMap<u32, String> = self
            .links()?
            .into_iter()
            .map(|l| (l.index, l.name))
            .collect();
        let mut req = RouteMessage::default();
        req.header.address_family = AddressFamily::Unspec;
        let replies = self
            .sock
            .dump(RouteNetlinkMessage::GetRoute(req))
            .map_err(|e| {
                self.fail(
                    e,
                    format!("list routes of {}", self.place()),
                    Subject::Other,
                )
            })?;
        let mut out = Vec::new();
        for reply in replies {
            let RouteNetlinkMessage::NewRoute(m) = reply else {
                continue;
            };
            let mut table = u32::from(m.header.table);
            let mut dst_ip = None;
            let mut via = None;
            let mut oif = None;
            let mut metric = None;
            for attr in &m.attributes {
                match attr {
                    RouteAttribute::Table(t) => table = *t,
                    RouteAttribute::Destination(a) => dst_ip = route_ip(a),
                    RouteAttribute::Gateway(a) => via = route_ip(a),
                    RouteAttribute::Oif(i) => oif = Some(*i),
                    RouteAttribute::Priority(p) => metric = Some(*p),
                    _ => {}
                }
            }
            if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
                continue;
            }
            let unspecified = match m.header.address_family {
                AddressFamily::Inet => IpAddr::from(Ipv4Addr::UNSPECIFIED),
                AddressFamily::Inet6 => IpAddr::from(Ipv6Addr::UNSPECIFIED),
                _ => continue,
            };
            let Ok(dst) = IpNet::new(
                dst_ip.unwrap_or(unspecified),
                m.header.destination_prefix_length,
            ) else {
                continue;
            };
            out.push(RouteInfo {
                dst,
                via,
                dev: oif.and_then(|i| names.get(&i).cloned()),
                metric,
            });
        }
        Ok(out)
    }
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}
