//! The `debian` image: a cached debootstrap rootfs plus the agent and kernel modules.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cleanup::remove_tree;
use crate::fingerprint::Fingerprint;
use crate::inputs::AgentPlan;
use crate::kernel::KernelInfo;
use crate::mirror::DEBIAN_SUITE;
use crate::tools;
use crate::tree::RootTree;
use crate::ImageError;

/// Packages installed on top of `minbase`.
///
/// `iptables` is there because Debian's UML kernel lacks `NF_TABLES_IPV4`/`IPV6`/`INET`: nft
/// can only use the `bridge` family, so IP filtering and NAT need `iptables-legacy` (x_tables).
pub const DEBIAN_PACKAGES: &[&str] = &[
    "iproute2",
    "nftables",
    "iptables",
    "frr",
    "kmod",
    "ethtool",
    "tcpdump",
    "iputils-ping",
    "procps",
];

/// Programs the unpacked rootfs must contain: (guest path, Debian package). The agent loads
/// `GuestConfig::iptables` / `ip6tables` with these.
const REQUIRED_PROGRAMS: &[(&str, &str)] = &[
    ("/usr/sbin/iptables-legacy-restore", "iptables"),
    ("/usr/sbin/ip6tables-legacy-restore", "iptables"),
];

/// The debootstrap variant.
const VARIANT: &str = "minbase";

/// Directories whose contents are dropped from the rootfs after debootstrap (downloaded
/// packages and package lists: about 90 MB nobody uses in a guest).
const PRUNE_DIRS: &[&str] = &["/var/cache/apt/archives", "/var/lib/apt/lists"];

/// The cached debootstrap rootfs, identified by the mirror and package list.
#[derive(Debug, Clone)]
pub(crate) struct DebianRootfs {
    pub mirror: String,
    pub key: String,
}

impl DebianRootfs {
    /// The rootfs for a mirror URI.
    pub fn new(mirror: String) -> Self {
        let mut fp = Fingerprint::new("debian-rootfs");
        fp.text("suite", DEBIAN_SUITE);
        fp.text("variant", VARIANT);
        fp.text("mirror", &mirror);
        for package in DEBIAN_PACKAGES {
            fp.text("package", package);
        }
        let key = fp.short_hex();
        DebianRootfs { mirror, key }
    }

    /// The tarball's file name in the store.
    pub fn tarball_name(&self) -> String {
        format!("debian-rootfs-{}.tar", self.key)
    }

    /// Adds the rootfs identity.
    pub fn fingerprint(&self, fp: &mut Fingerprint) {
        fp.text("rootfs", &self.key);
    }

    /// Returns the cached tarball in `store_dir`, running debootstrap first when it is absent.
    /// The caller holds the store's `debian` lock.
    pub fn ensure_tarball(
        &self,
        store_dir: &Path,
        progress: &dyn Fn(&str),
    ) -> Result<PathBuf, ImageError> {
        let tarball = store_dir.join(self.tarball_name());
        if tarball.is_file() {
            return Ok(tarball);
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err(ImageError::NeedsRoot);
        }
        let debootstrap = tools::find_program("debootstrap", "debootstrap")?;
        let tar = tools::find_program("tar", "tar")?;
        let pid = std::process::id();
        let build = store_dir.join(format!(".build-debian-rootfs-{pid}"));
        let tmp = store_dir.join(format!(".tmp-debian-rootfs-{pid}.tar"));
        let _cleanup = CleanupPaths(vec![build.clone(), tmp.clone()]);
        remove_tree(&build)?;
        progress(&format!(
            "debian: running debootstrap {DEBIAN_SUITE} from {} (about a minute)",
            self.mirror
        ));
        tools::run(
            Command::new(debootstrap)
                .arg(format!("--variant={VARIANT}"))
                .arg(format!("--include={}", DEBIAN_PACKAGES.join(",")))
                .arg(DEBIAN_SUITE)
                .arg(&build)
                .arg(&self.mirror),
        )?;
        let tree = RootTree::new(&build);
        for dir in PRUNE_DIRS {
            prune_files(&tree.resolve_followed(Path::new(dir))?)?;
        }
        progress("debian: packing the rootfs into the cache");
        tools::run(
            Command::new(&tar)
                .args(["--numeric-owner", "--xattrs", "--acls", "-cf"])
                .arg(&tmp)
                .arg("-C")
                .arg(&build)
                .arg("."),
        )?;
        std::fs::rename(&tmp, &tarball).map_err(ImageError::io("renaming", &tmp))?;
        Ok(tarball)
    }
}

/// Unpacks the rootfs into `tree` and adds the agent and kernel modules.
pub(crate) fn assemble(
    tarball: &Path,
    tree: &RootTree,
    agent: &AgentPlan,
    kernel: Option<&KernelInfo>,
    progress: &dyn Fn(&str),
) -> Result<(), ImageError> {
    let tar = tools::find_program("tar", "tar")?;
    progress("debian: unpacking the cached rootfs");
    tools::run(
        Command::new(&tar)
            .args(["--numeric-owner", "--xattrs", "--acls", "-xpf"])
            .arg(tarball)
            .arg("-C")
            .arg(tree.root()),
    )?;
    for (path, package) in REQUIRED_PROGRAMS {
        if !tree.exists(Path::new(path)) {
            return Err(ImageError::IncompleteRootfs {
                path: PathBuf::from(path),
                package,
            });
        }
    }
    // debootstrap copies the build host's name and resolver; guests get neutral ones.
    tree.write_file(Path::new("/etc/hostname"), b"umlvnf\n", 0o644)?;
    tree.write_file(Path::new("/etc/resolv.conf"), b"", 0o644)?;
    progress("debian: installing the agent");
    agent.install(tree, true)?;
    if let Some(kernel) = kernel {
        progress("debian: installing kernel modules");
        let n = kernel.install_modules(tree)?;
        progress(&format!("debian: {n} kernel modules installed"));
    }
    Ok(())
}

/// Removes the regular files directly inside `dir` (keeps subdirectories such as `partial/`).
fn prune_files(dir: &Path) -> Result<(), ImageError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(ImageError::io("removing", &path))?;
        }
    }
    Ok(())
}

/// Removes build leftovers when dropped, whatever happened.
struct CleanupPaths(Vec<PathBuf>);

impl Drop for CleanupPaths {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = remove_tree(path);
        }
    }
}
