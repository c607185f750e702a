//! The kernel store: umlvnf's appliance kernels, built from Debian's kernel sources with the
//! repository's config and patches, cached by flavour, source release and recipe hash.
//!
//! Layout of the store directory (`/var/lib/umlvnf/kernels` unless `UMLVNF_KERNEL_DIR`):
//! - `<flavour>-<release>-<recipe hash>/linux` (stripped, 0555), `config` (its `.config`) and
//!   `source` (where the sources came from): one build, never modified once complete;
//! - `sources/`: downloaded source tarballs, kept for the next flavour or rebuild;
//! - `apt/`: the private apt configuration that fetches them;
//! - `work/`: the source tree and object directories of a build under way (removed after);
//! - `.build.lock`: held while building, so concurrent callers build once.

mod build;
mod source;

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use umlvnf_kernel::Flavour;

use crate::cleanup::remove_tree;
use crate::lock::FileLock;
use crate::ImageError;

pub use source::{SourceTarball, KERNEL_SUITES};

/// Environment variable overriding [`KernelStore::default_dir`].
pub const KERNEL_DIR_ENV: &str = "UMLVNF_KERNEL_DIR";
/// The store directory used when [`KERNEL_DIR_ENV`] is not set.
pub const DEFAULT_KERNEL_DIR: &str = "/var/lib/umlvnf/kernels";

/// Where a build takes its sources from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelSource {
    /// The newest `linux-source-X.Y` (X.Y at least 6.19) that the host's Debian mirror offers.
    Debian,
    /// A kernel source tarball (`.tar.xz`, `.tar.gz`...) with one top directory.
    Tarball(PathBuf),
}

/// One appliance kernel in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltKernel {
    /// Its flavour.
    pub flavour: Flavour,
    /// The kernel release, e.g. `7.3.4`.
    pub release: String,
    /// The recipe hash it was built with.
    pub recipe: String,
    /// Its directory in the store.
    pub dir: PathBuf,
    /// When it was built.
    pub built: SystemTime,
    /// Where its sources came from.
    pub source: String,
}

impl BuiltKernel {
    /// The kernel binary.
    pub fn binary(&self) -> PathBuf {
        self.dir.join("linux")
    }

    /// True if it was built from the recipe this umlvnf carries.
    pub fn is_current_recipe(&self) -> bool {
        self.recipe == self.flavour.recipe_hash()
    }

    fn parse(dir: &Path) -> Option<BuiltKernel> {
        let name = dir.file_name()?.to_str()?;
        let (rest, recipe) = name.rsplit_once('-')?;
        let (flavour, release) = rest.rsplit_once('-')?;
        let flavour = flavour.parse::<Flavour>().ok()?;
        let binary = dir.join("linux");
        let built = std::fs::metadata(&binary).ok()?.modified().ok()?;
        let source = std::fs::read_to_string(dir.join("source")).unwrap_or_default();
        Some(BuiltKernel {
            flavour,
            release: release.to_string(),
            recipe: recipe.to_string(),
            dir: dir.to_path_buf(),
            built,
            source: source.trim().to_string(),
        })
    }
}

/// The appliance kernel store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelStore {
    dir: PathBuf,
}

impl KernelStore {
    /// A store in `dir` (created on first build).
    pub fn new(dir: PathBuf) -> Self {
        KernelStore { dir }
    }

