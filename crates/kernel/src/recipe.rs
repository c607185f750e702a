//! The appliance kernel's recipe: config fragments and patches from the repository's
//! `kernel/` directory, compiled in so that an installed `umlvnf` knows what it builds.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::facts::{parse_config_lines, KernelConfig};

/// The oldest kernel series the appliance kernel is built from: SMP and seccomp userspace
/// are both there from 6.19 on.
pub const MIN_SOURCE_SERIES: (u32, u32) = (6, 19);

/// The config merged onto `ARCH=um x86_64_defconfig` for every flavour.
pub const BASE_CONFIG: &str = include_str!("../../../kernel/umlvnf.config");

/// The config merged after [`BASE_CONFIG`] for the time-travel flavour.
pub const TIME_TRAVEL_CONFIG: &str = include_str!("../../../kernel/time-travel.config");

/// The project's own kernel patches, applied in this order with `patch -p1`.
pub const PATCHES: &[(&str, &str)] = &[
    (
        "0001-vector-tap-without-queues.patch",
        include_str!("../../../kernel/patches/0001-vector-tap-without-queues.patch"),
    ),
    (
        "0002-one-cpu-no-ipi-masking.patch",
        include_str!("../../../kernel/patches/0002-one-cpu-no-ipi-masking.patch"),
    ),
    (
        "0003-vector-send-forwarded-frames-per-poll.patch",
        include_str!("../../../kernel/patches/0003-vector-send-forwarded-frames-per-poll.patch"),
    ),
    (
        "0004-vector-no-sigio-while-polling.patch",
        include_str!("../../../kernel/patches/0004-vector-no-sigio-while-polling.patch"),
    ),
    (
        "0005-vector-raw-tx-socket-receives-nothing.patch",
        include_str!("../../../kernel/patches/0005-vector-raw-tx-socket-receives-nothing.patch"),
    ),
];

/// A build of the appliance kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flavour {
    /// SMP (up to 8 vCPUs), seccomp or ptrace userspace, real clock. The default.
    Smp,
    /// One CPU with time-travel support: a node's clock can jump over idle time.
    TimeTravel,
}

impl Flavour {
    /// Every flavour, in build order.
    pub const ALL: [Flavour; 2] = [Flavour::Smp, Flavour::TimeTravel];

    /// The name used in directories, messages and `--flavour`.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Smp => "smp",
            Flavour::TimeTravel => "time-travel",
        }
    }

    /// The config fragments merged for this flavour, in order, as (file name, text).
    pub fn fragments(self) -> Vec<(&'static str, &'static str)> {
        let mut out = vec![("umlvnf.config", BASE_CONFIG)];
        if self == Flavour::TimeTravel {
            out.push(("time-travel.config", TIME_TRAVEL_CONFIG));
        }
        out
    }

    /// The options this flavour's fragments set, later fragments winning. Every one of them
    /// is checked to hold in the built kernel's `.config`, so this is what the kernel has.
    pub fn config(self) -> KernelConfig {
        let mut config = KernelConfig::new();
        for (_, text) in self.fragments() {
            config.extend(parse_config_lines(text));
        }
        config
    }

    /// Hash (hex) of everything that decides this flavour's binary but the source: fragments
    /// and patches. A build is named by this and the source version.
    pub fn recipe_hash(self) -> String {
        let mut h = Sha256::new();
        h.update(b"umlvnf-kernel-recipe-v1\0");
        h.update(self.name().as_bytes());
        for (name, text) in self.fragments() {
            h.update([0]);
            h.update(name.as_bytes());
            h.update([0]);
            h.update(text.as_bytes());
        }
        for (name, text) in PATCHES {
            h.update([1]);
            h.update(name.as_bytes());
            h.update([0]);
            h.update(text.as_bytes());
        }
        let digest = h.finalize();
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flavour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Flavour::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown kernel flavour `{s}`: use `smp` or `time-travel`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_patch_file_is_listed_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kernel/patches");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".patch"))
            .collect();
        files.sort();
        let listed: Vec<&str> = PATCHES.iter().map(|(n, _)| *n).collect();
        assert_eq!(files, listed);
    }

    #[test]
    fn flavours_differ_in_what_they_must() {
        let smp = Flavour::Smp.config();
        let tt = Flavour::TimeTravel.config();
        assert_eq!(smp.get("CONFIG_SMP").map(String::as_str), Some("y"));
        assert_eq!(smp.get("CONFIG_MODULES").map(String::as_str), Some("n"));
        assert_eq!(tt.get("CONFIG_SMP").map(String::as_str), Some("n"));
        assert_eq!(
            tt.get("CONFIG_UML_TIME_TRAVEL_SUPPORT").map(String::as_str),
            Some("y")
        );
        for family in ["IPV4", "IPV6", "INET", "ARP", "BRIDGE", "NETDEV"] {
            let key = format!("CONFIG_NF_TABLES_{family}");
            assert_eq!(smp.get(&key).map(String::as_str), Some("y"), "{key}");
        }
        assert_ne!(
            Flavour::Smp.recipe_hash(),
            Flavour::TimeTravel.recipe_hash()
        );
        assert_eq!(Flavour::Smp.recipe_hash().len(), 16);
    }

    #[test]
    fn flavour_names_round_trip() {
        for f in Flavour::ALL {
            assert_eq!(f.name().parse::<Flavour>(), Ok(f));
        }
        assert!("big".parse::<Flavour>().unwrap_err().contains("smp"));
    }
}
