//! Receive packet steering (RPS): which CPUs process the frames an interface receives, set
//! through `/sys/class/net/IF/queues/rx-0/rps_cpus` of the interface's own namespace.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::error::{HostError, Result};
use crate::names::check_ifname;
use crate::netns::run_in_opt_netns;

/// The sysfs mask text for `cpus`: hexadecimal, in comma-separated 32-bit groups, highest
/// group first (`"2"` for CPU 1, `"1,00000000"` for CPU 32).
pub fn cpu_mask_text(cpus: &[usize]) -> String {
    let groups = cpus.iter().map(|c| c / 32 + 1).max().unwrap_or(1);
    let mut words = vec![0u32; groups];
    for &c in cpus {
        words[c / 32] |= 1 << (c % 32);
    }
    let mut parts: Vec<String> = Vec::with_capacity(groups);
    for (i, w) in words.iter().enumerate().rev() {
        if i == groups - 1 {
            parts.push(format!("{w:x}"));
        } else {
            parts.push(format!("{w:08x}"));
        }
    }
    parts.join(",")
}

/// Parses a sysfs CPU mask (`"3"`, `"1,00000000"`) into CPU numbers.
pub fn parse_cpu_mask(text: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    let groups: Vec<&str> = text.trim().split(',').collect();
    for (i, g) in groups.iter().rev().enumerate() {
        let w = u32::from_str_radix(g, 16).ok()?;
        cpus.extend((0..32).filter(|b| w & (1 << b) != 0).map(|b| i * 32 + b));
    }
    Some(cpus)
}

/// Runs `f` with the sysfs root showing the interfaces of `netns` (`None`: the caller's own
/// `/sys`). For a namespace, a thread enters it, takes a private mount namespace and mounts
/// a fresh sysfs over `/sys` there (sysfs shows the namespace of whoever mounted it); both
/// go away with the thread.
fn with_sysfs<T: Send>(
    netns: Option<&str>,
    f: impl FnOnce(&Path) -> Result<T> + Send,
) -> Result<T> {
    let inside = netns.is_some();
    run_in_opt_netns(netns, move || {
        if inside {
            unshare(CloneFlags::CLONE_NEWNS).map_err(|e| {
                HostError::errno("take a private mount namespace for sysfs", e as i32)
            })?;
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_SLAVE,
                None::<&str>,
            )
            .map_err(|e| HostError::errno("make the private mounts slaves", e as i32))?;
            mount(
                Some("sysfs"),
                "/sys",
                Some("sysfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .map_err(|e| HostError::errno("mount sysfs for the namespace", e as i32))?;
        }
        f(Path::new("/sys"))
    })
}

fn rps_path(sys: &Path, ifname: &str) -> PathBuf {
    sys.join("class/net")
        .join(ifname)
        .join("queues/rx-0/rps_cpus")
}

fn place(netns: Option<&str>) -> String {
    netns.map_or_else(
        || "the host namespace".to_string(),
        |n| format!("network namespace `{n}`"),
    )
}

/// Steers what interface `ifname` (in `netns`, or the caller's namespace) receives to
/// `cpus` (an empty list turns steering off: frames are processed where they arrive).
pub fn rps_set(netns: Option<&str>, ifname: &str, cpus: &[usize]) -> Result<()> {
    check_ifname(ifname)?;
    let mask = cpu_mask_text(cpus);
    let where_ = place(netns);
    with_sysfs(netns, |sys| {
        let path = rps_path(sys, ifname);
        fs::write(&path, &mask).map_err(|e| {
            HostError::os(
                format!(
                    "steer the receive processing of `{ifname}` in {where_} to CPUs {cpus:?} \
                     (writing {mask} to {})",
                    path.display()
                ),
                e,
            )
        })
    })
}

/// The CPUs that process what `ifname` receives (empty: no steering).
pub fn rps_get(netns: Option<&str>, ifname: &str) -> Result<Vec<usize>> {
    check_ifname(ifname)?;
    let where_ = place(netns);
    with_sysfs(netns, |sys| {
        let path = rps_path(sys, ifname);
        let text = fs::read_to_string(&path).map_err(|e| {
            HostError::os(
                format!("read the receive steering of `{ifname}` in {where_}"),
                e,
            )
        })?;
        parse_cpu_mask(&text).ok_or_else(|| {
            HostError::os(
                format!("read the receive steering of `{ifname}` in {where_}"),
                std::io::Error::other(format!("{} holds `{}`", path.display(), text.trim())),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_round_trip() {
        assert_eq!(cpu_mask_text(&[]), "0");
        assert_eq!(cpu_mask_text(&[1]), "2");
        assert_eq!(cpu_mask_text(&[0, 1, 2, 3]), "f");
        assert_eq!(cpu_mask_text(&[32]), "1,00000000");
        assert_eq!(cpu_mask_text(&[0, 33]), "2,00000001");
        for cpus in [vec![], vec![1], vec![0, 5, 31], vec![0, 33, 64]] {
            assert_eq!(parse_cpu_mask(&cpu_mask_text(&cpus)), Some(cpus));
        }
        assert_eq!(parse_cpu_mask("00000000,00000003\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_mask("xyz"), None);
    }
}
