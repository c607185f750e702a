//! The router of the `guest-plain` and `guest-debian` scenarios: the quickstart router started
//! the way the UML howto starts a guest, one `linux ...` command line run by hand, without
//! umlvnf's runtime and without any of its tuning (no CPU pinning, default socket buffers, the
//! howto's own `depth=128,gro=1` on raw vector links, consoles as the howto sets them).
//!
//! Which kernel runs that command line is the scenario's choice ([`HowtoKernel`]):
//! `guest-plain` boots the same kernel as `guest-tuned` (umlvnf's appliance kernel, its `smp`
//! flavour), so that the two differ only by tuning; `guest-debian` boots Debian's
//! `/usr/bin/linux` (6.1), where this host can boot it at all ([`HowtoKernel::refusal`]).
//!
//! Only what the howto leaves to the reader is filled in: the root image is umlvnf's
//! `minimal` image (its init is umlvnf's agent, which reads the router's addresses and
//! `ip_forward` from a drive on `ubd1` and reports `ready` on console 1, which the howto's
//! `con1=fd:0,fd:1` puts on the launcher's stdin and stdout), and `uml_dir` points into a
//! private directory so nothing lands in the home directory.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path as FsPath, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use umlvnf_agent::config::{GuestConfig, InterfaceConfig};
use umlvnf_agent::protocol::{decode_line, Event};
use umlvnf_kernel::{boot_refusal, Flavour, HostCpu, KernelFacts};

use crate::arp;
use crate::error::{BenchError, Result};
use crate::netenv::{self, NetEnv};
use crate::trial::Path;

/// Debian's UML kernel (package `user-mode-linux`, 6.1 on Debian 12): what the howto's
/// `linux` is on this distribution.
pub const DEBIAN_KERNEL: &str = "/usr/bin/linux";
/// The appliance kernel flavour `guest-plain` boots: the one `kind: uml` nodes boot by
/// default, so the same as `guest-tuned`'s.
pub const APPLIANCE_FLAVOUR: Flavour = Flavour::Smp;
/// Guest memory (the quickstart router's).
pub const MEMORY: &str = "128M";
/// The howto's options for a raw vector link (`vec0:transport=raw,ifname=p-veth0,...`).
pub const HOWTO_LINK_OPTIONS: &str = "depth=128,gro=1";
/// How long the guest may take to boot and apply its configuration.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
/// The router's address on the generator's side.
const GATEWAY: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 1, 0, 254);

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Which kernel runs the howto's command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HowtoKernel {
    /// umlvnf's appliance kernel, [`APPLIANCE_FLAVOUR`], from the kernel store (built there
    /// first if the store has none for the current recipe, as `umlvnf up` does).
    Appliance,
    /// Debian's [`DEBIAN_KERNEL`].
    Debian,
}

/// A kernel binary resolved for a run, with what the report says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKernel {
    /// The binary run.
    pub path: PathBuf,
    /// For people: `umlvnf appliance kernel smp, linux 7.3.4 (PATH)` and such.
    pub label: String,
}

impl HowtoKernel {
    /// Why this kernel cannot boot on a host with `cpu` (the scenario is then skipped, not
    /// run), or `None`. Only Debian's kernel is ever refused: the appliance kernel is recent
    /// enough for every CPU ([`umlvnf_kernel::boot_refusal`]). A Debian kernel that is not
    /// installed or cannot be read is not a refusal: [`HowtoKernel::resolve`] then fails with
    /// the reason.
    pub fn refusal(self, cpu: HostCpu) -> Option<String> {
        match self {
            HowtoKernel::Appliance => None,
            HowtoKernel::Debian => {
                let facts = KernelFacts::read(FsPath::new(DEBIAN_KERNEL)).ok()?;
                boot_refusal(&facts, cpu)
            }
        }
    }

