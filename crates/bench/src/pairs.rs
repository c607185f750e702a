//! Guest-pair scenarios: two UML routers in a chain, h1 → r1 ══ X ══ r2 → h2, with r1 pinned
//! to CPU 0 and r2 to CPU 1, where X is umlvnf's wire, a direct UML-to-UML L2TPv3/UDP link,
//! the reference switch: a Linux bridge on the host whose two ports are the routers' tap
//! interfaces (`transport: tap` with a bridge named by the bench, which the lab creates and
//! removes again), or Debian's `vde_switch`. The vde switch is started by the bench and
//! attached to both running guests through their mconsole with UML's vector `vde` transport
//! (which runs vdeplug4's `vde_plug`), and the new interfaces are addressed and routed by
//! commands run through the lab's runtime ([`Lab::exec`]).

use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path as FsPath, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use umlvnf_guest::mconsole::DEFAULT_TIMEOUT;
use umlvnf_guest::Mconsole;

use ipnet::Ipv4Net;
use umlvnf_topology::{Interface, L2tpv3Options, Link, Route, Topology, Transport, TunnelId};

use crate::error::{BenchError, Result};
use crate::lab::{self, HostSysctl, Lab};
use crate::scenario::{self, PairLink};
use crate::topologies::{self, H1, H2};
use crate::trial::Path;

/// L2TPv3 session of the direct link (decimal and below 0x7fffffff: larger sessions crash
/// Debian's 6.1 guest kernel when the interface comes up).
pub const L2TPV3_SESSION: u32 = 7;

/// CPU placement of the pair scenarios, in words. The routers own the two cores; the
/// generator and the sink are left to the scheduler.
pub const PLACEMENT: &str = "r1 on CPU 0, r2 on CPU 1, generator and sink not pinned; \
     host net.core.rmem_default 4194304 while the guests open their sockets";

/// The guest interface of the vde_switch link (`config vec5:transport=vde,...` over
/// mconsole).
pub const VDE_DEVICE: &str = "vec5";

/// How long the switch may take to write its pid file and control socket.
const SWITCH_START: Duration = Duration::from_secs(3);
/// How long a guest may take to show the hot-plugged interface.
const DEVICE_WAIT: Duration = Duration::from_secs(3);

/// The middle link's subnet.
const MIDDLE_NET: Ipv4Addr = Ipv4Addr::new(10, 0, 12, 0);

/// One router's end of the middle link: its address there, and the route it needs to the far
/// host's subnet through the other router.
struct MiddleEnd {
    node: &'static str,
    address: Ipv4Net,
    far: Ipv4Net,
    gateway: Ipv4Net,
}

impl MiddleEnd {
    /// The route to the far host's subnet.
    fn route(&self) -> Route {
        topologies::route_via(self.far, self.gateway)
    }
}

/// r1's and r2's ends of the middle link.
const MIDDLE: [MiddleEnd; 2] = [
    MiddleEnd {
        node: "r1",
        address: topologies::address(MIDDLE_NET, 1, 30),
        far: topologies::address(topologies::RIGHT, 0, 24),
        gateway: topologies::address(MIDDLE_NET, 2, 30),
    },
    MiddleEnd {
        node: "r2",
        address: topologies::address(MIDDLE_NET, 2, 30),
        far: topologies::address(topologies::LEFT, 0, 24),
        gateway: topologies::address(MIDDLE_NET, 1, 30),
    },
];

/// The host bridge of `pair-bridge` in lab `lab`: `br` and the lab's name (at most 15
/// bytes for the bench's generated lab names, as an interface name must be).
pub fn bridge_name(lab: &str) -> String {
    format!("br{lab}")
}

