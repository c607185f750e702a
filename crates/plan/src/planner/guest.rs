//! UML guests: the kernel command line (disks, memory, userspace, clock, one `vecN` device
//! per linked interface) checked against UML's limits, and what the agent applies at boot.

use std::path::{Path, PathBuf};

use umlvnf_topology::{Clock, Node, Userspace};

use super::{sysctls, Planner};
use crate::{
    is_option_value_safe, is_uml_safe, GuestInterface, GuestKernel, GuestPlan, GuestSetup,
    PlanError, MAX_COMMAND_LINE, MAX_GUEST_INTERFACES,
};

/// `value` as it may stand on guest `node`'s command line, or why it cannot.
fn safe(node: &str, what: &'static str, value: &Path) -> Result<String, PlanError> {
    let s = value.to_string_lossy().into_owned();
    if is_uml_safe(&s) {
        Ok(s)
    } else {
        Err(PlanError::UnsafeValue {
            node: node.to_string(),
            what,
            value: s,
        })
    }
}

/// Where a guest's files are.
struct GuestPaths {
    base_image: PathBuf,
    cow: PathBuf,
    config_drive: PathBuf,
    hostfs_dir: PathBuf,
    hostfs_shared: bool,
}

impl Planner<'_> {
    /// The plan of guest `name`, once every link has given its interfaces their options.
    pub(super) fn guest(&self, name: &str) -> Result<GuestPlan, PlanError> {
        let topo = self.topo;
        let node = &topo.nodes[name];
        let lab_dir = &self.plan.lab_dir;
        let image = topo.effective_image(name);
        let base_image =
            self.ctx
                .images
                .get(&image)
                .cloned()
                .ok_or_else(|| PlanError::MissingImage {
                    node: name.to_string(),
                    image: image.clone(),
                })?;
        let choice = topo.effective_kernel(name);
        let kernel = self
            .ctx
            .kernels
            .get(&choice)
            .ok_or_else(|| PlanError::MissingKernel {
                node: name.to_string(),
                kernel: choice.to_string(),
            })?;
        let (hostfs_dir, hostfs_shared) = match &node.hostfs {
            Some(dir) => (PathBuf::from(dir), true),
            None => (lab_dir.join("hostfs").join(name), false),
        };
        let paths = GuestPaths {
            base_image,
            cow: lab_dir.join("overlays").join(format!("{name}.cow")),
            config_drive: lab_dir.join("config").join(format!("{name}.img")),
            hostfs_dir,
            hostfs_shared,
        };
        let memory = topo.effective_memory(name).bytes;
        let mut argv = self.base_argv(name, kernel, &paths, memory)?;
        let interfaces = self.vector_devices(name, node, &mut argv)?;
        check_limits(name, &argv, &interfaces)?;
        let modules = modules(kernel, node, &interfaces);
        Ok(GuestPlan {
            node: name.to_string(),
            argv,
            base_image: paths.base_image,
            cow: paths.cow,
            config_drive: paths.config_drive,
            hostfs_dir: paths.hostfs_dir,
            hostfs_shared: paths.hostfs_shared,
            log: lab_dir.join("logs").join(format!("{name}.log")),
            console_log: lab_dir.join("logs").join(format!("{name}.console")),
            memory,
            cpus: node.cpus.clone(),
            restart: topo.effective_restart(name),
            capabilities: self.caps.get(name).cloned().unwrap_or_default(),
            setup: setup(node, modules, interfaces),
        })
    }

    /// The command line up to the network devices: kernel, disks, memory, consoles, hostfs,
    /// agent, `lpj=`, userspace, CPUs and clock.
    fn base_argv(
        &self,
        name: &str,
        kernel: &GuestKernel,
        paths: &GuestPaths,
        memory: u64,
    ) -> Result<Vec<String>, PlanError> {
        let topo = self.topo;
        let lab_dir = &self.plan.lab_dir;
        let uml_dir = lab_dir.join("uml");
        let notify = lab_dir.join("notify.sock");
        let mut argv = vec![
            kernel.path.display().to_string(),
            format!(
                "ubd0={},{}",
                safe(name, "overlay path", &paths.cow)?,
                safe(name, "image path", &paths.base_image)?
            ),
            format!(
                "ubd1={}",
                safe(name, "config drive path", &paths.config_drive)?
            ),
            "root=/dev/ubda".into(),
            "rw".into(),
            format!("mem={}M", memory >> 20),
            format!("umid={name}"),
            format!("uml_dir={}", safe(name, "state directory", &uml_dir)?),
            "con=null".into(),
            "con0=fd:0,fd:1".into(),
            "con1=fd:3".into(),
            "ssl=null".into(),
            format!("mconsole=notify:{}", safe(name, "notify socket", &notify)?),
            format!(
                "hostfs={}",
                safe(name, "hostfs directory", &paths.hostfs_dir)?
            ),
            "noreboot".into(),
            "init=/sbin/umlvnf-agent".into(),
        ];
        if let Some(lpj) = self.ctx.loops_per_jiffy {
            argv.push(format!("lpj={lpj}"));
        }
        if kernel.seccomp_userspace {
            // A virtual clock does not advance under the seccomp userspace: idle guests there
            // never wake (a `sleep` never returns), so time-travel guests run under ptrace.
            let virtual_clock = topo.effective_clock(name) == Clock::Virtual;
            let userspace =
                topo.effective_userspace(name)
                    .unwrap_or(if self.ctx.seccomp && !virtual_clock {
                        Userspace::Seccomp
                    } else {
                        Userspace::Ptrace
                    });
            argv.push(match userspace {
                Userspace::Seccomp => "seccomp=on".into(),
                Userspace::Ptrace => "seccomp=off".into(),
            });
        }
        let vcpus = topo.effective_vcpus(name);
        if vcpus > 1 {
            argv.push(format!("ncpus={vcpus}"));
        }
        if topo.effective_clock(name) == Clock::Virtual {
            argv.push("time-travel=inf-cpu".into());
        }
        Ok(argv)
    }

    /// Appends one `vecN:` device per linked interface of guest `name` (in interface name
    /// order) to `argv`, and returns the interfaces as the agent configures them.
    fn vector_devices(
        &self,
        name: &str,
        node: &Node,
        argv: &mut Vec<String>,
    ) -> Result<Vec<GuestInterface>, PlanError> {
        let mut interfaces = Vec::new();
        let linked = self
            .vec_opts
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, i), opts)| (i, opts));
        for (index, (iface, opts)) in linked.enumerate() {
            if opts.len() > 20 {
                return Err(PlanError::TooManyOptions {
                    node: name.to_string(),
                    interface: iface.clone(),
                    count: opts.len(),
                });
            }
            for (_, v) in opts {
                // Tunnel addresses are typed IP addresses (IPv6 ones contain `::`).
                if !is_option_value_safe(v) && v.parse::<std::net::IpAddr>().is_err() {
                    return Err(PlanError::UnsafeValue {
                        node: name.to_string(),
                        what: "vector option",
                        value: v.clone(),
                    });
                }
            }
            let rendered: Vec<String> = opts.iter().map(|(k, v)| format!("{k}={v}")).collect();
            argv.push(format!("vec{index}:{}", rendered.join(",")));
            let spec = node.interfaces.get(iface).cloned().unwrap_or_default();
            let opt = |key: &str| opts.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            interfaces.push(GuestInterface {
                device: format!("vec{index}"),
                transport: opt("transport").unwrap_or_default(),
                host_ifname: opt("ifname"),
                name: iface.clone(),
                mtu: spec.mtu,
                ipv4: spec.ipv4.iter().map(|a| a.to_string()).collect(),
                ipv6: spec.ipv6.iter().map(|a| a.to_string()).collect(),
                keepalive: self
                    .remote_ends
                    .contains(&(name.to_string(), iface.to_string())),
            });
        }
        Ok(interfaces)
    }
}

