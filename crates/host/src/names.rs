//! Checks of names and keys before they reach the kernel or the file system.

use crate::error::{HostError, Result};

/// Longest interface alias the kernel accepts (`IFALIASZ - 1`).
pub const ALIAS_MAX: usize = 255;

/// Longest network namespace name this crate accepts.
pub const NETNS_NAME_MAX: usize = 64;

/// Checks an interface name by the one rule of [`umlvnf_names`] (stricter than the kernel's
/// `dev_valid_name`, and the same as topology validation).
pub fn check_ifname(name: &str) -> Result<()> {
    match umlvnf_names::ifname_problem(name) {
        None => Ok(()),
        Some(reason) => Err(HostError::InvalidInterfaceName {
            name: name.to_string(),
            reason,
        }),
    }
}

/// Checks an interface alias (`IFLA_IFALIAS`).
pub fn check_alias(alias: &str) -> Result<()> {
    if alias.len() > ALIAS_MAX || alias.contains('\0') {
        return Err(HostError::InvalidAlias {
            alias: alias.to_string(),
        });
    }
    Ok(())
}

/// Checks a network namespace name (it becomes a file name under `/run/netns`).
pub fn check_netns_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= NETNS_NAME_MAX
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(HostError::InvalidNetnsName {
            name: name.to_string(),
        })
    }
}

/// Checks a sysctl key against `^[A-Za-z0-9_.-]+$` with non-empty dot-separated parts (so
/// no `..`, no leading or trailing dot).
pub fn check_sysctl_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(HostError::InvalidSysctlKey {
            key: key.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifnames() {
        assert!(check_ifname("eth0").is_ok());
        assert!(check_ifname("vnab12l0a-x.y_z").is_ok());
        assert!(check_ifname("").is_err());
        assert!(check_ifname("0123456789abcdef").is_err());
        assert!(check_ifname("a/b").is_err());
        assert!(check_ifname("a:b").is_err());
        assert!(check_ifname("a b").is_err());
        assert!(check_ifname("..").is_err());
        let msg = check_ifname("a b").unwrap_err().to_string();
        assert!(
            msg.contains("`a b`") && msg.contains("1 to 15 bytes"),
            "{msg}"
        );
    }

    #[test]
    fn netns_names() {
        assert!(check_netns_name("umlvnf-lab1-r1").is_ok());
        assert!(check_netns_name("a.b_c").is_ok());
        assert!(check_netns_name("").is_err());
        assert!(check_netns_name("..").is_err());
        assert!(check_netns_name("a/b").is_err());
        assert!(check_netns_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn sysctl_keys() {
        assert!(check_sysctl_key("net.ipv4.ip_forward").is_ok());
        assert!(check_sysctl_key("net.ipv6.conf.eth-0.forwarding").is_ok());
        assert!(check_sysctl_key("net..ipv4").is_err());
        assert!(check_sysctl_key(".net").is_err());
        assert!(check_sysctl_key("net.").is_err());
        assert!(check_sysctl_key("net/ipv4").is_err());
        assert!(check_sysctl_key("").is_err());
    }

    #[test]
    fn aliases() {
        assert!(check_alias("umlvnf:lab").is_ok());
        assert!(check_alias("").is_ok());
        assert!(check_alias(&"a".repeat(256)).is_err());
        assert!(check_alias("a\0b").is_err());
    }
}