    /// `$UMLVNF_KERNEL_DIR` if set and non-empty, else `/var/lib/umlvnf/kernels`.
    pub fn default_dir() -> PathBuf {
        match std::env::var_os(KERNEL_DIR_ENV) {
            Some(v) if !v.is_empty() => PathBuf::from(v),
            _ => PathBuf::from(DEFAULT_KERNEL_DIR),
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The name `plan` shows for a flavour's kernel before it is resolved to a build.
    pub fn planned_path(&self, flavour: Flavour) -> PathBuf {
        self.dir.join(format!("appliance-{flavour}")).join("linux")
    }

    /// Every complete build in the store, newest first.
    pub fn list(&self) -> Vec<BuiltKernel> {
        let mut out: Vec<BuiltKernel> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter_map(|p| BuiltKernel::parse(&p))
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| b.built.cmp(&a.built).then(a.dir.cmp(&b.dir)));
        out
    }

    /// The newest build of `flavour` made with the current recipe, if any.
    pub fn find(&self, flavour: Flavour) -> Option<BuiltKernel> {
        self.list()
            .into_iter()
            .find(|k| k.flavour == flavour && k.is_current_recipe())
    }

    /// The newest current build of `flavour`, or an error saying how to build one.
    pub fn current(&self, flavour: Flavour) -> Result<BuiltKernel, ImageError> {
        self.find(flavour).ok_or_else(|| {
            ImageError::KernelBuild(format!(
                "no {flavour} build of the current recipe in {}: run `umlvnf kernel build` first (`make test` does)",
                self.dir.display()
            ))
        })
    }

    /// The kernel of `flavour`: the newest current build, else one built now from Debian's
    /// sources.
    pub fn ensure(
        &self,
        flavour: Flavour,
        progress: &dyn Fn(&str),
    ) -> Result<BuiltKernel, ImageError> {
        if let Some(k) = self.find(flavour) {
            return Ok(k);
        }
        let built = self.build(&[flavour], &KernelSource::Debian, false, progress)?;
        built
            .into_iter()
            .next()
            .ok_or_else(|| ImageError::KernelBuild("the build produced no kernel".into()))
    }

    /// Builds `flavours` from `source`. A flavour already built from the same release and
    /// recipe is kept unless `force`. Returns the builds, in `flavours`' order.
    pub fn build(
        &self,
        flavours: &[Flavour],
        source: &KernelSource,
        force: bool,
        progress: &dyn Fn(&str),
    ) -> Result<Vec<BuiltKernel>, ImageError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(ImageError::io("creating directory", &self.dir))?;
        let _lock = FileLock::exclusive(&self.dir.join(".build.lock"))?;
        // Another process may have finished the same build while we waited for the lock.
        if !force && *source == KernelSource::Debian {
            let found: Vec<BuiltKernel> = flavours.iter().filter_map(|f| self.find(*f)).collect();
            if found.len() == flavours.len() && !found.is_empty() {
                return Ok(found);
            }
        }
        let tarball = self.source_tarball(source, progress)?;
        let work = self.dir.join("work");
        remove_tree(&work)?;
        let result = self.build_from(&tarball, &work, flavours, force, progress);
        remove_tree(&work)?;
        result
    }

    fn build_from(
        &self,
        tarball: &SourceTarball,
        work: &Path,
        flavours: &[Flavour],
        force: bool,
        progress: &dyn Fn(&str),
    ) -> Result<Vec<BuiltKernel>, ImageError> {
        let (tree, release) = build::prepare_tree(&tarball.path, work, progress)?;
        let mut out = Vec::new();
        for &flavour in flavours {
            let name = format!("{flavour}-{release}-{}", flavour.recipe_hash());
            let dest = self.dir.join(&name);
            if !force {
                if let Some(k) = BuiltKernel::parse(&dest) {
                    progress(&format!("{flavour}: linux {release} is built already"));
                    out.push(k);
                    continue;
                }
            }
            let started = Instant::now();
            progress(&format!(
                "{flavour}: building linux {release} (a few minutes)"
            ));
            let binary = build::build_flavour(
                &tree,
                &work.join(format!("out-{flavour}")),
                flavour,
                progress,
            )?;
            let staging = self.dir.join(format!(".{name}.partial"));
            remove_tree(&staging)?;
            std::fs::create_dir_all(&staging)
                .map_err(ImageError::io("creating directory", &staging))?;
            build::strip_to(&binary, &staging.join("linux"))?;
            let config = binary.with_file_name(".config");
            std::fs::copy(&config, staging.join("config"))
                .map_err(ImageError::io("copying", &config))?;
            std::fs::write(staging.join("source"), format!("{}\n", tarball.origin))
                .map_err(ImageError::io("writing", &staging))?;
            set_mode(&staging.join("linux"), 0o555)?;
            remove_tree(&dest)?;
            std::fs::rename(&staging, &dest).map_err(ImageError::io("renaming", &staging))?;
            progress(&format!(
                "{flavour}: linux {release} built in {} s: {}",
                started.elapsed().as_secs(),
                dest.join("linux").display()
            ));
            out.push(BuiltKernel::parse(&dest).ok_or_else(|| {
                ImageError::KernelBuild(format!("{} is incomplete", dest.display()))
            })?);
        }
        Ok(out)
    }

