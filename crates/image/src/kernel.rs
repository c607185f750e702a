//! The UML kernel: its version and the network modules copied into images.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::fingerprint::Fingerprint;
use crate::tools;
use crate::tree::RootTree;
use crate::ImageError;

/// Where Debian's `user-mode-linux` package installs the modules of each kernel version.
pub const UML_MODULES_ROOT: &str = "/usr/lib/uml/modules";

/// Module subtrees (relative to the version directory) copied into every image,
/// plus everything they depend on.
const MODULE_PREFIXES: &[&str] = &[
    "kernel/net/802/",
    "kernel/net/8021q/",
    "kernel/net/bridge/",
    "kernel/net/core/",
    "kernel/net/ife/",
    "kernel/net/ipv4/",
    "kernel/net/ipv6/",
    "kernel/net/key/",
    "kernel/net/l2tp/",
    "kernel/net/llc/",
    "kernel/net/mpls/",
    "kernel/net/netfilter/",
    "kernel/net/netlink/",
    "kernel/net/nsh/",
    "kernel/net/packet/",
    "kernel/net/psample/",
    "kernel/net/sched/",
    "kernel/net/xfrm/",
    "kernel/drivers/net/bonding/",
    "kernel/drivers/net/dummy.ko",
    "kernel/drivers/net/geneve.ko",
    "kernel/drivers/net/ifb.ko",
    "kernel/drivers/net/ipvlan/",
    "kernel/drivers/net/macvlan.ko",
    "kernel/drivers/net/macvtap.ko",
    "kernel/drivers/net/tap.ko",
    "kernel/drivers/net/team/",
    "kernel/drivers/net/tun.ko",
    "kernel/drivers/net/veth.ko",
    "kernel/drivers/net/vrf.ko",
    "kernel/drivers/net/vxlan/",
];

/// `modules.*` files copied as they are (depmod regenerates the others).
const MODULE_META_FILES: &[&str] = &[
    "modules.builtin",
    "modules.builtin.modinfo",
    "modules.order",
];

/// A UML kernel binary with its version and module directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelInfo {
    /// The kernel binary.
    pub binary: PathBuf,
    /// The version it prints for `--version`, e.g. `6.1.176`.
    pub version: String,
    /// `/usr/lib/uml/modules/<version>`.
    pub modules_dir: PathBuf,
}

impl KernelInfo {
    /// Asks the kernel binary for its version and checks its module directory exists.
    pub fn probe(binary: &Path) -> Result<KernelInfo, ImageError> {
        let kernel_err = |reason: String| ImageError::Kernel {
            path: binary.to_path_buf(),
            reason,
        };
        if !binary.is_file() {
            return Err(kernel_err("the file does not exist".to_string()));
        }
        let output = Command::new(binary)
            .arg("--version")
            .stdin(Stdio::null())
            .env("TMPDIR", std::env::temp_dir())
            .output()
            .map_err(|e| kernel_err(format!("running it failed ({e})")))?;
        let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if !output.status.success() || !is_version(&version) {
            return Err(kernel_err(format!(
                "`--version` printed {version:?} with {}, not a kernel version",
                output.status
            )));
        }
        let modules_dir = Path::new(UML_MODULES_ROOT).join(&version);
        if !modules_dir.join("modules.dep").is_file() {
            return Err(ImageError::Modules {
                version,
                path: modules_dir,
            });
        }
        Ok(KernelInfo {
            binary: binary.to_path_buf(),
            version,
            modules_dir,
        })
    }

    /// The network modules (and their dependencies), as paths relative to [`KernelInfo::modules_dir`].
    pub fn selected_modules(&self) -> Result<Vec<String>, ImageError> {
        let dep_path = self.modules_dir.join("modules.dep");
        let text =
            std::fs::read_to_string(&dep_path).map_err(ImageError::io("reading", &dep_path))?;
        Ok(select_modules(&parse_modules_dep(&text), MODULE_PREFIXES))
    }

