//! What a UML kernel was built with, read from `linux --showconfig`, for the checks that
//! depend on it (such as the nftables families a ruleset needs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// `CONFIG_*` name → value.
pub type KernelConfig = HashMap<String, String>;

/// The `CONFIG_*` options a kernel binary reports, or `None` if it cannot tell. Asked once
/// per path and process.
pub fn kernel_config(kernel: &Path) -> Option<KernelConfig> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Option<KernelConfig>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    cache
        .entry(kernel.to_path_buf())
        .or_insert_with(|| read_config(kernel))
        .clone()
}

fn read_config(kernel: &Path) -> Option<KernelConfig> {
    let out = Command::new(kernel).arg("--showconfig").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let config: KernelConfig = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("CONFIG_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (!config.is_empty()).then_some(config)
}

/// The nftables families a ruleset declares tables in (`table NAME` alone means `ip`).
pub fn nftables_families(ruleset: &str) -> Vec<String> {
    const FAMILIES: [&str; 6] = ["ip", "ip6", "inet", "arp", "bridge", "netdev"];
    let mut out = Vec::new();
    let words: Vec<&str> = ruleset
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        if *w != "table" {
            continue;
        }
        let family = match words.get(i + 1) {
            Some(f) if FAMILIES.contains(f) => f.to_string(),
            _ => "ip".to_string(),
        };
        if !out.contains(&family) {
            out.push(family);
        }
    }
    out
}

/// The kernel option each nftables family needs.
pub fn nftables_family_option(family: &str) -> &'static str {
    match family {
        "ip" => "CONFIG_NF_TABLES_IPV4",
        "ip6" => "CONFIG_NF_TABLES_IPV6",
        "inet" => "CONFIG_NF_TABLES_INET",
        "arp" => "CONFIG_NF_TABLES_ARP",
        "bridge" => "CONFIG_NF_TABLES_BRIDGE",
        _ => "CONFIG_NF_TABLES_NETDEV",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_found() {
        assert_eq!(
            nftables_families("table ip filter { }\ntable bridge b { }\ntable t { }"),
            vec!["ip", "bridge"]
        );
        assert_eq!(nftables_families("table inet x {}"), vec!["inet"]);
        assert!(nftables_families("# nothing").is_empty());
    }
}
