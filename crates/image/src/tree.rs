//! Writing into a root file system tree on the host without ever escaping it.
//!
//! A Debian rootfs holds absolute symlinks (for example
//! `/usr/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...`); following
//! them with host path operations would write to the *host's* files. Every path
//! here is resolved component by component, with symlinks interpreted relative
//! to the tree's root, as a chroot would.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::ImageError;

/// How many symlinks one resolution may follow before giving up (as the kernel's limit).
const MAX_SYMLINKS: usize = 40;

/// A directory on the host that becomes `/` of a guest.
#[derive(Debug, Clone)]
pub struct RootTree {
    root: PathBuf,
}

impl RootTree {
    /// Wraps an existing directory.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RootTree { root: root.into() }
    }

    /// The host directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves `guest` (absolute inside the guest) to a host path inside the tree.
    ///
    /// Every directory component is resolved through symlinks within the tree; the last
    /// component is not followed (so it can be replaced).
    pub fn resolve(&self, guest: &Path) -> Result<PathBuf, ImageError> {
        let mut pending: VecDeque<OsString> = normal_components(guest);
        let Some(last) = pending.pop_back() else {
            return Ok(self.root.clone());
        };
        let dir = self.resolve_components(pending)?;
        Ok(dir.join(last))
    }

    /// Resolves `guest` following symlinks in every component, the last one included.
    pub fn resolve_followed(&self, guest: &Path) -> Result<PathBuf, ImageError> {
        self.resolve_components(normal_components(guest))
    }

    fn resolve_components(&self, mut pending: VecDeque<OsString>) -> Result<PathBuf, ImageError> {
        let mut current: Vec<OsString> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            if part == ".." {
                current.pop();
                continue;
            }
            let host = self.host_path(&current).join(&part);
            match std::fs::symlink_metadata(&host) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_SYMLINKS {
                        return Err(ImageError::Io {
                            action: "resolving (too many symlinks)",
                            path: host,
                            source: std::io::Error::from_raw_os_error(libc::ELOOP),
                        });
                    }
                    let target = std::fs::read_link(&host)
                        .map_err(ImageError::io("reading symlink", &host))?;
                    if target.is_absolute() {
                        current.clear();
                    }
                    for (i, comp) in normal_components(&target).into_iter().enumerate() {
                        pending.insert(i, comp);
                    }
                }
                _ => current.push(part),
            }
        }
        Ok(self.host_path(&current))
    }

    fn host_path(&self, parts: &[OsString]) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(parts);
        p
    }

    /// Creates a directory (and its parents) with the given mode; existing ones are kept.
    pub fn mkdir(&self, guest: &Path, mode: u32) -> Result<PathBuf, ImageError> {
        let mut so_far = PathBuf::from("/");
        let mut host = self.root.clone();
        for comp in normal_components(guest) {
            so_far.push(&comp);
            host = self.resolve_followed(&so_far)?;
            if std::fs::symlink_metadata(&host).is_err() {
                std::fs::create_dir_all(&host)
                    .map_err(ImageError::io("creating directory", &host))?;
                std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode))
                    .map_err(ImageError::io("setting permissions of", &host))?;
            }
        }
        Ok(host)
    }

    fn prepare_parent(&self, guest: &Path) -> Result<PathBuf, ImageError> {
        if let Some(parent) = guest.parent() {
            self.mkdir(parent, 0o755)?;
        }
        let host = self.resolve(guest)?;
        if let Ok(meta) = std::fs::symlink_metadata(&host) {
            if meta.is_dir() {
                return Err(ImageError::Io {
                    action: "replacing (it is a directory)",
                    path: host,
                    source: std::io::Error::from_raw_os_error(libc::EISDIR),
                });
            }
            std::fs::remove_file(&host).map_err(ImageError::io("removing", &host))?;
        }
        Ok(host)
    }

    /// Copies a host file's contents (following symlinks on the host side) to `guest`, replacing
    /// whatever was there, with the given mode.
    pub fn copy_file(&self, src: &Path, guest: &Path, mode: u32) -> Result<(), ImageError> {
        let host = self.prepare_parent(guest)?;
        std::fs::copy(src, &host).map_err(ImageError::io("copying", src))?;
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode))
            .map_err(ImageError::io("setting permissions of", &host))
    }

    /// Writes `contents` to `guest`, replacing whatever was there.
    pub fn write_file(&self, guest: &Path, contents: &[u8], mode: u32) -> Result<(), ImageError> {
        let host = self.prepare_parent(guest)?;
        std::fs::write(&host, contents).map_err(ImageError::io("writing", &host))?;
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode))
            .map_err(ImageError::io("setting permissions of", &host))
    }

    /// Creates a symlink `guest -> target` unless something already exists at `guest`.
    pub fn symlink_if_absent(&self, target: &Path, guest: &Path) -> Result<(), ImageError> {
        if let Some(parent) = guest.parent() {
            self.mkdir(parent, 0o755)?;
        }
        let host = self.resolve(guest)?;
        if std::fs::symlink_metadata(&host).is_ok() {
            return Ok(());
        }
        std::os::unix::fs::symlink(target, &host).map_err(ImageError::io("creating symlink", &host))
    }

    /// Whether something (file, directory or symlink) exists at `guest` without following its last component.
    pub fn exists(&self, guest: &Path) -> bool {
        self.resolve(guest)
            .is_ok_and(|host| std::fs::symlink_metadata(host).is_ok())
    }
}

fn normal_components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_symlinks_stay_inside_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let tree = RootTree::new(dir.path());
        tree.mkdir(Path::new("/usr/lib/x86_64-linux-gnu"), 0o755)
            .unwrap();
        tree.mkdir(Path::new("/usr/lib64"), 0o755).unwrap();
        std::os::unix::fs::symlink("usr/lib", dir.path().join("lib")).unwrap();
        std::os::unix::fs::symlink("usr/lib64", dir.path().join("lib64")).unwrap();
        // An absolute link that, followed on the host, would point at the host's /etc.
        std::os::unix::fs::symlink("/etc", dir.path().join("usr/lib64/hostetc")).unwrap();
        let r = tree.resolve(Path::new("/lib64/hostetc/passwd")).unwrap();
        assert_eq!(r, dir.path().join("etc/passwd"));
        let r = tree
            .resolve(Path::new("/lib/x86_64-linux-gnu/libc.so.6"))
            .unwrap();
        assert_eq!(r, dir.path().join("usr/lib/x86_64-linux-gnu/libc.so.6"));
        // Writing through the link lands inside the tree.
        tree.write_file(Path::new("/lib64/hostetc/marker"), b"x", 0o644)
            .unwrap();
        assert!(dir.path().join("etc/marker").is_file());
        // `..` cannot climb above the root.
        let r = tree.resolve(Path::new("/../../x")).unwrap();
        assert_eq!(r, dir.path().join("x"));
    }

    #[test]
    fn symlink_loops_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let tree = RootTree::new(dir.path());
        std::os::unix::fs::symlink("/a", dir.path().join("a")).unwrap();
        assert!(tree.resolve(Path::new("/a/b")).is_err());
    }
}
