//! File transfer on the guest side: `put` chunks into a temporary file renamed into place by
//! the last chunk, and `get` reads of one chunk at an offset.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::protocol::GET_CHUNK;

/// Checks that `path` is absolute and names a file (not `/`).
pub fn checked_path(path: &str) -> io::Result<&Path> {
    let p = Path::new(path);
    if !p.is_absolute() || p.file_name().is_none() || path.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the path {path:?} is not valid; give an absolute path to a file"),
        ));
    }
    Ok(p)
}

/// The temporary file a transfer to `path` is written to.
fn part_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.umlvnf-part"))
}

/// Writes one chunk of a transfer to `path`; returns the bytes written.
pub fn put(path: &str, mode: u32, offset: u64, data: &[u8], last: bool) -> io::Result<u64> {
    let path = checked_path(path)?;
    let part = part_path(path);
    let mut opts = OpenOptions::new();
    opts.write(true).mode(0o600);
    if offset == 0 {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        opts.create(true).truncate(true);
    }
    let file = opts.open(&part).map_err(|e| {
        if offset != 0 && e.kind() == io::ErrorKind::NotFound {
            io::Error::new(
                e.kind(),
                format!(
                    "no transfer to {} is in progress; the first chunk must have offset 0",
                    path.display()
                ),
            )
        } else {
            e
        }
    })?;
    file.write_all_at(data, offset)?;
    if last {
        file.set_permissions(fs::Permissions::from_mode(mode & 0o7777))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&part, path)?;
    }
    Ok(data.len() as u64)
}

/// Reads up to [`GET_CHUNK`] bytes of `path` from `offset`; returns the data and whether the
/// end of the file was reached.
pub fn get(path: &str, offset: u64) -> io::Result<(Vec<u8>, bool)> {
    let path = checked_path(path)?;
    let mut file = fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a directory; give the path of a file", path.display()),
        ));
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; GET_CHUNK];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok((buf, filled < GET_CHUNK))
}

/// Writes a whole file, creating parent directories, with exactly `mode`.
pub fn write_file(path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
    let p = checked_path(path)?;
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(p, data)?;
    fs::set_permissions(p, fs::Permissions::from_mode(mode & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_then_get_round_trip() {
        let dir = std::env::temp_dir().join(format!("umlvnf-files-{}", std::process::id()));
        let path = dir.join("sub/dir/f.bin");
        let p = path.to_str().unwrap();
        let data: Vec<u8> = (0..40_000u32).map(|i| (i * 31 % 256) as u8).collect();
        let chunks: Vec<&[u8]> = data.chunks(1024).collect();
        for (i, c) in chunks.iter().enumerate() {
            put(p, 0o640, (i * 1024) as u64, c, i + 1 == chunks.len()).unwrap();
        }
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
        let mut back = Vec::new();
        loop {
            let (d, eof) = get(p, back.len() as u64).unwrap();
            back.extend_from_slice(&d);
            if eof {
                break;
            }
        }
        assert_eq!(back, data);
        assert!(!part_path(&path).exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_relative_paths_and_orphan_chunks() {
        assert!(put("rel/path", 0o644, 0, b"x", true).is_err());
        assert!(get("/", 0).is_err());
        let e = put("/nonexistent-umlvnf/x", 0o644, 10, b"x", true).unwrap_err();
        assert!(e.to_string().contains("offset 0"), "{e}");
    }
}
