//! Hashing the inputs of an image into a short, stable name component.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::ImageError;

/// Bumped whenever the layout or build procedure of images changes, so old images are not reused.
pub const FORMAT_VERSION: u32 = 1;

/// An accumulating hash of labelled, length-prefixed fields.
#[derive(Clone, Default)]
pub struct Fingerprint {
    hasher: Sha256,
}

impl Fingerprint {
    /// Starts a fingerprint with the format version and a domain label.
    pub fn new(domain: &str) -> Self {
        let mut fp = Fingerprint::default();
        fp.field("format", &FORMAT_VERSION.to_le_bytes());
        fp.field("domain", domain.as_bytes());
        fp
    }

    /// Adds one named field.
    pub fn field(&mut self, name: &str, value: &[u8]) {
        for part in [name.as_bytes(), value] {
            self.hasher.update((part.len() as u64).to_le_bytes());
            self.hasher.update(part);
        }
    }

    /// Adds a string field.
    pub fn text(&mut self, name: &str, value: &str) {
        self.field(name, value.as_bytes());
    }

    /// Adds a file's full contents.
    pub fn file_contents(&mut self, name: &str, path: &Path) -> Result<(), ImageError> {
        let data = std::fs::read(path).map_err(ImageError::io("reading", path))?;
        self.field(name, &Sha256::digest(&data));
        Ok(())
    }

    /// Adds a host file's identity: its path, size and modification time (cheap; changes on package upgrades).
    pub fn file_identity(&mut self, name: &str, path: &Path) -> Result<(), ImageError> {
        let meta = std::fs::metadata(path).map_err(ImageError::io("reading metadata of", path))?;
        self.text(name, &path.to_string_lossy());
        self.field("size", &meta.size().to_le_bytes());
        self.field("mtime", &meta.mtime().to_le_bytes());
        self.field("mtime_nsec", &meta.mtime_nsec().to_le_bytes());
        Ok(())
    }

    /// The first 16 hex digits of the hash.
    pub fn short_hex(&self) -> String {
        let digest = self.hasher.clone().finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_boundaries_and_values_matter() {
        let hash = |parts: &[(&str, &str)]| {
            let mut fp = Fingerprint::new("t");
            for (k, v) in parts {
                fp.text(k, v);
            }
            fp.short_hex()
        };
        assert_eq!(hash(&[("a", "b")]), hash(&[("a", "b")]));
        assert_ne!(hash(&[("a", "bc")]), hash(&[("ab", "c")]));
        assert_ne!(hash(&[("a", "b")]), hash(&[("a", "c")]));
        assert_eq!(hash(&[]).len(), 16);
        assert_ne!(
            Fingerprint::new("minimal").short_hex(),
            Fingerprint::new("debian").short_hex()
        );
    }

    #[test]
    fn file_contents_and_identity_follow_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent");
        std::fs::write(&file, b"one").unwrap();
        let of = |path: &Path| {
            let mut fp = Fingerprint::new("t");
            fp.file_contents("agent", path).unwrap();
            fp.file_identity("agent", path).unwrap();
            fp.short_hex()
        };
        let first = of(&file);
        assert_eq!(first, of(&file));
        std::fs::write(&file, b"two").unwrap();
        assert_ne!(first, of(&file));
        let mut fp = Fingerprint::new("t");
        assert!(fp
            .file_contents("missing", &dir.path().join("nope"))
            .is_err());
    }
}
