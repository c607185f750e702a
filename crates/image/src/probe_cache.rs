//! Answers of host probes (`ldd FILE`, `busybox --list-full`), kept by file version in memory
//! and in a file of the image store, so that finding an image's inputs does not start a few
//! dozen processes on every `up` (it took about 0.4 s of a one-router deploy).
//!
//! An answer is keyed by the probe, the file's path, device, inode, size and modification time,
//! and the same identity of `/etc/ld.so.cache` (rewritten by `ldconfig` whenever packages
//! install libraries), so any change to the file or to the library search answers anew.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;

use crate::ImageError;

/// The file under the image store's directory that keeps the answers between runs.
pub(crate) const FILE_NAME: &str = ".probe-cache";

/// Version line of the file; an unknown version is ignored (and overwritten).
const HEADER: &str = "umlvnf probe cache 1";

/// Known answers and whether some are not yet in the file.
struct Cache {
    answers: BTreeMap<String, Vec<String>>,
    dirty: bool,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    answers: BTreeMap::new(),
    dirty: false,
});

fn lock() -> std::sync::MutexGuard<'static, Cache> {
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A file's version as text: device, inode, size, modification time in ns.
fn identity(path: &Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    Some(format!(
        "{}:{}:{}:{}.{:09}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    ))
}

/// The key of `probe` on `file`, `None` when the file cannot be read (then nothing is kept).
fn key(probe: &str, file: &Path) -> Option<String> {
    let ldso = identity(Path::new("/etc/ld.so.cache")).unwrap_or_else(|| "none".into());
    let path = file.to_str()?;
    let key = format!("{probe}|{}|{ldso}|{path}", identity(file)?);
    (!key.contains(['\0', '\n'])).then_some(key)
}

/// The answer of `probe` on `file`: remembered if the file and the library search are
/// unchanged since it was computed, else computed now by `compute` and remembered.
pub(crate) fn answer(
    probe: &str,
    file: &Path,
    compute: impl FnOnce() -> Result<Vec<String>, ImageError>,
) -> Result<Vec<String>, ImageError> {
    let key = key(probe, file);
    if let Some(k) = &key {
        if let Some(found) = lock().answers.get(k) {
            return Ok(found.clone());
        }
    }
    let computed = compute()?;
    if let Some(k) = key {
        if computed.iter().all(|v| !v.contains(['\0', '\n'])) {
            let mut cache = lock();
            cache.answers.insert(k, computed.clone());
            cache.dirty = true;
        }
    }
    Ok(computed)
}

/// Adds the answers kept in `path` (a missing or unreadable file adds nothing).
pub(crate) fn load(path: &Path) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return;
    }
    let mut cache = lock();
    for line in lines {
        let mut fields = line.split('\0');
        if let Some(k) = fields.next().filter(|k| !k.is_empty()) {
            let values = fields.filter(|v| !v.is_empty()).map(String::from).collect();
            cache.answers.entry(k.to_string()).or_insert(values);
        }
    }
}

/// Writes every known answer to `path` (atomically) if some are new since the last write.
/// Answers for files that no longer exist in that version are dropped.
pub(crate) fn save(path: &Path) -> Result<(), ImageError> {
    let mut cache = lock();
    if !cache.dirty {
        return Ok(());
    }
    let mut text = format!("{HEADER}\n");
    for (k, values) in &cache.answers {
        let mut parts = k.splitn(4, '|');
        let (probe, file) = (parts.next(), parts.nth(2));
        let current = probe
            .zip(file)
            .and_then(|(probe, file)| key(probe, Path::new(file)))
            .is_some_and(|now| &now == k);
        if !current {
            continue;
        }
        text.push_str(k);
        for v in values {
            text.push('\0');
            text.push_str(v);
        }
        text.push('\n');
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        std::fs::rename(&tmp, path)
    };
    let result = write().map_err(ImageError::io("writing", path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    } else {
        cache.dirty = false;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn answers_are_kept_per_file_version_and_across_a_save() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prog");
        std::fs::write(&file, b"one").unwrap();
        let runs = Cell::new(0);
        let probe = |f: &Path| {
            answer("test-probe", f, || {
                runs.set(runs.get() + 1);
                Ok(vec![format!("answer {}", runs.get())])
            })
            .unwrap()
        };
        assert_eq!(probe(&file), vec!["answer 1"]);
        assert_eq!(probe(&file), vec!["answer 1"]);
        assert_eq!(runs.get(), 1);

        let store = dir.path().join(FILE_NAME);
        save(&store).unwrap();
        let saved = std::fs::read_to_string(&store).unwrap();
        assert!(saved.starts_with(HEADER), "{saved}");
        assert!(saved.contains("answer 1"), "{saved}");
        lock().answers.clear();
        load(&store);
        assert_eq!(probe(&file), vec!["answer 1"]);
        assert_eq!(runs.get(), 1, "the saved answer is used");

        // A new version of the file (other size) is probed again.
        std::fs::write(&file, b"three").unwrap();
        assert_eq!(probe(&file), vec!["answer 2"]);
        // Failures are not remembered.
        let other = dir.path().join("other");
        std::fs::write(&other, b"x").unwrap();
        assert!(answer("test-probe", &other, || Err(ImageError::NeedsRoot)).is_err());
        assert_eq!(probe(&other), vec!["answer 3"]);
    }

    #[test]
    fn a_foreign_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join(FILE_NAME);
        std::fs::write(&store, "something else\nk\0v\n").unwrap();
        load(&store);
        assert!(!lock().answers.contains_key("k"));
    }
}