    fn source_tarball(
        &self,
        source: &KernelSource,
        progress: &dyn Fn(&str),
    ) -> Result<SourceTarball, ImageError> {
        match source {
            KernelSource::Tarball(path) => {
                if !path.is_file() {
                    return Err(ImageError::KernelBuild(format!(
                        "the source tarball {} does not exist or is not a file",
                        path.display()
                    )));
                }
                Ok(SourceTarball {
                    path: path.clone(),
                    origin: format!("tarball {}", path.display()),
                })
            }
            KernelSource::Debian => {
                let apt = source::PrivateApt::new(self.dir.join("apt"));
                let mirror = crate::host_debian_mirror(Path::new("/etc/apt"))?;
                progress(&format!("looking for linux-source packages on {mirror}"));
                apt.update(&mirror)?;
                let (package, version) = apt.newest_source()?;
                let sources = self.dir.join("sources");
                let path = sources.join(format!(
                    "{package}_{}.tar.xz",
                    version.replace(['/', ':'], "_")
                ));
                let origin = format!("Debian {package} {version}");
                if !path.is_file() {
                    progress(&format!("downloading {package} {version}"));
                    let partial = sources.join(".download");
                    remove_tree(&partial)?;
                    let tmp = sources.join(".tarball.partial");
                    apt.fetch(&package, &version, &partial, &tmp)?;
                    std::fs::rename(&tmp, &path).map_err(ImageError::io("renaming", &tmp))?;
                    remove_tree(&partial)?;
                    // Older tarballs are superseded.
                    for old in std::fs::read_dir(&sources)
                        .map_err(ImageError::io("reading", &sources))?
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| *p != path && p.extension().is_some_and(|e| e == "xz"))
                    {
                        let _ = std::fs::remove_file(old);
                    }
                }
                Ok(SourceTarball { path, origin })
            }
        }
    }

    /// Removes every build that is not the newest current one of its flavour and that no
    /// running process executes. Returns what was removed.
    pub fn prune(&self) -> Result<Vec<PathBuf>, ImageError> {
        let _lock = FileLock::exclusive(&self.dir.join(".build.lock"))?;
        let keep: Vec<PathBuf> = Flavour::ALL
            .iter()
            .filter_map(|f| self.find(*f))
            .map(|k| k.dir)
            .collect();
        let running = running_executables();
        let mut removed = Vec::new();
        for k in self.list() {
            if keep.contains(&k.dir) || running.contains(&k.binary()) {
                continue;
            }
            remove_tree(&k.dir)?;
            removed.push(k.dir);
        }
        Ok(removed)
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), ImageError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(ImageError::io("setting the mode of", path))
}

/// The executables of every running process this user can see.
fn running_executables() -> Vec<PathBuf> {
    umlvnf_host::processes().filter_map(|p| p.exe()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_are_found_by_flavour_and_recipe() {
        let dir = tempfile::tempdir().unwrap();
        let store = KernelStore::new(dir.path().to_path_buf());
        assert!(store.find(Flavour::Smp).is_none());
        let current = dir
            .path()
            .join(format!("smp-7.3.4-{}", Flavour::Smp.recipe_hash()));
        let stale = dir.path().join("smp-7.3.4-0000000000000000");
        for d in [&current, &stale] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("linux"), b"x").unwrap();
        }
        std::fs::create_dir_all(dir.path().join(".smp-7.3.5-x.partial")).unwrap();
        let found = store.find(Flavour::Smp).unwrap();
        assert_eq!(found.dir, current);
        assert_eq!(found.release, "7.3.4");
        assert!(store.find(Flavour::TimeTravel).is_none());
        assert_eq!(store.list().len(), 2);
        let removed = store.prune().unwrap();
        assert_eq!(removed, vec![stale]);
        assert!(current.join("linux").is_file());
    }
}
