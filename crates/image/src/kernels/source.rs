//! The appliance kernel's sources: Debian's `linux-source-X.Y` package, fetched through a
//! private apt configuration, or a tarball the user names.
//!
//! The private configuration lives under the kernel store (`apt/`): its own sources list naming
//! the host's Debian mirror (read from the host's apt sources) with Debian's archive keyring,
//! its own lists, cache and status file. The host's apt sources and state are never touched.

use std::path::{Path, PathBuf};
use std::process::Command;

use umlvnf_kernel::recipe::MIN_SOURCE_SERIES;

use crate::tools;
use crate::ImageError;

/// Suites searched for `linux-source-X.Y`, newest kernels first. `UMLVNF_KERNEL_SUITES`
/// (space-separated) replaces them.
pub const KERNEL_SUITES: &[&str] = &["sid", "trixie-backports"];

/// The keyring the private sources are signed with.
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// A kernel source tarball (`linux-source-X.Y.tar.xz`) and the release it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTarball {
    /// The `.tar.xz` file.
    pub path: PathBuf,
    /// What it is, e.g. `Debian linux-source-7.3 7.3.4-1~bpo13+1`, or the file name.
    pub origin: String,
}

/// The private apt configuration under `dir`.
pub(crate) struct PrivateApt {
    dir: PathBuf,
}

impl PrivateApt {
    pub(crate) fn new(dir: PathBuf) -> Self {
        PrivateApt { dir }
    }

    fn options(&self) -> Vec<String> {
        let d = |p: &str| self.dir.join(p).display().to_string();
        vec![
            format!("-oDir::Etc::sourcelist={}", d("sources.list")),
            format!("-oDir::Etc::sourceparts={}", d("sources.list.d")),
            format!("-oDir::State::Lists={}", d("lists")),
            format!("-oDir::State::status={}", d("status")),
            format!("-oDir::Cache={}", d("cache")),
            "-oAcquire::Languages=none".into(),
            "-oAPT::Sandbox::User=root".into(),
            "-oDebug::NoLocking=true".into(),
        ]
    }

    /// Writes the sources list for `mirror` and refreshes the package lists.
    pub(crate) fn update(&self, mirror: &str) -> Result<(), ImageError> {
        for sub in ["sources.list.d", "lists/partial", "cache/archives/partial"] {
            let p = self.dir.join(sub);
            std::fs::create_dir_all(&p).map_err(ImageError::io("creating directory", &p))?;
        }
        let status = self.dir.join("status");
        if !status.exists() {
            std::fs::write(&status, b"").map_err(ImageError::io("writing", &status))?;
        }
        let list = self.dir.join("sources.list");
        std::fs::write(&list, sources_list(mirror, &suites()))
            .map_err(ImageError::io("writing", &list))?;
        tools::run(
            Command::new(tools::find_program("apt-get", "apt")?)
                .args(self.options())
                .args(["-qq", "update"]),
        )?;
        Ok(())
    }

    /// The newest `linux-source-X.Y` at or above [`MIN_SOURCE_SERIES`] in the lists, with its
    /// candidate version.
    pub(crate) fn newest_source(&self) -> Result<(String, String), ImageError> {
        let names = tools::run(
            Command::new(tools::find_program("apt-cache", "apt")?)
                .args(self.options())
                .args(["pkgnames", "linux-source-"]),
        )?;
        let package = newest_series(&names).ok_or_else(|| {
            ImageError::KernelBuild(format!(
                "no linux-source-X.Y at or above {}.{} is offered by the suites {} of the host's Debian mirror; \
                 pass a kernel source tarball with `umlvnf kernel build --source FILE.tar.xz`",
                MIN_SOURCE_SERIES.0,
                MIN_SOURCE_SERIES.1,
                suites().join(", ")
            ))
        })?;
        let policy = tools::run(
            Command::new(tools::find_program("apt-cache", "apt")?)
                .args(self.options())
                .args(["policy", &package]),
        )?;
        let version = policy
            .lines()
            .find_map(|l| l.trim().strip_prefix("Candidate:"))
            .map(|v| v.trim().to_string())
            .filter(|v| v != "(none)")
            .ok_or_else(|| {
                ImageError::KernelBuild(format!("apt offers no candidate version of {package}"))
            })?;
        Ok((package, version))
    }

    /// Downloads `package` into `into` and extracts its source tarball to `dest`.
    pub(crate) fn fetch(
        &self,
        package: &str,
        version: &str,
        into: &Path,
        dest: &Path,
    ) -> Result<(), ImageError> {
        std::fs::create_dir_all(into).map_err(ImageError::io("creating directory", into))?;
        tools::run(
            Command::new(tools::find_program("apt-get", "apt")?)
                .current_dir(into)
                .args(self.options())
                .args(["-qq", "download", &format!("{package}={version}")]),
        )?;
        let deb = std::fs::read_dir(into)
            .map_err(ImageError::io("reading", into))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .ok_or_else(|| {
                ImageError::KernelBuild(format!("apt-get download {package} left no .deb"))
            })?;
        let series = package.trim_start_matches("linux-source-");
        let member = format!("./usr/src/linux-source-{series}.tar.xz");
        let script = "dpkg-deb --fsys-tarfile \"$1\" | tar -xO \"$2\" > \"$3\"";
        tools::run(
            Command::new("bash")
                .args(["-o", "pipefail", "-c", script, "bash"])
                .arg(&deb)
                .arg(&member)
                .arg(dest),
        )?;
        std::fs::remove_file(&deb).map_err(ImageError::io("removing", &deb))?;
        Ok(())
    }
}

fn suites() -> Vec<String> {
    match std::env::var("UMLVNF_KERNEL_SUITES") {
        Ok(v) if !v.trim().is_empty() => v.split_whitespace().map(str::to_string).collect(),
        _ => KERNEL_SUITES.iter().map(|s| s.to_string()).collect(),
    }
}

/// The private sources list: one `deb` line per suite on `mirror`, signed by Debian's keyring.
pub(crate) fn sources_list(mirror: &str, suites: &[String]) -> String {
    suites
        .iter()
        .map(|s| format!("deb [signed-by={KEYRING}] {mirror} {s} main\n"))
        .collect()
}

/// The newest `linux-source-X.Y` name in `apt-cache pkgnames` output at or above
/// [`MIN_SOURCE_SERIES`].
pub(crate) fn newest_series(names: &str) -> Option<String> {
    names
        .lines()
        .filter_map(|n| {
            let series = n.trim().strip_prefix("linux-source-")?;
            let (major, minor) = series.split_once('.')?;
            let v = (major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?);
            (v >= MIN_SOURCE_SERIES).then(|| (v, n.trim().to_string()))
        })
        .max()
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_series_at_or_above_the_minimum() {
        let names = "linux-source-6.12\nlinux-source-7.2\nlinux-source-7.10\nlinux-source-7.3\nlinux-source\n";
        assert_eq!(newest_series(names).as_deref(), Some("linux-source-7.10"));
        assert_eq!(newest_series("linux-source-6.12\nlinux-source-6.1\n"), None);
        assert_eq!(
            newest_series("linux-source-6.19\n").as_deref(),
            Some("linux-source-6.19")
        );
    }

    #[test]
    fn sources_list_names_the_mirror_and_keyring() {
        let text = sources_list("http://mirror.example/debian", &["sid".to_string()]);
        assert_eq!(
            text,
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian sid main\n"
        );
    }
}
