//! Applying a [`GuestConfig`] in order, stopping at the first failing step: links and
//! addresses through rtnetlink (failures are reported as the equivalent `ip` command), the
//! rest with the guest's own tools (`modprobe`, `ip route`, `nft`, `iptables-legacy-restore`,
//! `sh`).

use std::fs;
use std::io;
use std::path::Path;

use super::files::write_file;
use super::step::{args, failure, run, StepFailure};
use super::supervisor::Supervisor;
use super::xtables;
use crate::config::{GuestConfig, InterfaceConfig};
use umlvnf_host::Rtnl;

/// Where the nftables ruleset is written before `nft -f` loads it.
pub const NFTABLES_PATH: &str = "/etc/umlvnf/nftables.nft";

/// Sets the kernel hostname.
pub fn set_hostname(name: &str) -> io::Result<()> {
    if name.is_empty() || name.len() > 64 || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the hostname {name:?} is not valid; give 1 to 64 bytes without NUL"),
        ));
    }
    // SAFETY: the pointer and length describe `name`'s bytes, which outlive the call.
    let r = unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Applies `cfg` (all steps after the hostname) in order; returns the first failure.
pub fn apply(sup: &mut Supervisor, cfg: &GuestConfig) -> Result<(), StepFailure> {
    for m in &cfg.modules {
        run(sup, "modules", &args(&["modprobe", m]))?;
    }
    netlink(
        "loopback",
        || "ip link set dev lo up".into(),
        open_rtnl("loopback")?.link_set_up("lo"),
    )?;
    interfaces(&cfg.interfaces)?;
    for (key, value) in &cfg.sysctls {
        write_sysctl(key, value)
            .map_err(|e| failure("sysctls", format!("sysctl {key}={value}"), e.to_string()))?;
    }
    for f in &cfg.files {
        write_file(&f.path, f.mode, &f.data)
            .map_err(|e| failure("files", format!("write {}", f.path), e.to_string()))?;
    }
    if let Some(rules) = &cfg.nftables {
        write_file(NFTABLES_PATH, 0o600, rules.as_bytes())
            .map_err(|e| failure("nftables", format!("write {NFTABLES_PATH}"), e.to_string()))?;
        run(sup, "nftables", &args(&["nft", "-f", NFTABLES_PATH]))?;
    }
    if let Some(rules) = &cfg.iptables {
        xtables::load(sup, &xtables::IPV4, rules)?;
    }
    if let Some(rules) = &cfg.ip6tables {
        xtables::load(sup, &xtables::IPV6, rules)?;
    }
    for r in &cfg.routes {
        let mut argv = args(&["ip"]);
        if r.v6 {
            argv.push("-6".into());
        }
        argv.extend(args(&["route", "add"]));
        argv.extend(r.route.split_whitespace().map(String::from));
        run(sup, "routes", &argv)?;
    }
    for cmd in &cfg.exec {
        run(sup, "exec", &args(&["sh", "-c", cmd]))?;
    }
    Ok(())
}

/// Runs one rtnetlink change; a failure is reported as the `ip` command that does the same.
fn netlink(
    step: &str,
    command: impl FnOnce() -> String,
    result: umlvnf_host::Result<()>,
) -> Result<(), StepFailure> {
    result.map_err(|e| failure(step, command(), e.to_string()))
}

fn open_rtnl(step: &str) -> Result<Rtnl, StepFailure> {
    Rtnl::root().map_err(|e| failure(step, "open an rtnetlink socket", e.to_string()))
}

fn interfaces(ifaces: &[InterfaceConfig]) -> Result<(), StepFailure> {
    let step = "interfaces";
    let nl = open_rtnl(step)?;
    let rename = |from: &str, to: &str| {
        netlink(
            step,
            || format!("ip link set dev {from} name {to}"),
            nl.link_rename(from, to),
        )
    };
    let renames: Vec<&InterfaceConfig> = ifaces.iter().filter(|i| i.device != i.name).collect();
    // A target name may be taken by another device still to be renamed (eth0 -> eth1 while
    // vec1 -> eth0...): move every device to a temporary name first in that case.
    let clash = renames
        .iter()
        .any(|i| Path::new("/sys/class/net").join(&i.name).exists());
    if clash {
        for (n, i) in renames.iter().enumerate() {
            rename(&i.device, &format!("umlvnftmp{n}"))?;
        }
        for (n, i) in renames.iter().enumerate() {
            rename(&format!("umlvnftmp{n}"), &i.name)?;
        }
    } else {
        for i in &renames {
            rename(&i.device, &i.name)?;
        }
    }
    for i in ifaces {
        let name = i.name.as_str();
        if let Some(mtu) = i.mtu {
            netlink(
                step,
                || format!("ip link set dev {name} mtu {mtu}"),
                nl.link_set_mtu(name, mtu),
            )?;
        }
        if !i.ipv6.is_empty() {
            // Lab addresses are unique by construction: skip duplicate address detection so
            // that they (and routes through them) are usable at once.
            let dad = format!("/proc/sys/net/ipv6/conf/{name}/accept_dad");
            if Path::new(&dad).exists() {
                fs::write(&dad, "0").map_err(|e| {
                    failure(
                        step,
                        format!("sysctl net.ipv6.conf.{name}.accept_dad=0"),
                        e.to_string(),
                    )
                })?;
            }
        }
        for (a, family) in i
            .ipv4
            .iter()
            .map(|a| (a, ""))
            .chain(i.ipv6.iter().map(|a| (a, "-6 ")))
        {
            let command = || format!("ip {family}addr add {a} dev {name}");
            let net = a.parse::<ipnet::IpNet>().map_err(|e| {
                failure(step, command(), format!("`{a}` is not ADDRESS/PREFIX: {e}"))
            })?;
            netlink(step, command, nl.addr_add(name, net))?;
        }
        netlink(
            step,
            || format!("ip link set dev {name} up"),
            nl.link_set_up(name),
        )?;
    }
    Ok(())
}

/// Writes `value` to `/proc/sys/` + the key with dots turned into slashes (a key containing
/// `/` is taken as a path below `/proc/sys` as is).
pub fn write_sysctl(key: &str, value: &str) -> io::Result<()> {
    let rel = if key.contains('/') {
        key.trim_start_matches('/').to_string()
    } else {
        key.replace('.', "/")
    };
    if rel.is_empty() || rel.split('/').any(|c| c.is_empty() || c == "..") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the sysctl key {key:?} is not valid; give a name like net.ipv4.ip_forward"),
        ));
    }
    fs::write(Path::new("/proc/sys").join(rel), value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_keys_are_checked() {
        assert!(write_sysctl("net..x", "1").is_err());
        assert!(write_sysctl("../../etc/passwd", "1").is_err());
    }
}
