//! Sysctls of the host or of a named network namespace.

use std::fs;
use std::path::PathBuf;

use crate::error::{HostError, Result};
use crate::names::check_sysctl_key;
use crate::netns::run_in_opt_netns;

fn sysctl_path(key: &str) -> Result<PathBuf> {
    check_sysctl_key(key)?;
    Ok(PathBuf::from("/proc/sys").join(key.replace('.', "/")))
}

/// Writes `value` to sysctl `key` (e.g. `net.ipv4.ip_forward`), in named network namespace
/// `netns` if given (from a thread that joined it), else in the caller's. Keys must match
/// `^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$` (interface names containing dots cannot be
/// addressed).
pub fn sysctl_set(netns: Option<&str>, key: &str, value: &str) -> Result<()> {
    let path = sysctl_path(key)?;
    if value.contains('\n') || value.contains('\0') {
        return Err(HostError::InvalidSysctlValue {
            key: key.to_string(),
        });
    }
    let place = netns.map_or_else(
        || "the host namespace".to_string(),
        |n| format!("network namespace `{n}`"),
    );
    run_in_opt_netns(netns, || {
        fs::write(&path, value)
            .map_err(|e| HostError::os(format!("set sysctl `{key}` to `{value}` in {place}"), e))
    })
}

/// Reads sysctl `key`, in named network namespace `netns` if given, with surrounding
/// whitespace trimmed.
pub fn sysctl_get(netns: Option<&str>, key: &str) -> Result<String> {
    let path = sysctl_path(key)?;
    let place = netns.map_or_else(
        || "the host namespace".to_string(),
        |n| format!("network namespace `{n}`"),
    );
    run_in_opt_netns(netns, || {
        fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|e| HostError::os(format!("read sysctl `{key}` in {place}"), e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert!(sysctl_path("net..x").is_err());
        assert!(sysctl_set(None, "../etc/passwd", "x").is_err());
    }
}
