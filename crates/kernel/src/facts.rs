//! What a UML kernel binary is, read from the file without running it.
//!
//! A UML kernel carries its `.config` as plain strings (what `--showconfig` prints: one
//! NUL-terminated string per line, from `arch/um/kernel/config.c`) and its release in the
//! `Linux version X.Y.Z ...` banner. Both are found by scanning the file, which is read only if
//! it is a regular file of bounded size: a topology naming `/dev/zero` or a FIFO as its kernel
//! gets an error, never a hang.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use crate::KernelError;

/// `CONFIG_*` name → value (`y`, `m`, a number or a quoted string; `n` for "is not set").
pub type KernelConfig = BTreeMap<String, String>;

/// The largest kernel file read: an unstripped UML kernel with debug information is well
/// under this.
pub const MAX_KERNEL_BYTES: u64 = 1 << 30;

/// A kernel release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
    /// Patch level (0 if the release has none).
    pub patch: u32,
}

impl KernelVersion {
    /// Parses the leading `X.Y[.Z]` of a release string such as `6.1.0-37-amd64` or `7.3.4`.
    pub fn parse(release: &str) -> Option<KernelVersion> {
        let mut nums = release
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|s| s.parse::<u32>().ok());
        let major = nums.next()??;
        let minor = nums.next()??;
        let patch = nums.next().flatten().unwrap_or(0);
        release
            .starts_with(|c: char| c.is_ascii_digit())
            .then_some(KernelVersion {
                major,
                minor,
                patch,
            })
    }

    /// True if this release is `major.minor` or later.
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What a kernel binary was built as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFacts {
    /// The binary.
    pub path: PathBuf,
    /// Its release, from the `Linux version` banner (`None` if the banner was not found).
    pub version: Option<KernelVersion>,
    /// Its configuration.
    pub config: KernelConfig,
}

impl KernelFacts {
    /// Reads `path`: regular files of at most [`MAX_KERNEL_BYTES`] only. Results are kept per
    /// path, size and modification time for the life of the process.
    pub fn read(path: &Path) -> Result<KernelFacts, KernelError> {
        type Key = (PathBuf, u64, Option<SystemTime>);
        static CACHE: OnceLock<Mutex<HashMap<Key, KernelFacts>>> = OnceLock::new();
        let io = |source| KernelError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(KernelError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        if meta.len() > MAX_KERNEL_BYTES {
            return Err(KernelError::TooLarge {
                path: path.to_path_buf(),
                size: meta.len(),
                limit: MAX_KERNEL_BYTES,
            });
        }
        let key = (path.to_path_buf(), meta.len(), meta.modified().ok());
        let cache = CACHE.get_or_init(Mutex::default);
        if let Some(hit) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(hit.clone());
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_KERNEL_BYTES)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let facts = KernelFacts::from_bytes(path, &bytes)?;
        cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, facts.clone());
        Ok(facts)
    }

    /// Scans a kernel image held in memory.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<KernelFacts, KernelError> {
        let mut config = KernelConfig::new();
        let mut version = None;
        for chunk in bytes.split(|b| *b == 0) {
            if chunk.len() > 512 {
                continue;
            }
            if let Some(line) = chunk.strip_suffix(b"\n") {
                if let Ok(text) = std::str::from_utf8(line) {
                    if let Some((k, v)) = config_line(text) {
                        config.insert(k, v);
                    }
                }
            }
            if version.is_none() {
                version = banner_version(chunk);
            }
        }
        if !config.contains_key("CONFIG_UML") {
            return Err(KernelError::NotUml {
                path: path.to_path_buf(),
            });
        }
        Ok(KernelFacts {
            path: path.to_path_buf(),
            version,
            config,
        })
    }

    /// True if `CONFIG_<name>` is `y`.
    pub fn enabled(&self, option: &str) -> bool {
        self.config.get(option).map(String::as_str) == Some("y")
    }

    /// True if the kernel loads modules (they must then come from somewhere).
    pub fn modular(&self) -> bool {
        self.enabled("CONFIG_MODULES")
    }

    /// True if the kernel has UML's seccomp userspace (`seccomp=`, 6.16 and later).
    pub fn has_seccomp_userspace(&self) -> bool {
        self.version.is_some_and(|v| v.at_least(6, 16))
    }

    /// True if the kernel can run several virtual CPUs (`ncpus=`).
    pub fn has_smp(&self) -> bool {
        self.enabled("CONFIG_SMP")
    }

    /// True if the kernel can run on a virtual clock (`time-travel=`).
    pub fn has_time_travel(&self) -> bool {
        self.enabled("CONFIG_UML_TIME_TRAVEL_SUPPORT")
    }
}

