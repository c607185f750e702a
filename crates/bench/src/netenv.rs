//! Network namespaces and veth pairs for the host-only scenarios (veth, netns-router, wire),
//! removed again when dropped.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};

use umlvnf_datapath::{Datapath, EndSpec, WireSpec};
use umlvnf_host::{netns_add, netns_del, netns_exists, sysctl_set, IpNet, Rtnl};

use crate::error::{BenchError, Result};
use crate::frame::Flow;
use crate::packet_socket::Port;
use crate::trial::Path;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Namespaces (and possibly a datapath) made for one scenario; dropping it removes them.
pub struct NetEnv {
    namespaces: Vec<String>,
    datapath: Option<Datapath>,
    /// Where to send and count.
    pub path: Path,
}

impl Drop for NetEnv {
    fn drop(&mut self) {
        if let Some(dp) = self.datapath.take() {
            dp.shutdown();
        }
        for ns in self.namespaces.drain(..).rev() {
            if netns_exists(&ns) {
                let _ = netns_del(&ns);
            }
        }
    }
}

/// Collects namespaces as they are made, so a failure half-way removes the earlier ones.
struct Builder {
    tag: String,
    namespaces: Vec<String>,
    pairs: u32,
}

impl Builder {
    fn new() -> Builder {
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        Builder {
            tag: format!("{}{k}", std::process::id() % 100_000),
            namespaces: Vec::new(),
            pairs: 0,
        }
    }

    fn netns(&mut self, role: &str) -> Result<String> {
        let name = format!("umlvnf-bench-{}-{role}", self.tag);
        netns_add(&name)?;
        self.namespaces.push(name.clone());
        Ok(name)
    }

    /// A veth pair with end `a_name` in `a_ns` and `b_name` in `b_ns`, both up.
    fn pair(&mut self, a_ns: &str, a_name: &str, b_ns: &str, b_name: &str) -> Result<()> {
        self.pairs += 1;
        let ta = format!("ub{}p{}a", self.tag, self.pairs);
        let tb = format!("ub{}p{}b", self.tag, self.pairs);
        let root = Rtnl::root()?;
        root.veth_add(&ta, &tb, Some("umlvnf:bench"))?;
        let moved = root
            .link_move_to_netns(&ta, a_ns, Some(a_name))
            .and_then(|()| root.link_move_to_netns(&tb, b_ns, Some(b_name)));
        if let Err(e) = moved {
            let _ = root.link_del(&ta);
            let _ = root.link_del(&tb);
            return Err(e.into());
        }
        Rtnl::in_netns(a_ns)?.link_set_up(a_name)?;
        Rtnl::in_netns(b_ns)?.link_set_up(b_name)?;
        Ok(())
    }

    fn finish(mut self, datapath: Option<Datapath>, path: Path) -> NetEnv {
        NetEnv {
            namespaces: std::mem::take(&mut self.namespaces),
            datapath,
            path,
        }
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        for ns in self.namespaces.drain(..).rev() {
            let _ = netns_del(&ns);
        }
    }
}

/// MAC address of `ifname` in `netns`.
pub fn mac_of(netns: Option<&str>, ifname: &str) -> Result<[u8; 6]> {
    let rtnl = match netns {
        Some(ns) => Rtnl::in_netns(ns)?,
        None => Rtnl::root()?,
    };
    rtnl.link(ifname)?
        .and_then(|l| l.mac)
        .ok_or_else(|| BenchError::InvalidOptions(format!("interface `{ifname}` has no MAC")))
}

fn net(text: &str) -> Result<IpNet> {
    text.parse()
        .map_err(|_| BenchError::InvalidOptions(format!("bad built-in prefix {text}")))
}

/// Source and destination addresses of the frames when sender and sink share a subnet.
const SAME_SUBNET: (Ipv4Addr, Ipv4Addr) =
    (Ipv4Addr::new(10, 99, 0, 1), Ipv4Addr::new(10, 99, 0, 2));
/// Source and destination addresses of the frames through a router (h1 and h2).
const ROUTED: (Ipv4Addr, Ipv4Addr) = (Ipv4Addr::new(10, 1, 0, 1), Ipv4Addr::new(10, 2, 0, 1));

/// The path from `eth0` of namespace `tx` to `eth0` of namespace `rx`, its frames addressed
/// to `next_hop` (MAC) with the IPv4 addresses `ips`.
fn eth0_path(
    tx: &str,
    rx: &str,
    next_hop: [u8; 6],
    ips: (Ipv4Addr, Ipv4Addr),
    tx_cpu: Option<usize>,
    rx_cpu: Option<usize>,
) -> Result<Path> {
    Ok(Path {
        tx: Port::new(Some(tx), "eth0"),
        rx: Port::new(Some(rx), "eth0"),
        flow: Flow {
            src_mac: mac_of(Some(tx), "eth0")?,
            dst_mac: next_hop,
            src_ip: ips.0,
            dst_ip: ips.1,
        },
        tx_cpu,
        rx_cpu,
    })
}

