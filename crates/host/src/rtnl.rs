//! [`Rtnl`]: a route netlink socket bound to one network namespace.

use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::{HostError, Result};
use crate::names::check_ifname;
use crate::netns::run_in_netns;
use crate::socket::{NlError, NlSocket};

/// A route netlink socket. Every request goes to the network namespace the socket was opened
/// in, whatever namespace the calling thread is in later. Requests are serialised, so an
/// `Rtnl` can be shared between threads.
pub struct Rtnl {
    pub(crate) sock: NlSocket,
    netns: Option<String>,
}

impl std::fmt::Debug for Rtnl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rtnl").field("netns", &self.netns).finish()
    }
}

/// The object a failed request was about, used to turn errno values into precise errors.
pub(crate) enum Subject<'a> {
    /// An existing interface (ENODEV means it is missing).
    Link(&'a str),
    /// An interface being created (EEXIST means the name is taken).
    NewLink(&'a str),
    /// Nothing more specific than the action.
    Other,
}

impl Rtnl {
    /// Opens a socket in the namespace of the calling thread (normally the host's).
    pub fn root() -> Result<Rtnl> {
        let sock = NlSocket::open().map_err(|e| HostError::os("open a route netlink socket", e))?;
        Ok(Rtnl { sock, netns: None })
    }

    /// Opens a socket inside named network namespace `name` (from a thread that joins it), so
    /// every request acts on that namespace. The calling thread's namespace is unchanged.
    pub fn in_netns(name: &str) -> Result<Rtnl> {
        let sock = run_in_netns(name, NlSocket::open)?.map_err(|e| {
            HostError::os(
                format!("open a route netlink socket in network namespace `{name}`"),
                e,
            )
        })?;
        Ok(Rtnl {
            sock,
            netns: Some(name.to_string()),
        })
    }

    /// The named namespace this socket was opened in, or `None` for [`Rtnl::root`].
    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// The namespace as prose for error messages.
    pub(crate) fn place(&self) -> String {
        match &self.netns {
            Some(ns) => format!("network namespace `{ns}`"),
            None => "the host namespace".to_string(),
        }
    }

    /// Turns a netlink failure into a [`HostError`] naming `subject`.
    pub(crate) fn fail(
        &self,
        e: NlError,
        action: impl Into<String>,
        subject: Subject<'_>,
    ) -> HostError {
        let action = action.into();
        match e {
            NlError::Errno(libc::ENODEV) => match subject {
                Subject::Link(name) => HostError::NoSuchLink {
                    name: name.to_string(),
                    netns: self.place(),
                },
                _ => HostError::errno(action, libc::ENODEV),
            },
            NlError::Errno(libc::EEXIST) => match subject {
                Subject::NewLink(name) => HostError::LinkExists(name.to_string()),
                _ => HostError::errno(action, libc::EEXIST),
            },
            NlError::Errno(errno) => HostError::errno(action, errno),
            NlError::Io(e) => HostError::os(action, e),
            NlError::Decode(detail) => HostError::Decode { action, detail },
        }
    }

    /// Fetches the link message of interface `name`, or `None` if it does not exist.
    pub(crate) fn get_link(&self, name: &str) -> Result<Option<LinkMessage>> {
        check_ifname(name)?;
        let mut req = LinkMessage::default();
        req.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.sock.get(RouteNetlinkMessage::GetLink(req)) {
            Ok(replies) => Ok(replies.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })),
            Err(NlError::Errno(libc::ENODEV)) => Ok(None),
            Err(e) => Err(self.fail(
                e,
                format!("look up interface `{name}`"),
                Subject::Link(name),
            )),
        }
    }

    /// The interface index of `name`, or [`HostError::NoSuchLink`].
    pub(crate) fn index_of(&self, name: &str) -> Result<u32> {
        match self.get_link(name)? {
            Some(l) => Ok(l.header.index),
            None => Err(HostError::NoSuchLink {
                name: name.to_string(),
                netns: self.place(),
            }),
        }
    }
}