/// Refuses more vector interfaces than UML can open and a command line longer than it takes.
fn check_limits(
    name: &str,
    argv: &[String],
    interfaces: &[GuestInterface],
) -> Result<(), PlanError> {
    if interfaces.len() > MAX_GUEST_INTERFACES {
        return Err(PlanError::TooManyInterfaces {
            node: name.to_string(),
            count: interfaces.len(),
            max: MAX_GUEST_INTERFACES,
        });
    }
    // UML joins argv[1..] with spaces into its command line.
    let length = argv
        .iter()
        .skip(1)
        .map(|a| a.len() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    if length > MAX_COMMAND_LINE {
        return Err(PlanError::CommandLineTooLong {
            node: name.to_string(),
            length,
            max: MAX_COMMAND_LINE,
        });
    }
    Ok(())
}

/// The kernel modules the agent loads: only a modular kernel needs them.
fn modules(kernel: &GuestKernel, node: &Node, interfaces: &[GuestInterface]) -> Vec<String> {
    let mut modules = Vec::new();
    if kernel.modular
        && (interfaces.iter().any(|i| !i.ipv6.is_empty())
            || node.routes.iter().any(|r| r.v6)
            || node.ip6tables.is_some())
    {
        modules.push("ipv6".to_string());
    }
    if kernel.modular && node.nftables.is_some() {
        modules.push("nf_tables".to_string());
    }
    modules
}

/// What the agent applies at boot.
fn setup(node: &Node, modules: Vec<String>, interfaces: Vec<GuestInterface>) -> GuestSetup {
    GuestSetup {
        modules,
        interfaces,
        routes: node.routes.clone(),
        sysctls: sysctls(node),
        nftables: node.nftables.clone(),
        iptables: node.iptables.clone(),
        ip6tables: node.ip6tables.clone(),
        files: node
            .files
            .iter()
            .map(|f| {
                let mode = f
                    .mode
                    .as_deref()
                    .and_then(|m| u32::from_str_radix(m, 8).ok())
                    .unwrap_or(0o644);
                (PathBuf::from(&f.src), f.dst.clone(), mode)
            })
            .collect(),
        exec: node.exec.clone(),
    }
}