/// The pair topology for lab `lab`: h1 (10.1.0.1) – r1 (CPU 0) – X – r2 (CPU 1) – h2
/// (10.2.0.1). For [`PairLink::Vde`] the middle link and the routes over it are left out:
/// they are added at run time by [`PairLab::up`].
pub fn pair_topology(lab: &str, link: PairLink) -> Topology {
    let router = |cpu: u32, (outer, address): (&str, Ipv4Net), middle: &MiddleEnd, inner: &str| {
        let mut node = topologies::router().with_interface(outer, Interface::ipv4(address));
        node.cpus = Some(vec![cpu]);
        if link == PairLink::Vde {
            node
        } else {
            node.with_interface(inner, Interface::ipv4(middle.address))
                .with_route(middle.route())
        }
    };
    let middle = topologies::link(("r1", "eth1"), ("r2", "eth0"));
    let middle = match link {
        PairLink::Vde => None,
        PairLink::Wire => Some(middle.on(Transport::Wire)),
        PairLink::L2tpv3 => Some(Link {
            l2tpv3: Some(L2tpv3Options {
                session: Some(TunnelId(L2TPV3_SESSION)),
                ..L2tpv3Options::default()
            }),
            ..middle.on(Transport::L2tpv3)
        }),
        PairLink::Bridge => Some(Link {
            bridge: Some(bridge_name(lab)),
            ..middle.on(Transport::Tap)
        }),
    };
    let topology = Topology::named(lab)
        .with_node("h1", topologies::host(H1, Some(topologies::R1_LEFT)))
        .with_node("h2", topologies::host(H2, Some(topologies::R2_RIGHT)))
        .with_node(
            "r1",
            router(0, ("eth0", topologies::R1_LEFT), &MIDDLE[0], "eth1"),
        )
        .with_node(
            "r2",
            router(1, ("eth1", topologies::R2_RIGHT), &MIDDLE[1], "eth0"),
        )
        .with_link(topologies::link(("h1", "eth0"), ("r1", "eth0")))
        .with_link(topologies::link(("r2", "eth1"), ("h2", "eth0")));
    match middle {
        Some(m) => topology.with_link(m),
        None => topology,
    }
}

/// A deployed pair lab and, for [`PairLink::Vde`], its switch. Dropping it tears the lab
/// down (as [`Lab`] does, which also removes the bridge of `pair-bridge`), then kills the
/// switch.
pub struct PairLab {
    lab: Lab,
    bridge: Option<String>,
    switch: Option<VdeSwitch>,
}

impl PairLab {
    /// Deploys the pair topology of `link` under a fresh lab name; for [`PairLink::Vde`] also
    /// starts the switch in the lab's temporary directory and attaches, addresses and routes
    /// both guests. On any error everything made so far is removed again.
    pub fn up(umlvnf: &FsPath, link: PairLink) -> Result<PairLab> {
        let name = lab::unique_lab_name();
        // As for guest-tuned: the guests' sockets get deep receive buffers (UML sets none of
        // its own), which absorb the time a router waits for its core. Every link gets the
        // same, so the pairs stay comparable.
        let raised = HostSysctl::set(
            "net.core.rmem_default",
            &scenario::TUNED_RMEM_DEFAULT.to_string(),
        )?;
        let lab = Lab::up_generated(umlvnf, &pair_topology(&name, link))?;
        let bridge = (link == PairLink::Bridge).then(|| bridge_name(&name));
        let switch = match link {
            PairLink::Vde => Some(attach_vde(&lab)?),
            PairLink::Wire | PairLink::L2tpv3 | PairLink::Bridge => None,
        };
        drop(raised);
        Ok(PairLab {
            lab,
            bridge,
            switch,
        })
    }

    /// The lab.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The host bridge joining the routers, for `pair-bridge`.
    pub fn bridge(&self) -> Option<&str> {
        self.bridge.as_deref()
    }

    /// The switch, for `pair-vde`.
    pub fn switch(&self) -> Option<&VdeSwitch> {
        self.switch.as_ref()
    }

    /// The test path h1 → h2, generator and sink not pinned.
    pub fn path(&self) -> Result<Path> {
        self.lab.path(None, None)
    }
}

/// Starts a switch in the lab's directory, plugs both guests into it and configures them.
/// The switch is killed again (its guard dropped) if any step fails.
fn attach_vde(lab: &Lab) -> Result<VdeSwitch> {
    let dir = lab
        .generated_dir()
        .ok_or_else(|| BenchError::VdeSwitch("the lab has no directory of the bench's".into()))?;
    let switch = VdeSwitch::start(dir)?;
    let socket = switch.socket().to_str().unwrap_or_default().to_string();
    for end in &MIDDLE {
        let (node, addr, route) = (end.node, end.address, end.route());
        crate::interrupt::check()?;
        let mc = Mconsole::connect(&lab.mconsole(node))?;
        // `vde_plug` (vdeplug4) joins the guest's end of a socket pair to the switch.
        mc.command(
            &format!("config {VDE_DEVICE}:transport=vde,vnl=vde://{socket}"),
            DEFAULT_TIMEOUT,
        )?;
        wait_for_device(lab, node)?;
        lab.exec(
            node,
            &[
                "sh",
                "-c",
                &format!(
                    "ip addr add {addr} dev {VDE_DEVICE} && ip link set {VDE_DEVICE} up && ip \
                     route add {route}"
                ),
            ],
        )?;
    }
    Ok(switch)
}

