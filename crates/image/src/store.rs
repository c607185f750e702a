//! The image store: a directory of read-only base images named by the hash of their inputs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use crate::cleanup::remove_tree;
use crate::debian::{self, DebianRootfs};
use crate::fingerprint::Fingerprint;
use crate::inputs::{AgentPlan, ImageInputs};
use crate::kernel::KernelInfo;
use crate::lock::FileLock;
use crate::minimal::MinimalPlan;
use crate::mirror;
use crate::mkfs;
use crate::tree::RootTree;
use crate::{ImageError, ImageKind};

/// Environment variable overriding [`ImageStore::default_dir`].
pub const IMAGE_DIR_ENV: &str = "UMLVNF_IMAGE_DIR";
/// The store directory used when [`IMAGE_DIR_ENV`] is not set.
pub const DEFAULT_IMAGE_DIR: &str = "/var/lib/umlvnf/images";

/// A directory holding base images `<kind>-<16 hex digits>.img` (mode 0444, never modified once
/// built), the cached Debian rootfs tarballs and per-kind lock files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageStore {
    dir: PathBuf,
}

/// One base image found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// Which kind of image it is.
    pub kind: ImageKind,
    /// Its absolute path.
    pub path: PathBuf,
    /// Its apparent size in bytes (the file is sparse).
    pub size: u64,
    /// When it was built (its modification time).
    pub created: SystemTime,
}

/// Everything a build needs, resolved on the host; its fingerprint names the image.
enum Plan {
    Minimal(MinimalPlan),
    Debian(DebianRootfs),
}

struct Resolved {
    kind: ImageKind,
    plan: Plan,
    agent: AgentPlan,
    kernel: Option<KernelInfo>,
    hash: String,
}

impl ImageStore {
    /// A store in `dir` (created on first build).
    pub fn new(dir: PathBuf) -> Self {
        ImageStore { dir }
    }