    /// The kernel binary: the appliance kernel as `umlvnf kernel path --flavour smp` names it (the
    /// same `umlvnf` binary that deploys the other guest scenarios, so the same build; it is
    /// built first if the store has none for the current recipe, with progress lines on
    /// stderr unless `quiet`), or Debian's, which must be installed and be a UML kernel.
    ///
    /// The appliance kernel is asked of the binary rather than of a library: `kernel path`
    /// may have to build the kernel first, with the binary's build recipe and store, so the
    /// kernel the bench boots is the one the binary's labs boot.
    pub fn resolve(self, umlvnf: &FsPath, quiet: bool) -> Result<ResolvedKernel> {
        match self {
            HowtoKernel::Appliance => {
                let flavour = APPLIANCE_FLAVOUR.to_string();
                let out = Command::new(umlvnf)
                    .args(["kernel", "path", "--flavour", &flavour])
                    .stdin(Stdio::null())
                    .stderr(if quiet {
                        Stdio::piped()
                    } else {
                        Stdio::inherit()
                    })
                    .output()
                    .map_err(|e| {
                        BenchError::HowtoGuest(format!("cannot run {}: {e}", umlvnf.display()))
                    })?;
                let text = String::from_utf8_lossy(&out.stdout);
                let path = text.lines().rev().map(str::trim).find(|l| !l.is_empty());
                let path = match path {
                    Some(p) if out.status.success() && FsPath::new(p).is_file() => PathBuf::from(p),
                    _ => {
                        return Err(BenchError::HowtoGuest(format!(
                            "`umlvnf kernel path --flavour {flavour}` did not name the appliance kernel: \
                             {}{}",
                            text.trim(),
                            String::from_utf8_lossy(&out.stderr).trim()
                        )))
                    }
                };
                let release = KernelFacts::read(&path)
                    .ok()
                    .and_then(|f| f.version)
                    .map_or("release unknown".to_string(), |v| format!("linux {v}"));
                Ok(ResolvedKernel {
                    label: format!(
                        "umlvnf appliance kernel {flavour}, {release} ({})",
                        path.display()
                    ),
                    path,
                })
            }
            HowtoKernel::Debian => {
                let path = PathBuf::from(DEBIAN_KERNEL);
                let facts = KernelFacts::read(&path).map_err(|e| {
                    BenchError::HowtoGuest(format!(
                        "Debian's UML kernel cannot be used: {e} (install it with `apt-get \
                         install user-mode-linux`)"
                    ))
                })?;
                let release = facts
                    .version
                    .map_or("release unknown".to_string(), |v| format!("linux {v}"));
                Ok(ResolvedKernel {
                    label: format!("Debian's UML kernel, {release} ({})", path.display()),
                    path,
                })
            }
        }
    }
}

/// A running plain guest and its namespaces; dropping it stops the guest (its whole process
/// group), removes its directory and then the namespaces.
pub struct HowtoGuest {
    child: Option<Child>,
    /// Console 1's input: kept open so the agent's channel does not see end-of-file.
    _stdin: Option<ChildStdin>,
    dir: PathBuf,
    /// The command line as run (program and arguments, space-separated).
    pub command_line: String,
    /// The kernel that runs it.
    pub kernel: ResolvedKernel,
    /// Dropped after the guest.
    net: NetEnv,
}