/// Waits until `node` shows [`VDE_DEVICE`].
fn wait_for_device(lab: &Lab, node: &str) -> Result<()> {
    let deadline = Instant::now() + DEVICE_WAIT;
    loop {
        match lab.exec(node, &["ip", "link", "show", VDE_DEVICE]) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A `vde_switch` daemon started by the bench (`vde_switch -s SOCK -d -p PIDFILE`).
/// Dropping it kills the switch (SIGTERM, SIGKILL after 2 s) and removes its socket
/// directory and pid file; it also does so when the start failed half-way.
#[derive(Debug)]
pub struct VdeSwitch {
    socket: PathBuf,
    pidfile: PathBuf,
    log: PathBuf,
    pid: Option<i32>,
    /// `vde_switch -d` returned success: a daemon exists (its pid file may still be missing).
    daemonized: bool,
}

impl VdeSwitch {
    /// Starts a switch whose socket directory is `DIR/vde` and pid file `DIR/vde.pid`, and
    /// waits until both exist. `DIR` must exist; its path must be printable ASCII without
    /// `,` or `=` and short enough for a Unix socket (the guest's `config` command carries it).
    pub fn start(dir: &FsPath) -> Result<VdeSwitch> {
        let socket = dir.join("vde");
        let text = socket.to_str().unwrap_or("");
        if text.is_empty()
            || !text
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b',' && b != b'=')
            || text.len() > 96
        {
            return Err(BenchError::VdeSwitch(format!(
                "its socket path {} is not usable: it must be at most 96 bytes of printable \
                 ASCII without spaces, `,` or `=` (set TMPDIR to such a directory)",
                socket.display()
            )));
        }
        let mut sw = VdeSwitch {
            pidfile: dir.join("vde.pid"),
            log: dir.join("vde.log"),
            socket,
            pid: None,
            daemonized: false,
        };
        let log = fs::File::create(&sw.log)
            .map_err(|e| BenchError::os(format!("create {}", sw.log.display()), e))?;
        let status = Command::new("vde_switch")
            .arg("-s")
            .arg(&sw.socket)
            .arg("-d")
            .arg("-p")
            .arg(&sw.pidfile)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Its own process group, like `umlvnf up`/`down`: a Ctrl-C in the terminal stops
            // the bench, whose guard then stops the switch.
            .process_group(0)
            .status()
            .map_err(|e| {
                BenchError::VdeSwitch(if e.kind() == io::ErrorKind::NotFound {
                    "`vde_switch` is not on the PATH: install it with `apt-get install vde2`"
                        .to_string()
                } else {
                    format!("cannot run vde_switch: {e}")
                })
            })?;
        if !status.success() {
            return Err(BenchError::VdeSwitch(format!(
                "it exited with {status}: {}",
                sw.log_text()
            )));
        }
        sw.daemonized = true;
        let deadline = Instant::now() + SWITCH_START;
        loop {
            if sw.pid.is_none() {
                sw.pid = read_pidfile(&sw.pidfile);
            }
            if sw.pid.is_some() && sw.socket.join("ctl").exists() {
                return Ok(sw);
            }
            if Instant::now() >= deadline {
                return Err(BenchError::VdeSwitch(format!(
                    "its pid file {} and control socket {} did not both appear within {} s \
                     ({})",
                    sw.pidfile.display(),
                    sw.socket.join("ctl").display(),
                    SWITCH_START.as_secs(),
                    sw.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The switch's socket directory (what `vecN:transport=vde,vnl=vde://PATH` takes).
    pub fn socket(&self) -> &FsPath {
        &self.socket
    }

    /// The daemon's process id.
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    fn log_text(&self) -> String {
        let t = fs::read_to_string(&self.log).unwrap_or_default();
        if t.trim().is_empty() {
            "it printed nothing".into()
        } else {
            t.trim().to_string()
        }
    }
}

impl Drop for VdeSwitch {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.log);
        if !self.daemonized {
            // vde_switch fails before it forks: nothing runs, and the paths are not its.
            return;
        }
        let key = self.socket.to_string_lossy().to_string();
        let pid = self
            .pid
            .or_else(|| read_pidfile(&self.pidfile))
            .filter(|&p| is_switch_on(p, &key))
            .or_else(|| running_vde_switches(&key).first().copied());
        if let Some(pid) = pid {
            terminate(pid, &key);
        }
        let _ = fs::remove_dir_all(&self.socket);
        let _ = fs::remove_file(&self.pidfile);
    }
}

fn read_pidfile(path: &FsPath) -> Option<i32> {
    fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&p: &i32| p > 1)
}

/// Whether `pid` is a live (not zombie) `vde_switch` whose command line has `key` in an
/// argument.
fn is_switch_on(pid: i32, key: &str) -> bool {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let comm = fs::read_to_string(proc.join("comm")).unwrap_or_default();
    if comm.trim() != "vde_switch" || !alive(pid) {
        return false;
    }
    let cmdline = fs::read(proc.join("cmdline")).unwrap_or_default();
    cmdline
        .split(|b| *b == 0)
        .any(|a| String::from_utf8_lossy(a).contains(key))
}

/// Whether `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|s| s != 'Z' && s != 'X'),
        Err(_) => false,
    }
}

/// Live `vde_switch` processes with `key` in an argument (such as a directory of the
/// bench's), by pid.
pub fn running_vde_switches(key: &str) -> Vec<i32> {
    let mut out: Vec<i32> = umlvnf_host::processes()
        .map(|p| p.pid)
        .filter(|&pid| is_switch_on(pid, key))
        .collect();
    out.sort_unstable();
    out
}

/// SIGTERM, then SIGKILL if it is still there after 2 s; reaps it if it is our child.
fn terminate(pid: i32, key: &str) {
    for (signal, wait) in [
        (libc::SIGTERM, Duration::from_secs(2)),
        (libc::SIGKILL, Duration::from_secs(2)),
    ] {
        if !is_switch_on(pid, key) {
            return;
        }
        // SAFETY: kill has no memory-safety preconditions; `pid` was just checked to be the
        // bench's own vde_switch (its command line names our socket directory).
        unsafe { libc::kill(pid, signal) };
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            // SAFETY: waitpid with WNOHANG and a null status pointer only reaps `pid` if it
            // is our child (it fails with ECHILD otherwise); nothing is written.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
            if !alive(pid) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topologies::reads_back;

    #[test]
    fn pair_topologies_are_valid() {
        for link in PairLink::ALL {
            let topo = reads_back(&pair_topology("bnpair-0", link));
            assert_eq!(topo.nodes.len(), 4, "{topo:?}");
            assert_eq!(topo.name, "bnpair-0");
            assert_eq!(topo.nodes["r1"].cpus, Some(vec![0]), "{link:?}");
            assert_eq!(topo.nodes["r2"].cpus, Some(vec![1]), "{link:?}");
            let links = if link == PairLink::Vde { 2 } else { 3 };
            assert_eq!(topo.links.len(), links, "{topo:?}");
        }
        let middle = |link| reads_back(&pair_topology("x", link)).links[2].clone();
        let addresses = |t: &Topology, node: &str| -> Vec<String> {
            let n = &t.nodes[node];
            n.interfaces
                .values()
                .flat_map(|i| i.ipv4.iter().map(|a| a.to_string()))
                .chain(n.routes.iter().map(|r| r.to_string()))
                .collect()
        };
        let w = reads_back(&pair_topology("x", PairLink::Wire));
        assert_eq!(w.links[2].transport, Some(Transport::Wire));
        assert!(addresses(&w, "r1").contains(&"10.0.12.1/30".to_string()));
        assert!(addresses(&w, "r1").contains(&"10.2.0.0/24 via 10.0.12.2".to_string()));
        let l = middle(PairLink::L2tpv3);
        assert_eq!(l.transport, Some(Transport::L2tpv3));
        assert_eq!(l.l2tpv3.and_then(|o| o.session), Some(TunnelId(7)));
        let b = reads_back(&pair_topology("x", PairLink::Bridge));
        assert_eq!(b.links[2].transport, Some(Transport::Tap));
        assert_eq!(b.links[2].bridge.as_deref(), Some("brx"));
        assert!(addresses(&b, "r2").contains(&"10.0.12.2/30".to_string()));
        let v = reads_back(&pair_topology("x", PairLink::Vde));
        for node in ["r1", "r2"] {
            assert!(addresses(&v, node).iter().all(|a| !a.contains("10.0.12.")));
        }
        assert!(v.links.iter().all(|l| l.transport.is_none()));
    }

    #[test]
    fn bridge_names_fit_an_interface_name() {
        // The longest name lab::unique_lab_name makes: 6 hex digits and a 2-digit counter.
        let longest = "bnffffff-99";
        let name = bridge_name(longest);
        assert!(name.len() <= 15, "{name}");
        reads_back(&pair_topology(longest, PairLink::Bridge));
    }

    #[test]
    fn switch_paths_that_would_inject_options_are_refused() {
        for bad in ["/tmp/a,b", "/tmp/a=b", "/tmp/a b"] {
            let e = VdeSwitch::start(FsPath::new(bad)).unwrap_err().to_string();
            assert!(e.contains("printable"), "{e}");
        }
        let long = format!("/tmp/{}", "x".repeat(100));
        assert!(VdeSwitch::start(FsPath::new(&long)).is_err());
    }

    #[test]
    fn process_checks_do_not_match_other_processes() {
        let me = std::process::id() as i32;
        assert!(alive(me));
        assert!(!is_switch_on(me, "/"));
        assert!(!alive(i32::MAX));
        assert!(running_vde_switches("/nonexistent/umlvnf-bench-none").is_empty());
    }
}