    /// Adds the kernel version, binary and the selected modules' identities to a fingerprint.
    pub(crate) fn fingerprint(&self, fp: &mut Fingerprint) -> Result<(), ImageError> {
        fp.text("kernel-version", &self.version);
        fp.file_identity("kernel-binary", &self.binary)?;
        fp.file_identity("modules.dep", &self.modules_dir.join("modules.dep"))?;
        for rel in self.selected_modules()? {
            fp.file_identity("module", &self.modules_dir.join(rel))?;
        }
        Ok(())
    }

    /// Copies the selected modules to `/lib/modules/<version>/` in `tree` and runs `depmod -b` there.
    pub(crate) fn install_modules(&self, tree: &RootTree) -> Result<usize, ImageError> {
        let guest_dir = PathBuf::from("/lib/modules").join(&self.version);
        let modules = self.selected_modules()?;
        for rel in &modules {
            tree.copy_file(&self.modules_dir.join(rel), &guest_dir.join(rel), 0o644)?;
        }
        for name in MODULE_META_FILES {
            let src = self.modules_dir.join(name);
            if src.is_file() {
                tree.copy_file(&src, &guest_dir.join(name), 0o644)?;
            }
        }
        let depmod = tools::find_program("depmod", "kmod")?;
        tools::run(
            Command::new(depmod)
                .arg("-b")
                .arg(tree.root())
                .arg(&self.version),
        )?;
        Ok(modules.len())
    }
}

fn is_version(s: &str) -> bool {
    !s.is_empty()
        && s.len() < 64
        && s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-+_".contains(c))
}

/// Parses `modules.dep` into module → dependencies.
pub fn parse_modules_dep(text: &str) -> BTreeMap<String, Vec<String>> {
    text.lines()
        .filter_map(|line| {
            let (module, deps) = line.split_once(':')?;
            Some((
                module.trim().to_string(),
                deps.split_whitespace().map(str::to_string).collect(),
            ))
        })
        .collect()
}

/// Every module under one of `prefixes` plus the transitive closure of their dependencies.
pub fn select_modules(deps: &BTreeMap<String, Vec<String>>, prefixes: &[&str]) -> Vec<String> {
    let mut chosen = BTreeSet::new();
    let mut queue: Vec<&String> = deps
        .keys()
        .filter(|m| prefixes.iter().any(|p| m.starts_with(p)))
        .collect();
    while let Some(module) = queue.pop() {
        if chosen.insert(module.clone()) {
            if let Some(more) = deps.get(module) {
                queue.extend(more.iter());
            }
        }
    }
    chosen.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_includes_dependency_closure() {
        let deps = parse_modules_dep(
            "kernel/net/ipv6/ipv6.ko: kernel/lib/crc-ccitt.ko\n\
kernel/lib/crc-ccitt.ko:\n\
kernel/fs/nfs/nfs.ko: kernel/net/sunrpc/sunrpc.ko\n\
kernel/net/sunrpc/sunrpc.ko:\n",
        );
        let sel = select_modules(&deps, &["kernel/net/ipv6/"]);
        assert_eq!(
            sel,
            vec!["kernel/lib/crc-ccitt.ko", "kernel/net/ipv6/ipv6.ko"]
        );
    }

    #[test]
    fn host_kernel_probe_and_required_modules() {
        let info = KernelInfo::probe(Path::new("/usr/bin/linux")).unwrap();
        assert!(is_version(&info.version), "{}", info.version);
        let sel = info.selected_modules().unwrap();
        for needed in [
            "kernel/net/ipv6/ipv6.ko",
            "kernel/net/netfilter/nf_tables.ko",
            "kernel/net/bridge/bridge.ko",
            "kernel/drivers/net/tun.ko",
            "kernel/drivers/net/veth.ko",
            "kernel/net/sched/sch_netem.ko",
        ] {
            assert!(sel.iter().any(|m| m == needed), "missing {needed}");
        }
    }

    #[test]
    fn missing_kernel_is_a_clear_error() {
        let err = KernelInfo::probe(Path::new("/nonexistent/linux")).unwrap_err();
        assert!(err.to_string().contains("user-mode-linux"), "{err}");
    }
}
