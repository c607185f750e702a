//! What a node's kernel was built with, for the checks that depend on it (such as the
//! nftables families a ruleset needs). Kernel binaries are read, never run: checking a
//! topology must not execute a program it names.

use std::path::Path;

pub use umlvnf_kernel::{KernelConfig, KernelError, KernelFacts};

use crate::defaults::KernelChoice;

/// What `choice` is known to support: the appliance kernel's flavour config, or the facts read
/// from a kernel binary (`Err` with the reason when the file is not a readable UML kernel).
pub fn kernel_facts(choice: &KernelChoice) -> Result<KernelFacts, KernelError> {
    match choice {
        KernelChoice::Appliance(flavour) => Ok(KernelFacts {
            path: format!("appliance-{flavour}").into(),
            version: None,
            config: flavour.config(),
        }),
        KernelChoice::File(path) => KernelFacts::read(Path::new(path)),
    }
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
