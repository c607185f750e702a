//! Creating and removing the host objects of a plan, recording each in the lab state as it is
//! made, so that a failed deploy or a later `down` removes exactly what the lab owns.

use std::collections::BTreeMap;
use std::path::Path;

use umlvnf_host::{netns_add, netns_del, netns_exists, netns_list, sysctl_set, Rtnl};

use crate::plan::{naming, HostNodePlan, HostStep, Plan};
use crate::state::{LabState, Owned};

use super::RuntimeError;

/// Netlink sockets by namespace (`None` = root), opened on first use.
#[derive(Default)]
pub struct Sockets {
    root: Option<Rtnl>,
    by_netns: BTreeMap<String, Rtnl>,
}

impl Sockets {
    /// The socket for a namespace.
    pub fn get(&mut self, netns: Option<&str>) -> Result<&Rtnl, RuntimeError> {
        match netns {
            None => {
                if self.root.is_none() {
                    self.root = Some(Rtnl::root().map_err(RuntimeError::host("netlink"))?);
                }
                Ok(self.root.as_ref().expect("set above"))
            }
            Some(ns) => {
                if !self.by_netns.contains_key(ns) {
                    let s = Rtnl::in_netns(ns).map_err(RuntimeError::host("netlink"))?;
                    self.by_netns.insert(ns.to_string(), s);
                }
                Ok(&self.by_netns[ns])
            }
        }
    }
}

/// Checks, before anything is created, that no object the plan would create exists already.
pub fn preflight(plan: &Plan, socks: &mut Sockets) -> Result<(), RuntimeError> {
    let root = socks.get(None)?;
    let mut taken = Vec::new();
    for step in &plan.host_steps {
        match step {
            HostStep::Netns { name } if netns_exists(name) => {
                taken.push(format!("network namespace `{name}`"))
            }
            HostStep::Veth { name, peer } => {
                for n in [name, peer] {
                    if root.link_exists(n).map_err(RuntimeError::host("netlink"))? {
                        taken.push(format!("interface `{n}`"));
                    }
                }
            }
            HostStep::Tap { name }
                if root
                    .link_exists(name)
                    .map_err(RuntimeError::host("netlink"))? =>
            {
                taken.push(format!("interface `{name}`"))
            }
            HostStep::Bridge { name }
                if root
                    .link_exists(name)
                    .map_err(RuntimeError::host("netlink"))? =>
            {
                check_existing_bridge(plan, name)?
            }
            _ => {}
        }
    }
    if taken.is_empty() {
        Ok(())
    } else {
        Err(RuntimeError::Conflict(format!(
            "{} already exist{} on this host; remove {} or rename the endpoints (an earlier lab of the same name may still be up: `umlvnf down --lab {}`)",
            taken.join(", "),
            if taken.len() == 1 { "s" } else { "" },
            if taken.len() == 1 { "it" } else { "them" },
            plan.lab
        )))
    }
}

/// A bridge that exists already is joined only if it is a bridge and the topology allows
/// reaching host interfaces.
fn check_existing_bridge(plan: &Plan, name: &str) -> Result<(), RuntimeError> {
    if !Path::new("/sys/class/net")
        .join(name)
        .join("bridge")
        .is_dir()
    {
        return Err(RuntimeError::Conflict(format!(
            "`bridge: {name}` names an existing host interface that is not a bridge: name a bridge, or a name that does not exist (the lab then creates and owns it)"
        )));
    }
    if !plan.host_access.iter().any(|a| a == "host_interfaces") {
        return Err(RuntimeError::Conflict(format!(
            "`bridge: {name}` names a bridge that exists on this host, and joining it connects the lab to whatever else is on it: allow it with `host_access: {{host_interfaces: true}}`, or name a bridge the lab creates"
        )));
    }
    Ok(())
}