/// Parses one `.config` line: `CONFIG_X=v` or `# CONFIG_X is not set` (as `n`).
fn config_line(line: &str) -> Option<(String, String)> {
    let valid_name = |k: &str| {
        k.len() > 7
            && k.starts_with("CONFIG_")
            && k.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    if let Some(rest) = line.strip_prefix("# ") {
        let name = rest.strip_suffix(" is not set")?;
        return valid_name(name).then(|| (name.to_string(), "n".to_string()));
    }
    let (k, v) = line.split_once('=')?;
    valid_name(k).then(|| (k.to_string(), v.to_string()))
}

/// Parses `.config` text (or a fragment) into options.
pub fn parse_config_lines(text: &str) -> KernelConfig {
    text.lines().filter_map(|l| config_line(l.trim())).collect()
}

fn banner_version(chunk: &[u8]) -> Option<KernelVersion> {
    const BANNER: &[u8] = b"Linux version ";
    let at = chunk.windows(BANNER.len()).position(|w| w == BANNER)?;
    let rest = &chunk[at + BANNER.len()..];
    let end = rest
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    KernelVersion::parse(std::str::from_utf8(&rest[..end]).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(lines: &[&str], banner: &str) -> Vec<u8> {
        let mut out = b"\x7fELF junk\0CONFIG_NOT_A_LINE\0".to_vec();
        for l in lines {
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(b"\n\0");
        }
        out.extend_from_slice(banner.as_bytes());
        out.push(0);
        out
    }

    #[test]
    fn reads_config_and_version_from_strings() {
        let bytes = image(
            &[
                "#",
                "# Automatically generated file; DO NOT EDIT.",
                "CONFIG_UML=y",
                "CONFIG_SMP=y",
                "# CONFIG_MODULES is not set",
                "CONFIG_NR_CPUS=8",
                "CONFIG_CON_CHAN=\"null\"",
            ],
            "Linux version 7.3.4 (root@build) (gcc 12.2.0) #1 SMP",
        );
        let f = KernelFacts::from_bytes(Path::new("k"), &bytes).unwrap();
        assert_eq!(f.version, KernelVersion::parse("7.3.4"));
        assert!(f.has_smp() && !f.modular() && f.has_seccomp_userspace());
        assert_eq!(f.config["CONFIG_NR_CPUS"], "8");
        assert_eq!(f.config["CONFIG_CON_CHAN"], "\"null\"");
        assert!(!f.config.contains_key("CONFIG_NOT_A_LINE"));
    }

    #[test]
    fn a_file_without_config_is_not_uml() {
        let err = KernelFacts::from_bytes(Path::new("/bin/true"), b"\x7fELF\0hello\0").unwrap_err();
        assert!(
            err.to_string().contains("not a User Mode Linux kernel"),
            "{err}"
        );
    }

    #[test]
    fn special_files_are_refused_without_reading() {
        let err = KernelFacts::read(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(err, KernelError::NotAFile { .. }), "{err}");
        let err = KernelFacts::read(Path::new("/")).unwrap_err();
        assert!(matches!(err, KernelError::NotAFile { .. }), "{err}");
    }

    #[test]
    fn versions_parse_and_compare() {
        let v = KernelVersion::parse("6.1.0-37-amd64").unwrap();
        assert_eq!(v.to_string(), "6.1.0");
        assert!(KernelVersion::parse("7.2").unwrap().at_least(6, 19));
        assert!(!v.at_least(6, 13));
        assert_eq!(KernelVersion::parse("x6.1"), None);
        assert_eq!(KernelVersion::parse("6"), None);
    }
}