    /// `$UMLVNF_IMAGE_DIR` if set and non-empty, else `/var/lib/umlvnf/images`.
    pub fn default_dir() -> PathBuf {
        match std::env::var_os(IMAGE_DIR_ENV) {
            Some(v) if !v.is_empty() => PathBuf::from(v),
            _ => PathBuf::from(DEFAULT_IMAGE_DIR),
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path the image for `kind` and `inputs` has (whether or not it is built yet).
    pub fn image_path(&self, kind: ImageKind, inputs: &ImageInputs) -> Result<PathBuf, ImageError> {
        Ok(self.path_for(&self.resolve(kind, inputs)?))
    }

    /// Returns the base image for `kind` and `inputs`, building it first if it is absent.
    ///
    /// Concurrent callers (threads or processes) build at most once: the build holds an
    /// exclusive `flock` on `<dir>/.<kind>.lock`.
    pub fn ensure(
        &self,
        kind: ImageKind,
        inputs: &ImageInputs,
        progress: &dyn Fn(&str),
    ) -> Result<PathBuf, ImageError> {
        self.build(kind, inputs, false, progress)
    }

    /// Like [`ImageStore::ensure`]; with `force`, rebuilds even if the image exists and atomically
    /// replaces it (which invalidates COW files made on the old one; running guests keep the old file).
    pub fn build(
        &self,
        kind: ImageKind,
        inputs: &ImageInputs,
        force: bool,
        progress: &dyn Fn(&str),
    ) -> Result<PathBuf, ImageError> {
        let resolved = self.resolve(kind, inputs)?;
        let path = self.path_for(&resolved);
        if !force && path.is_file() {
            return Ok(path);
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(ImageError::io("creating directory", &self.dir))?;
        let lock_path = self.dir.join(format!(".{kind}.lock"));
        progress(&format!("{kind}: taking the build lock"));
        let _lock = FileLock::exclusive(&lock_path)?;
        if !force && path.is_file() {
            return Ok(path);
        }
        self.remove_leftovers(kind)?;
        let started = Instant::now();
        self.build_locked(&resolved, &path, progress)?;
        progress(&format!(
            "{kind}: built {} in {:.1} s",
            path.display(),
            started.elapsed().as_secs_f64()
        ));
        Ok(path)
    }

    /// Lists the base images in the store, oldest first. A missing store directory lists nothing.
    pub fn list(&self) -> Result<Vec<ImageInfo>, ImageError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ImageError::io("listing", &self.dir)(e)),
        };
        let mut images = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(kind) = name.to_str().and_then(parse_image_name) else {
                continue;
            };
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            images.push(ImageInfo {
                kind,
                path: entry.path(),
                size: meta.len(),
                created: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
        images.sort_by(|a, b| a.created.cmp(&b.created).then(a.path.cmp(&b.path)));
        Ok(images)
    }

    /// Deletes every image not named in `keep`, leftovers of interrupted builds, and cached Debian
    /// rootfs tarballs other than the one the host's current mirror and package list use (all are
    /// kept when no mirror is configured); returns what was deleted. COW files based on a deleted
    /// image can no longer boot, so pass every image a lab still uses.
    pub fn remove_stale(&self, keep: &[PathBuf]) -> Result<Vec<PathBuf>, ImageError> {
        let mut removed = Vec::new();
        for kind in ImageKind::ALL {
            if !self.dir.is_dir() {
                break;
            }
            let _lock = FileLock::exclusive(&self.dir.join(format!(".{kind}.lock")))?;
            self.remove_leftovers(kind)?;
            for image in self.list()?.into_iter().filter(|i| i.kind == kind) {
                if keep.iter().any(|k| same_file(k, &image.path)) {
                    continue;
                }
                std::fs::remove_file(&image.path)
                    .map_err(ImageError::io("removing", &image.path))?;
                removed.push(image.path);
            }
            if kind == ImageKind::Debian {
                removed.extend(self.remove_stale_tarballs()?);
            }
        }
        Ok(removed)
    }

    /// Removes `debian-rootfs-*.tar` files other than the current one (debian lock held).
    fn remove_stale_tarballs(&self) -> Result<Vec<PathBuf>, ImageError> {
        let Ok(mirror) = mirror::host_debian_mirror(Path::new("/etc/apt")) else {
            return Ok(Vec::new());
        };
        let current = DebianRootfs::new(mirror).tarball_name();
        let mut removed = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(removed);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("debian-rootfs-") && name.ends_with(".tar") && name != current {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(ImageError::io("removing", &path))?;
                removed.push(path);
            }
        }
        Ok(removed)
    }

    fn path_for(&self, resolved: &Resolved) -> PathBuf {
        self.dir
            .join(format!("{}-{}.img", resolved.kind, resolved.hash))
    }

    /// Resolves with the probe answers kept in the store's directory, and keeps new ones there
    /// (when the directory is writable: a user without one probes every time).
    fn resolve(&self, kind: ImageKind, inputs: &ImageInputs) -> Result<Resolved, ImageError> {
        let kept = self.dir.join(crate::probe_cache::FILE_NAME);
        crate::probe_cache::load(&kept);
        let resolved = self.resolve_probed(kind, inputs)?;
        if self.dir.is_dir() {
            let _ = crate::probe_cache::save(&kept);
        }
        Ok(resolved)
    }

    fn resolve_probed(
        &self,
        kind: ImageKind,
        inputs: &ImageInputs,
    ) -> Result<Resolved, ImageError> {
        let kernel = inputs
            .modules_from
            .as_deref()
            .map(KernelInfo::probe)
            .transpose()?;
        let agent = AgentPlan::new(&inputs.agent)?;
        let mut fp = Fingerprint::new(kind.name());
        let plan = match kind {
            ImageKind::Minimal => {
                let plan = MinimalPlan::new()?;
                plan.fingerprint(&mut fp)?;
                Plan::Minimal(plan)
            }
            ImageKind::Debian => {
                let rootfs = DebianRootfs::new(mirror::host_debian_mirror(Path::new("/etc/apt"))?);
                rootfs.fingerprint(&mut fp);
                Plan::Debian(rootfs)
            }
        };
        agent.fingerprint(&mut fp)?;
        if let Some(kernel) = &kernel {
            kernel.fingerprint(&mut fp)?;
        }
        Ok(Resolved {
            kind,
            plan,
            agent,
            kernel,
            hash: fp.short_hex(),
        })
    }

    /// Removes `.build-<kind>-*` and `.tmp-<kind>-*` left by interrupted builds (lock held).
    fn remove_leftovers(&self, kind: ImageKind) -> Result<(), ImageError> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(());
        };
        let prefixes = [format!(".build-{kind}-"), format!(".tmp-{kind}-")];
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                remove_tree(&entry.path())?;
            }
        }
        Ok(())
    }

    fn build_locked(
        &self,
        resolved: &Resolved,
        path: &Path,
        progress: &dyn Fn(&str),
    ) -> Result<(), ImageError> {
        let kind = resolved.kind;
        let pid = std::process::id();
        let build_dir = self.dir.join(format!(".build-{kind}-{pid}"));
        let tmp_image = self.dir.join(format!(".tmp-{kind}-{pid}.img"));
        let _guard = RemoveOnDrop(vec![build_dir.clone(), tmp_image.clone()]);
        remove_tree(&build_dir)?;
        remove_tree(&tmp_image)?;
        let root = build_dir.join("root");
        std::fs::create_dir_all(&root).map_err(ImageError::io("creating directory", &root))?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))
            .map_err(ImageError::io("setting permissions of", &root))?;
        let tree = RootTree::new(&root);
        match &resolved.plan {
            Plan::Minimal(plan) => {
                plan.assemble(&tree, &resolved.agent, resolved.kernel.as_ref(), progress)?
            }
            Plan::Debian(rootfs) => {
                let tarball = rootfs.ensure_tarball(&self.dir, progress)?;
                debian::assemble(
                    &tarball,
                    &tree,
                    &resolved.agent,
                    resolved.kernel.as_ref(),
                    progress,
                )?;
            }
        }
        progress(&format!("{kind}: running mkfs.ext4"));
        mkfs::make_ext4(&root, &tmp_image, &format!("umlvnf-{kind}"))?;
        std::fs::set_permissions(&tmp_image, std::fs::Permissions::from_mode(0o444))
            .map_err(ImageError::io("setting permissions of", &tmp_image))?;
        let file =
            std::fs::File::open(&tmp_image).map_err(ImageError::io("opening", &tmp_image))?;
        file.sync_all()
            .map_err(ImageError::io("syncing", &tmp_image))?;
        std::fs::rename(&tmp_image, path).map_err(ImageError::io("renaming", &tmp_image))?;
        Ok(())
    }
}

/// `minimal-0123456789abcdef.img` → `Minimal`.
fn parse_image_name(name: &str) -> Option<ImageKind> {
    let stem = name.strip_suffix(".img")?;
    let (kind, hash) = stem.rsplit_once('-')?;
    if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    kind.parse().ok()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

struct RemoveOnDrop(Vec<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = remove_tree(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_parsed() {
        assert_eq!(
            parse_image_name("minimal-0123456789abcdef.img"),
            Some(ImageKind::Minimal)
        );
        assert_eq!(
            parse_image_name("debian-0123456789abcdef.img"),
            Some(ImageKind::Debian)
        );
        assert_eq!(parse_image_name("debian-rootfs-0123456789abcdef.tar"), None);
        assert_eq!(parse_image_name("minimal-xyz.img"), None);
        assert_eq!(parse_image_name(".tmp-minimal-12.img"), None);
    }
}
