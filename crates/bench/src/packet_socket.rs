//! Where the bench's packet sockets are opened: an interface in a network namespace (a
//! socket keeps its namespace, so it can then be used from any thread). The sockets and
//! their batches are the datapath's ([`PacketSocket`], [`umlvnf_datapath::FrameBatch`]).

use umlvnf_datapath::{PacketOptions, PacketSocket};

use crate::error::{BenchError, Result};

/// Where a socket is opened: an interface in a named network namespace, or in the
/// namespace of the calling process when `netns` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Named network namespace, or `None` for the host's.
    pub netns: Option<String>,
    /// Interface name in that namespace.
    pub ifname: String,
}

impl Port {
    /// A port in namespace `netns`.
    pub fn new(netns: Option<&str>, ifname: &str) -> Port {
        Port {
            netns: netns.map(str::to_string),
            ifname: ifname.to_string(),
        }
    }

    /// Runs `f` in this port's namespace.
    pub(crate) fn run<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        match &self.netns {
            Some(ns) => umlvnf_host::run_in_netns(ns, f)?,
            None => f(),
        }
    }

    /// Human description.
    pub fn describe(&self) -> String {
        match &self.netns {
            Some(ns) => format!("`{}` in network namespace `{ns}`", self.ifname),
            None => format!("`{}` in the host namespace", self.ifname),
        }
    }
}

/// Opens a blocking AF_PACKET socket on `port` (in its namespace) receiving `proto` (0 =
/// send only), with send and receive buffers of `buf` bytes (forced, as root) and, when
/// receiving, without its own outgoing frames: the datapath's [`PacketSocket`], opened the
/// way the generator, the sink and ARP use it.
pub fn open(port: &Port, proto: u16, buf: usize) -> Result<PacketSocket> {
    let opts = PacketOptions {
        protocol: proto,
        buffer_bytes: buf,
        blocking: true,
        ignore_outgoing: proto != 0,
        qdisc_bypass: false,
        vnet_hdr: false,
    };
    let what = port.describe();
    port.run(|| {
        PacketSocket::open(&port.ifname, &opts).map_err(|e| {
            BenchError::os(
                format!("open an AF_PACKET socket on {what}"),
                std::io::Error::other(e),
            )
        })
    })
}
