//! IP addresses on interfaces.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{HostError, Result};
use crate::rtnl::{Rtnl, Subject};
use crate::socket::NlError;

pub(crate) fn family_of(ip: &IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

impl Rtnl {
    /// Adds address `addr` (host address plus prefix length, e.g. `10.1.0.1/24` or
    /// `fd00::1/64`) to interface `name`, which also adds the connected route. IPv6 addresses
    /// are added with `nodad`, so they are usable at once. Fails with
    /// [`HostError::AddressExists`] if the interface has it already.
    pub fn addr_add(&self, name: &str, addr: IpNet) -> Result<()> {
        let index = self.index_of(name)?;
        let ip = addr.addr();
        let mut msg = AddressMessage::default();
        msg.header.family = family_of(&ip);
        msg.header.prefix_len = addr.prefix_len();
        msg.header.index = index;
        msg.header.scope = AddressScope::Universe;
        if ip.is_ipv6() {
            msg.header.flags = AddressHeaderFlags::Nodad;
        }
        msg.attributes.push(AddressAttribute::Local(ip));
        msg.attributes.push(AddressAttribute::Address(ip));
        self.sock
            .ack(
                RouteNetlinkMessage::NewAddress(msg),
                NLM_F_CREATE | NLM_F_EXCL,
            )
            .map_err(|e| match e {
                NlError::Errno(libc::EEXIST) => HostError::AddressExists {
                    link: name.to_string(),
                    addr: addr.to_string(),
                },
                e => self.fail(
                    e,
                    format!(
                        "add address {addr} to interface `{name}` in {}",
                        self.place()
                    ),
                    Subject::Link(name),
                ),
            })
    }

    /// The addresses of interface `name` (IPv4 first, then IPv6, in kernel order), including
    /// IPv6 link-local ones.
    pub fn addrs(&self, name: &str) -> Result<Vec<IpNet>> {
        let index = self.index_of(name)?;
        let replies = self
            .sock
            .dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))
            .map_err(|e| {
                self.fail(
                    e,
                    format!("list addresses of interface `{name}` in {}", self.place()),
                    Subject::Link(name),
                )
            })?;
        let mut out = Vec::new();
        for reply in replies {
            let RouteNetlinkMessage::NewAddress(m) = reply else {
                continue;
            };
            if m.header.index != index {
                continue;
            }
            let mut local = None;
            let mut address = None;
            for attr in &m.attributes {
                match attr {
                    AddressAttribute::Local(ip) => local = Some(*ip),
                    AddressAttribute::Address(ip) => address = Some(*ip),
                    _ => {}
                }
            }
            if let Some(ip) = local.or(address) {
                if let Ok(net) = IpNet::new(ip, m.header.prefix_len) {
                    out.push(net);
                }
            }
        }
        Ok(out)
    }
}
