//! Removing build directories safely, even when debootstrap left file systems mounted in them.

use std::path::{Path, PathBuf};

use crate::ImageError;

/// Removes a file or directory tree if it exists; file systems mounted below it (debootstrap
/// mounts `/proc` and `/sys` in its target and may leave them on failure) are detached first.
pub fn remove_tree(path: &Path) -> Result<(), ImageError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(_) => return Ok(()),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path).map_err(ImageError::io("removing", path));
    }
    detach_mounts_below(path);
    std::fs::remove_dir_all(path).map_err(ImageError::io("removing directory", path))
}

/// Lazily unmounts every mount point at or below `dir`, deepest first.
fn detach_mounts_below(dir: &Path) {
    let Ok(canonical) = dir.canonicalize() else {
        return;
    };
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(umlvnf_host::unescape_mount_path(p)))
        .filter(|p| p.starts_with(&canonical))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for point in points {
        let Ok(c) = std::ffi::CString::new(point.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
        unsafe {
            libc::umount2(c.as_ptr(), libc::MNT_DETACH);
        }
    }
}