impl HowtoGuest {
    /// The process id of the running `linux`.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for HowtoGuest {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            stop_group(child);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// SIGTERM to the guest's process group (UML exits at once on it), then SIGKILL if it is
/// still there after two seconds; reaps the child.
fn stop_group(child: &mut Child) {
    let pgid = child.id() as libc::pid_t;
    // SAFETY: plain kill(2) on the guest's own process group (it called setsid).
    unsafe { libc::kill(-pgid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Helper processes of the guest may outlive the main one: kill the whole group.
    // SAFETY: as above.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = child.wait();
}

/// The path of umlvnf's current `minimal` image (built if missing), from
/// `umlvnf image build minimal`: a run of the binary, as for the kernel, so that the image is
/// built by the same recipe and found in the same store as the binary's labs use.
fn minimal_image(umlvnf: &FsPath) -> Result<PathBuf> {
    let out = Command::new(umlvnf)
        .args(["image", "build", "minimal"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BenchError::HowtoGuest(format!("cannot run {}: {e}", umlvnf.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let path = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(str::trim);
    match path {
        Some(p) if out.status.success() && FsPath::new(p).is_file() => Ok(PathBuf::from(p)),
        _ => Err(BenchError::HowtoGuest(format!(
            "`umlvnf image build minimal` did not name an image: {}{}",
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// The router's configuration: the quickstart router's addresses and forwarding.
fn router_config() -> GuestConfig {
    let iface = |device: &str, name: &str, addr: &str| InterfaceConfig {
        device: device.into(),
        name: name.into(),
        ipv4: vec![addr.into()],
        ..InterfaceConfig::default()
    };
    GuestConfig {
        lab: "bench".into(),
        node: "r1".into(),
        hostname: "r1".into(),
        interfaces: vec![
            iface("vec0", "eth0", "10.1.0.254/24"),
            iface("vec1", "eth1", "10.2.0.254/24"),
        ],
        sysctls: vec![("net.ipv4.ip_forward".into(), "1".into())],
        ..GuestConfig::default()
    }
}

/// The howto's command line for this guest, without the program name.
pub fn howto_args(dir: &FsPath, base: &FsPath, umid: &str) -> Vec<String> {
    let d = dir.display();
    vec![
        format!("mem={MEMORY}"),
        format!("umid={umid}"),
        format!("uml_dir={d}/uml"),
        format!("ubd0={d}/r1.cow,{}", base.display()),
        format!("ubd1={d}/config.img"),
        format!("vec0:transport=raw,ifname=p0,{HOWTO_LINK_OPTIONS}"),
        format!("vec1:transport=raw,ifname=p1,{HOWTO_LINK_OPTIONS}"),
        "root=/dev/ubda".into(),
        "rw".into(),
        "init=/sbin/umlvnf-agent".into(),
        "con=null".into(),
        "con0=null,fd:2".into(),
        "con1=fd:0,fd:1".into(),
    ]
}

/// Boots the plain guest on `kernel` between two fresh namespaces and returns it with the
/// path through it (generator in h1, sink in h2), once its agent reported `ready` and it
/// answered ARP.
pub fn start(
    umlvnf: &FsPath,
    kernel: ResolvedKernel,
    tx_cpu: Option<usize>,
    rx_cpu: Option<usize>,
) -> Result<(HowtoGuest, Path)> {
    let base = minimal_image(umlvnf)?;
    let (net, router_ns) = netenv::howto_router(tx_cpu, rx_cpu)?;
    let k = NEXT.fetch_add(1, Ordering::Relaxed);
    let umid = format!("bp{}-{k}", std::process::id() % 100_000);
    let dir = std::env::temp_dir().join(format!("umlvnf-bench-{umid}"));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| BenchError::os(format!("create {}", dir.display()), e))?;
    // From here on, dropping `guest` removes the directory, the namespaces and the process.
    let mut guest = HowtoGuest {
        child: None,
        _stdin: None,
        dir: dir.clone(),
        command_line: String::new(),
        kernel,
        net,
    };
    let cfg = dir.join("config.img");
    umlvnf_agent::config_drive::write(&cfg, &router_config())
        .map_err(|e| BenchError::os(format!("write {}", cfg.display()), e))?;
    let log = fs::File::create(dir.join("console.log"))
        .map_err(|e| BenchError::os("create the guest's console log", e))?;
    let args = howto_args(&dir, &base, &umid);
    let program = guest.kernel.path.display().to_string();
    guest.command_line = format!("{program} {}", args.join(" "));
    let mut cmd = umlvnf_host::command_in_netns(&router_ns, &program, &args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent. A UML panic
    // signals its whole process group, which must not be the bench's.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| BenchError::HowtoGuest(format!("cannot start `{program}`: {e}")))?;
    guest._stdin = child.stdin.take();
    let stdout = child.stdout.take();
    guest.child = Some(child);
    let (tx, rx) = mpsc::channel();
    if let Some(out) = stdout {
        // Reads console 1 to its end (the guest's exit), passing on the agent's events.
        std::thread::spawn(move || {
            for line in BufReader::new(out).split(b'\n').map_while(|l| l.ok()) {
                if let Ok(ev) = decode_line::<Event>(&line) {
                    let _ = tx.send(ev);
                }
            }
        });
    }
    wait_ready(&mut guest, &rx)?;
    let mut path = guest.net.path.clone();
    path.flow.dst_mac = arp::resolve(
        &path.tx,
        path.flow.src_mac,
        path.flow.src_ip,
        GATEWAY,
        Duration::from_secs(5),
    )?;
    Ok((guest, path))
}

/// Waits for the agent's `ready`, failing on `failed`, on the guest's exit or on timeout.
fn wait_ready(guest: &mut HowtoGuest, rx: &mpsc::Receiver<Event>) -> Result<()> {
    let deadline = Instant::now() + BOOT_TIMEOUT;
    let log = guest.dir.join("console.log");
    let tail = || {
        let text = fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Event::Ready) => return Ok(()),
            Ok(Event::Failed {
                step,
                command,
                error,
            }) => {
                return Err(BenchError::HowtoGuest(format!(
                    "its configuration step `{step}` failed: `{command}`: {error}"
                )))
            }
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(BenchError::HowtoGuest(format!(
                    "the guest exited during boot; its console said: {}",
                    tail()
                )))
            }
        }
        if let Some(child) = guest.child.as_mut() {
            if let Ok(Some(st)) = child.try_wait() {
                return Err(BenchError::HowtoGuest(format!(
                    "the guest exited during boot ({st}); its console said: {}",
                    tail()
                )));
            }
        }
        if Instant::now() >= deadline {
            return Err(BenchError::HowtoGuest(format!(
                "no `ready` from the guest's agent within {} s; its console said: {}",
                BOOT_TIMEOUT.as_secs(),
                tail()
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_the_howtos() {
        let args = howto_args(FsPath::new("/d"), FsPath::new("/img/minimal.img"), "u1");
        let line = args.join(" ");
        assert!(
            line.contains("vec0:transport=raw,ifname=p0,depth=128,gro=1"),
            "{line}"
        );
        assert!(line.contains("ubd0=/d/r1.cow,/img/minimal.img "), "{line}");
        assert!(line.contains(" root=/dev/ubda rw "), "{line}");
        assert!(
            line.ends_with("con=null con0=null,fd:2 con1=fd:0,fd:1"),
            "{line}"
        );
        // None of umlvnf's tuning or supervision is in it.
        for absent in ["mconsole", "hostfs", "cpus", "taskset", "depth=256"] {
            assert!(!line.contains(absent), "{absent} in {line}");
        }
        let cfg = router_config();
        assert_eq!(cfg.interfaces.len(), 2);
        assert_eq!(
            cfg.sysctls,
            vec![("net.ipv4.ip_forward".into(), "1".into())]
        );
    }

    #[test]
    fn only_an_old_debian_kernel_is_refused_and_only_with_amx() {
        let amx = HostCpu { amx: true };
        let plain = HostCpu { amx: false };
        assert_eq!(HowtoKernel::Appliance.refusal(amx), None);
        assert_eq!(HowtoKernel::Debian.refusal(plain), None);
        match KernelFacts::read(FsPath::new(DEBIAN_KERNEL)) {
            // Debian 12's 6.1 kernel sizes its FPU state statically.
            Ok(facts) if facts.version.is_some_and(|v| !v.at_least(6, 13)) => {
                let why = HowtoKernel::Debian.refusal(amx).expect("refused on AMX");
                assert!(why.contains("AMX") && why.contains(DEBIAN_KERNEL), "{why}");
            }
            Ok(_) => assert_eq!(HowtoKernel::Debian.refusal(amx), None),
            // Not installed: nothing is known against it; resolving it says what is missing.
            Err(_) => {
                assert_eq!(HowtoKernel::Debian.refusal(amx), None);
                let e = HowtoKernel::Debian
                    .resolve(FsPath::new("/nonexistent/umlvnf"), true)
                    .unwrap_err()
                    .to_string();
                assert!(e.contains("user-mode-linux"), "{e}");
            }
        }
    }
}