/// Executes the plan's host steps in order, recording owned objects in `state`.
pub fn create(
    plan: &Plan,
    state: &mut LabState,
    lab_dir: &Path,
    socks: &mut Sockets,
) -> Result<(), RuntimeError> {
    let owner = plan.owner.as_str();
    for step in &plan.host_steps {
        let owned = |s: &LabState| {
            (
                s.owned.netns.len(),
                s.owned.interfaces.len(),
                s.owned.bridges.len(),
            )
        };
        let owned_before = owned(state);
        match step {
            HostStep::Netns { name } => {
                netns_add(name).map_err(RuntimeError::host("namespace"))?;
                state.owned.netns.push(name.clone());
            }
            HostStep::Veth { name, peer } => {
                socks
                    .get(None)?
                    .veth_add(name, peer, Some(owner))
                    .map_err(RuntimeError::host("veth"))?;
                state.owned.interfaces.push(name.clone());
                state.owned.interfaces.push(peer.clone());
            }
            HostStep::Tap { name } => {
                umlvnf_host::tap_add_persistent(name, Some(owner))
                    .map_err(RuntimeError::host("tap"))?;
                state.owned.interfaces.push(name.clone());
            }
            HostStep::Bridge { name } => {
                let root = socks.get(None)?;
                if !root
                    .link_exists(name)
                    .map_err(RuntimeError::host("bridge"))?
                {
                    root.bridge_add(name, Some(owner))
                        .map_err(RuntimeError::host("bridge"))?;
                    state.owned.bridges.push(name.clone());
                }
            }
            HostStep::Move {
                name,
                netns,
                new_name,
            } => socks
                .get(None)?
                .link_move_to_netns(name, netns, Some(new_name))
                .map_err(RuntimeError::host("move"))?,
            HostStep::Mtu { netns, name, mtu } => socks
                .get(netns.as_deref())?
                .link_set_mtu(name, *mtu)
                .map_err(RuntimeError::host("mtu"))?,
            HostStep::Mac { netns, name, mac } => {
                let parsed: umlvnf_topology::MacAddr = mac
                    .parse()
                    .map_err(|e| RuntimeError::HostNode(format!("{e}")))?;
                socks
                    .get(netns.as_deref())?
                    .link_set_mac(name, parsed.0)
                    .map_err(RuntimeError::host("mac"))?
            }
            HostStep::Master { name, bridge } => socks
                .get(None)?
                .link_set_master(name, bridge)
                .map_err(RuntimeError::host("bridge port"))?,
            HostStep::NoOffload { netns, name } => {
                umlvnf_host::offloads_off(netns.as_deref(), name)
                    .map_err(RuntimeError::host("offloads"))?
            }
            HostStep::Up { netns, name } => socks
                .get(netns.as_deref())?
                .link_set_up(name)
                .map_err(RuntimeError::host("link up"))?,
            HostStep::SteerRx { netns, name, avoid } => {
                let cpus: Vec<usize> = umlvnf_host::allowed_cpus()
                    .into_iter()
                    .filter(|c| !avoid.iter().any(|&a| a as usize == *c))
                    .collect();
                // A tuning, not a condition of the lab working: a host whose sysfs refuses
                // it (read-only /sys, no RPS in the kernel) still deploys, with a warning.
                if !cpus.is_empty() {
                    if let Err(e) = umlvnf_host::rps_set(netns.as_deref(), name, &cpus) {
                        eprintln!(
                            "warning: {e}; the pinned guest's CPU also processes what it sends"
                        );
                    }
                }
            }
        }
        // What the lab owns is on disk before the next step, so that a runtime killed
        // meanwhile leaves nothing `down` cannot find; steps that own nothing new need no save.
        if owned(state) != owned_before {
            state
                .save(lab_dir)
                .map_err(RuntimeError::io("saving the lab state"))?;
        }
    }
    Ok(())
}

/// Applies addresses, routes and sysctls of a host node inside its namespace.
pub fn configure_host_node(h: &HostNodePlan, socks: &mut Sockets) -> Result<(), RuntimeError> {
    let s = socks.get(Some(&h.netns))?;
    s.link_set_up("lo")
        .map_err(RuntimeError::host("loopback"))?;
    for (ifname, addr) in &h.addresses {
        let net = addr
            .parse()
            .map_err(|_| RuntimeError::HostNode(format!("address `{addr}` is not a prefix")))?;
        s.addr_add(ifname, net)
            .map_err(RuntimeError::host("address"))?;
    }
    for (k, v) in &h.sysctls {
        sysctl_set(Some(&h.netns), k, v).map_err(RuntimeError::host("sysctl"))?;
    }
    for r in &h.routes {
        s.route_add(r.dst, r.via, r.dev.as_deref(), r.metric)
            .map_err(|e| RuntimeError::HostNode(format!("node `{}`: route `{r}`: {e}", h.node)))?;
    }
    Ok(())
}

/// Removes everything recorded in `owned`, plus anything carrying the lab's owner mark or
/// namespace prefix (objects made just before a crash may be missing from the record).
/// Returns what could not be removed.
pub fn remove(lab: &str, owned: &Owned) -> Vec<String> {
    let mut problems = Vec::new();
    let alias = naming::owner_alias(lab);
    match Rtnl::root() {
        Ok(root) => {
            let mut names: Vec<String> = owned.interfaces.clone();
            if let Ok(marked) = root.links_with_alias(&alias) {
                names.extend(marked);
            }
            names.extend(owned.bridges.iter().cloned());
            for name in names {
                if root.link_exists(&name).unwrap_or(false) {
                    if let Err(e) = root.link_del(&name) {
                        // The peer of a veth already deleted is gone with it.
                        if root.link_exists(&name).unwrap_or(false) {
                            problems.push(format!("interface {name}: {e}"));
                        }
                    }
                }
            }
        }
        Err(e) => problems.push(format!("netlink: {e}")),
    }
    let prefix = naming::netns_prefix(lab);
    let mut spaces = owned.netns.clone();
    if let Ok(all) = netns_list() {
        spaces.extend(all.into_iter().filter(|n| n.starts_with(&prefix)));
    }
    spaces.sort();
    spaces.dedup();
    for ns in spaces {
        if netns_exists(&ns) {
            kill_processes_in(&ns, &mut problems);
            if let Err(e) = netns_del(&ns) {
                problems.push(format!("namespace {ns}: {e}"));
            }
        }
    }
    problems
}

/// Kills every process living in a lab namespace (commands started with `exec` on a host node
/// that are still running), so that nothing of the lab outlives it.
fn kill_processes_in(netns: &str, problems: &mut Vec<String>) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(format!("/run/netns/{netns}")) else {
        return;
    };
    let target = format!("net:[{}]", meta.ino());
    for p in umlvnf_host::processes() {
        let pid = p.pid;
        if p.net_namespace().is_some_and(|ns| ns == target) {
            if let Err(err) = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            ) {
                problems.push(format!("process {pid} in {netns}: {err}"));
            }
        }
    }
}
