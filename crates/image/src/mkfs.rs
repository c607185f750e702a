//! Turning a directory into an ext4 image file with `mkfs.ext4 -d`, without mounting.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use crate::tools;
use crate::ImageError;

/// Free space left in every image for the guest's own files (logs, configs, FRR state).
pub const FREE_SPACE: u64 = 64 << 20;
/// Room for the journal and group metadata.
const METADATA_SPACE: u64 = 24 << 20;
/// Spare inodes beyond those the content uses.
const SPARE_INODES: u64 = 8192;
const BLOCK: u64 = 4096;
const INODE_SIZE: u64 = 256;

/// What a directory tree needs on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeUsage {
    /// Bytes of data blocks (files, directories, long symlinks), rounded to 4 KiB blocks.
    pub bytes: u64,
    /// Number of inodes (every entry, hard links counted once per entry).
    pub inodes: u64,
}

/// Measures a directory tree without following symlinks.
pub fn measure(dir: &Path) -> Result<TreeUsage, ImageError> {
    let mut usage = TreeUsage::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)
            .map_err(ImageError::io("reading metadata of", &path))?;
        usage.inodes += 1;
        let ft = meta.file_type();
        if ft.is_dir() {
            let mut entries = 0u64;
            for entry in std::fs::read_dir(&path).map_err(ImageError::io("listing", &path))? {
                let entry = entry.map_err(ImageError::io("listing", &path))?;
                entries += 1;
                stack.push(entry.path());
            }
            usage.bytes += BLOCK * (1 + entries * 40 / BLOCK);
        } else if ft.is_file() {
            usage.bytes += meta.size().div_ceil(BLOCK) * BLOCK;
        } else if ft.is_symlink() && meta.size() >= 60 {
            usage.bytes += BLOCK;
        }
    }
    Ok(usage)
}

/// The image size in bytes for a tree: content, inode tables, metadata and [`FREE_SPACE`], rounded to MiB.
pub fn image_size(usage: TreeUsage) -> u64 {
    let inodes = usage.inodes + SPARE_INODES;
    let raw = usage.bytes + usage.bytes / 20 + inodes * INODE_SIZE + METADATA_SPACE + FREE_SPACE;
    raw.div_ceil(1 << 20) << 20
}

/// Creates `image` (a new sparse file) as an ext4 file system holding `dir`'s contents.
pub fn make_ext4(dir: &Path, image: &Path, label: &str) -> Result<u64, ImageError> {
    let usage = measure(dir)?;
    let size = image_size(usage);
    let inodes = usage.inodes + SPARE_INODES;
    let mkfs = tools::find_program("mkfs.ext4", "e2fsprogs")?;
    tools::run(
        Command::new(mkfs)
            .args([
                "-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-m", "0",
            ])
            .arg("-N")
            .arg(inodes.to_string())
            .arg("-L")
            .arg(label)
            .arg("-d")
            .arg(dir)
            .arg(image)
            .arg(format!("{}k", size / 1024)),
    )?;
    Ok(size)
}