/// `veth`: generator namespace ⇄ one veth pair ⇄ sink namespace.
pub fn veth(tx_cpu: Option<usize>, rx_cpu: Option<usize>) -> Result<NetEnv> {
    let mut b = Builder::new();
    let a = b.netns("a")?;
    let z = b.netns("b")?;
    b.pair(&a, "eth0", &z, "eth0")?;
    let path = eth0_path(
        &a,
        &z,
        mac_of(Some(&z), "eth0")?,
        SAME_SUBNET,
        tx_cpu,
        rx_cpu,
    )?;
    Ok(b.finish(None, path))
}

/// `netns-router`: h1 ⇄ veth ⇄ a namespace with `ip_forward=1` ⇄ veth ⇄ h2.
pub fn netns_router(tx_cpu: Option<usize>, rx_cpu: Option<usize>) -> Result<NetEnv> {
    let mut b = Builder::new();
    let h1 = b.netns("h1")?;
    let r = b.netns("r")?;
    let h2 = b.netns("h2")?;
    b.pair(&h1, "eth0", &r, "eth0")?;
    b.pair(&r, "eth1", &h2, "eth0")?;
    Rtnl::in_netns(&h1)?.addr_add("eth0", net("10.1.0.1/24")?)?;
    let rr = Rtnl::in_netns(&r)?;
    rr.addr_add("eth0", net("10.1.0.254/24")?)?;
    rr.addr_add("eth1", net("10.2.0.254/24")?)?;
    Rtnl::in_netns(&h2)?.addr_add("eth0", net("10.2.0.1/24")?)?;
    sysctl_set(Some(&r), "net.ipv4.ip_forward", "1")?;
    let path = eth0_path(&h1, &h2, mac_of(Some(&r), "eth0")?, ROUTED, tx_cpu, rx_cpu)?;
    Ok(b.finish(None, path))
}

/// `wire`: generator namespace ⇄ veth ⇄ umlvnf's datapath (one wire, AF_PACKET on its
/// veth end, in a middle namespace) ⇄ veth ⇄ sink namespace; with `tap`, the sink
/// namespace's `eth0` is instead a tap whose descriptor the datapath holds (`wire-tap`).
pub fn wire(
    tx_cpu: Option<usize>,
    rx_cpu: Option<usize>,
    dp_cpu: Option<usize>,
    depth: usize,
    tap: bool,
) -> Result<NetEnv> {
    let mut b = Builder::new();
    let a = b.netns("a")?;
    let m = b.netns("m")?;
    let z = b.netns("b")?;
    b.pair(&a, "eth0", &m, "wa")?;
    let sink_end = if tap {
        let name = format!("ub{}t", b.tag);
        let root = Rtnl::root()?;
        root.tap_add_persistent(&name, Some("umlvnf:bench"))?;
        if let Err(e) = root.link_move_to_netns(&name, &z, Some("eth0")) {
            let _ = root.link_del(&name);
            return Err(e.into());
        }
        Rtnl::in_netns(&z)?.link_set_up("eth0")?;
        EndSpec::Tap(umlvnf_host::tap_attach(Some(&z), "eth0", false)?)
    } else {
        b.pair(&m, "wb", &z, "eth0")?;
        EndSpec::Packet {
            ifname: "wb".into(),
            vnet_hdr: false,
        }
    };
    let dp = match dp_cpu {
        Some(c) => Datapath::start_pinned(&[c % crate::affinity::cpu_count()])?,
        None => Datapath::start(1)?,
    };
    let mut spec = WireSpec::new(
        "bench",
        EndSpec::Packet {
            ifname: "wa".into(),
            vnet_hdr: false,
        },
        sink_end,
    );
    spec.depth = depth;
    let added = umlvnf_host::run_in_netns(&m, || dp.add_wire(spec));
    match added {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            dp.shutdown();
            return Err(e.into());
        }
        Err(e) => {
            dp.shutdown();
            return Err(e.into());
        }
    }
    let path = eth0_path(
        &a,
        &z,
        mac_of(Some(&z), "eth0")?,
        SAME_SUBNET,
        tx_cpu,
        rx_cpu,
    )?;
    Ok(b.finish(Some(dp), path))
}

/// The namespaces of the `guest-plain` scenario: h1 ⇄ veth ⇄ a namespace for the UML router
/// (ends `p0` and `p1`, where the guest attaches, no addresses) ⇄ veth ⇄ h2. Returns the
/// set-up (whose path's destination MAC is still zero: the guest's, learned once it boots)
/// and the router namespace's name.
pub fn howto_router(tx_cpu: Option<usize>, rx_cpu: Option<usize>) -> Result<(NetEnv, String)> {
    let mut b = Builder::new();
    let h1 = b.netns("h1")?;
    let r = b.netns("r")?;
    let h2 = b.netns("h2")?;
    b.pair(&h1, "eth0", &r, "p0")?;
    b.pair(&r, "p1", &h2, "eth0")?;
    Rtnl::in_netns(&h1)?.addr_add("eth0", net("10.1.0.1/24")?)?;
    Rtnl::in_netns(&h2)?.addr_add("eth0", net("10.2.0.1/24")?)?;
    let path = eth0_path(&h1, &h2, [0; 6], ROUTED, tx_cpu, rx_cpu)?;
    Ok((b.finish(None, path), r))
}
