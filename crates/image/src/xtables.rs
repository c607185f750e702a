//! iptables-legacy for the `minimal` image: `xtables-legacy-multi`, the names it answers to, and
//! the extension plugins `iptables` loads at run time (`-p tcp`, `-j MASQUERADE`, ...).

use std::path::{Path, PathBuf};

use crate::fingerprint::Fingerprint;
use crate::tools;
use crate::tree::RootTree;
use crate::ImageError;

/// Where `xtables-legacy-multi` is on the host and in the image (Debian package `iptables`).
pub const XTABLES_GUEST_PATH: &str = "/usr/sbin/xtables-legacy-multi";

/// The names installed in `/usr/sbin` as symlinks to `xtables-legacy-multi`.
pub const XTABLES_NAMES: &[&str] = &[
    "iptables",
    "iptables-legacy",
    "iptables-restore",
    "iptables-legacy-restore",
    "iptables-save",
    "iptables-legacy-save",
    "ip6tables",
    "ip6tables-legacy",
    "ip6tables-restore",
    "ip6tables-legacy-restore",
    "ip6tables-save",
    "ip6tables-legacy-save",
];

/// The directory libxtables loads extension plugins from (compiled into Debian's build).
pub const XTABLES_PLUGIN_DIR: &str = "/usr/lib/x86_64-linux-gnu/xtables";

/// Plugin file name prefixes copied: generic, IPv4 and IPv6 extensions (not ebtables/arptables).
const PLUGIN_PREFIXES: &[&str] = &["libxt_", "libipt_", "libip6t_"];

/// The Debian package providing all of it.
const PACKAGE: &str = "iptables";

/// One plugin file.
#[derive(Debug, Clone)]
struct Plugin {
    /// Its host (and guest) path.
    path: PathBuf,
    /// The file name it links to in the same directory (`libxt_SNAT.so -> libxt_NAT.so`),
    /// recreated as a symlink; `None` for a regular file, which is copied.
    link: Option<PathBuf>,
}

/// iptables-legacy as found on the host.
#[derive(Debug, Clone)]
pub(crate) struct XtablesPlan {
    binary: PathBuf,
    plugins: Vec<Plugin>,
    /// Libraries of the binary and of every plugin (`ldd`).
    pub libraries: Vec<PathBuf>,
}

