//! The `minimal` image: busybox, nft, ethtool, tcpdump, iptables-legacy, the agent and network
//! modules.
//!
//! iptables-legacy is there because Debian's UML kernel lacks `NF_TABLES_IPV4`/`IPV6`/`INET`:
//! nft can only use the `bridge` family, so IP filtering and NAT need x_tables.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::fingerprint::Fingerprint;
use crate::inputs::{install_libraries, AgentPlan};
use crate::kernel::KernelInfo;
use crate::tools;
use crate::tree::RootTree;
use crate::xtables::XtablesPlan;
use crate::ImageError;

/// Host tools copied into the minimal image: (program name, guest path, Debian package).
const TOOLS: &[(&str, &str, &str)] = &[
    ("nft", "/usr/sbin/nft", "nftables"),
    ("ethtool", "/usr/sbin/ethtool", "ethtool"),
    ("tcpdump", "/usr/bin/tcpdump", "tcpdump"),
];

/// Host configuration files copied as they are: (path, Debian package).
const ETC_FILES: &[(&str, &str)] = &[
    ("/etc/passwd", "base-passwd"),
    ("/etc/group", "base-passwd"),
    ("/etc/hosts", "netbase"),
    ("/etc/protocols", "netbase"),
    ("/etc/services", "netbase"),
];

/// Empty directories every guest needs: (path, mode).
const EMPTY_DIRS: &[(&str, u32)] = &[
    ("/proc", 0o555),
    ("/sys", 0o555),
    ("/dev", 0o755),
    ("/tmp", 0o1777),
    ("/run", 0o755),
    ("/root", 0o700),
    ("/var", 0o755),
    ("/var/log", 0o755),
    ("/var/tmp", 0o1777),
    ("/mnt", 0o755),
    ("/etc", 0o755),
];

const BUSYBOX_HOST: &str = "/bin/busybox";
const BUSYBOX_GUEST: &str = "/bin/busybox";

/// Everything the minimal image is made of, found on the host.
#[derive(Debug, Clone)]
pub(crate) struct MinimalPlan {
    busybox: PathBuf,
    applets: Vec<PathBuf>,
    /// (host path, guest path) of the tools.
    tools: Vec<(PathBuf, PathBuf)>,
    /// iptables-legacy: the multi binary, its names and its extension plugins.
    xtables: XtablesPlan,
    /// Libraries of busybox, the tools, iptables-legacy and its plugins.
    libraries: Vec<PathBuf>,
    etc_files: Vec<PathBuf>,
}

impl MinimalPlan {
    /// Locates busybox, the tools and their libraries on the host.
    pub fn new() -> Result<Self, ImageError> {
        let busybox = PathBuf::from(BUSYBOX_HOST);
        if !busybox.is_file() {
            return Err(ImageError::MissingHostFile {
                path: busybox,
                package: "busybox-static",
            });
        }
        let list = crate::probe_cache::answer("busybox --list-full", &busybox, || {
            Ok(tools::run(Command::new(&busybox).arg("--list-full"))?
                .lines()
                .map(|l| l.trim().to_string())
                .collect())
        })?;
        let applets = list
            .iter()
            .filter(|l| !l.is_empty() && !l.contains(".."))
            .map(|l| Path::new("/").join(l))
            .filter(|p| p != Path::new(BUSYBOX_GUEST))
            .collect();
        let mut libraries = tools::shared_libraries(&busybox)?;
        let mut found = Vec::new();
        for (name, guest, package) in TOOLS {
            let host =
                tools::find_program(name, package).map_err(|_| ImageError::MissingHostFile {
                    path: PathBuf::from(guest),
                    package,
                })?;
            libraries.extend(tools::shared_libraries(&host)?);
            found.push((host, PathBuf::from(guest)));
        }
        let xtables = XtablesPlan::new()?;
        libraries.extend(xtables.libraries.iter().cloned());
        libraries.sort();
        libraries.dedup();
        let mut etc_files = Vec::new();
        for (path, package) in ETC_FILES {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(ImageError::MissingHostFile { path, package });
            }
            etc_files.push(path);
        }
        Ok(MinimalPlan {
            busybox,
            applets,
            tools: found,
            xtables,
            libraries,
            etc_files,
        })
    }

    /// Adds every copied host file's identity.
    pub fn fingerprint(&self, fp: &mut Fingerprint) -> Result<(), ImageError> {
        fp.file_identity("busybox", &self.busybox)?;
        for (host, guest) in &self.tools {
            fp.file_identity("tool", host)?;
            fp.text("tool-guest-path", &guest.to_string_lossy());
        }
        self.xtables.fingerprint(fp)?;
        for lib in &self.libraries {
            fp.file_identity("library", lib)?;
        }
        for file in &self.etc_files {
            fp.file_contents(&file.to_string_lossy(), file)?;
        }
        Ok(())
    }

    /// Fills an empty tree with the minimal system, the agent and the kernel modules.
    pub fn assemble(
        &self,
        tree: &RootTree,
        agent: &AgentPlan,
        kernel: Option<&KernelInfo>,
        progress: &dyn Fn(&str),
    ) -> Result<(), ImageError> {
        for (dir, mode) in EMPTY_DIRS {
            tree.mkdir(Path::new(dir), *mode)?;
        }
        progress("minimal: copying nft, ethtool, tcpdump, iptables-legacy and their libraries");
        for (host, guest) in &self.tools {
            tree.copy_file(host, guest, 0o755)?;
        }
        // Before busybox's applets, so that iptables names are never taken by an applet.
        self.xtables.install(tree)?;
        progress("minimal: copying busybox and its applets");
        tree.copy_file(&self.busybox, Path::new(BUSYBOX_GUEST), 0o755)?;
        for applet in &self.applets {
            tree.symlink_if_absent(Path::new(BUSYBOX_GUEST), applet)?;
        }
        install_libraries(tree, &self.libraries, false)?;
        for file in &self.etc_files {
            tree.copy_file(file, file, 0o644)?;
        }
        progress("minimal: installing the agent");
        agent.install(tree, false)?;
        if let Some(kernel) = kernel {
            progress("minimal: installing kernel modules");
            let n = kernel.install_modules(tree)?;
            progress(&format!("minimal: {n} kernel modules installed"));
        }
        Ok(())
    }
}