impl XtablesPlan {
    /// Locates `xtables-legacy-multi`, its plugins and all their libraries on the host.
    pub fn new() -> Result<Self, ImageError> {
        let binary = PathBuf::from(XTABLES_GUEST_PATH);
        if !binary.is_file() {
            return Err(ImageError::MissingHostFile {
                path: binary,
                package: PACKAGE,
            });
        }
        let mut libraries = tools::shared_libraries(&binary)?;
        let dir = Path::new(XTABLES_PLUGIN_DIR);
        let entries = std::fs::read_dir(dir).map_err(|_| ImageError::MissingHostFile {
            path: dir.to_path_buf(),
            package: PACKAGE,
        })?;
        let mut plugins = Vec::new();
        for entry in entries {
            let entry = entry.map_err(ImageError::io("reading directory", dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".so") || !PLUGIN_PREFIXES.iter().any(|p| name.starts_with(p)) {
                continue;
            }
            let path = entry.path();
            let meta =
                std::fs::symlink_metadata(&path).map_err(ImageError::io("reading", &path))?;
            let link = if meta.file_type().is_symlink() {
                let target =
                    std::fs::read_link(&path).map_err(ImageError::io("reading symlink", &path))?;
                // Only a link to a sibling stays a link; anything else is copied as a file.
                let sibling = target.components().count() == 1 && dir.join(&target).is_file();
                sibling.then_some(target)
            } else {
                None
            };
            plugins.push(Plugin { path, link });
        }
        let files: Vec<PathBuf> = plugins
            .iter()
            .filter(|p| p.link.is_none())
            .map(|p| p.path.clone())
            .collect();
        libraries.extend(tools::shared_libraries_of_all(&files)?);
        if !plugins.iter().any(|p| p.link.is_none()) {
            return Err(ImageError::MissingHostFile {
                path: dir.join("libxt_tcp.so"),
                package: PACKAGE,
            });
        }
        plugins.sort_by(|a, b| a.path.cmp(&b.path));
        libraries.sort();
        libraries.dedup();
        Ok(XtablesPlan {
            binary,
            plugins,
            libraries,
        })
    }

    /// Adds the binary's and every plugin's identity and the installed names. (The libraries
    /// are fingerprinted by the caller with the image's others.)
    pub fn fingerprint(&self, fp: &mut Fingerprint) -> Result<(), ImageError> {
        fp.file_identity("xtables", &self.binary)?;
        for name in XTABLES_NAMES {
            fp.text("xtables-name", name);
        }
        for plugin in &self.plugins {
            match &plugin.link {
                Some(target) => {
                    fp.text("xtables-plugin-link", &plugin.path.to_string_lossy());
                    fp.text("xtables-plugin-target", &target.to_string_lossy());
                }
                None => fp.file_identity("xtables-plugin", &plugin.path)?,
            }
        }
        Ok(())
    }

    /// Copies the binary, creates its names in `/usr/sbin` and copies the plugins (libraries
    /// are installed by the caller).
    pub fn install(&self, tree: &RootTree) -> Result<(), ImageError> {
        let guest = Path::new(XTABLES_GUEST_PATH);
        tree.copy_file(&self.binary, guest, 0o755)?;
        let dir = guest.parent().unwrap_or(Path::new("/usr/sbin"));
        let target = Path::new("xtables-legacy-multi");
        for name in XTABLES_NAMES {
            tree.symlink_if_absent(target, &dir.join(name))?;
        }
        for plugin in &self.plugins {
            match &plugin.link {
                Some(target) => tree.symlink_if_absent(target, &plugin.path)?,
                None => tree.copy_file(&plugin.path, &plugin.path, 0o644)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_iptables_legacy_is_found_with_plugins_and_libraries() {
        let plan = XtablesPlan::new().expect("the host package `iptables` is installed");
        let names: Vec<String> = plan
            .plugins
            .iter()
            .map(|p| p.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for needed in [
            "libxt_tcp.so",
            "libxt_NAT.so",
            "libipt_icmp.so",
            "libip6t_icmp6.so",
        ] {
            assert!(names.iter().any(|n| n == needed), "{needed} in {names:?}");
        }
        assert!(!names.iter().any(|n| n.starts_with("libebt_")), "{names:?}");
        for lib in [
            "libxtables.so.12",
            "libip4tc.so.2",
            "libip6tc.so.2",
            "libc.so.6",
        ] {
            assert!(
                plan.libraries.iter().any(|p| p.ends_with(lib)),
                "{lib} in {:?}",
                plan.libraries
            );
        }
        let snat = plan
            .plugins
            .iter()
            .find(|p| p.path.ends_with("libxt_SNAT.so"))
            .unwrap();
        assert_eq!(snat.link.as_deref(), Some(Path::new("libxt_NAT.so")));
    }

    #[test]
    fn install_creates_names_and_plugins() {
        let plan = XtablesPlan::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let tree = RootTree::new(dir.path());
        plan.install(&tree).unwrap();
        let sbin = dir.path().join("usr/sbin");
        assert!(sbin.join("xtables-legacy-multi").is_file());
        for name in XTABLES_NAMES {
            assert_eq!(
                std::fs::read_link(sbin.join(name)).unwrap(),
                Path::new("xtables-legacy-multi"),
                "{name}"
            );
        }
        let plugins = dir.path().join(XTABLES_PLUGIN_DIR.trim_start_matches('/'));
        assert!(plugins.join("libxt_tcp.so").is_file());
        // A sibling link stays a link and resolves inside the tree.
        assert!(plugins.join("libxt_MASQUERADE.so").is_symlink());
        assert!(plugins.join("libxt_MASQUERADE.so").is_file());
        let mut fp = Fingerprint::new("t");
        plan.fingerprint(&mut fp).unwrap();
        assert_eq!(fp.short_hex().len(), 16);
    }
}
