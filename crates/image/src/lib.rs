//! umlvnf guest base images.
//!
//! An [`ImageStore`] builds and caches read-only ext4 base images that UML guests boot
//! from through a copy-on-write overlay (`ubd0=COW,BASE`, see [`boot_args`]). Images are
//! assembled as a directory and turned into a file system with `mkfs.ext4 -d`; nothing is
//! ever mounted. The file name carries a hash of every input (agent binary, kernel version
//! and modules, copied host files or the Debian package list and mirror, a format version),
//! so changed inputs give a new file and an existing base is never modified.

mod cleanup;
mod debian;
mod error;
mod fingerprint;
mod inputs;
mod kernel;
mod kernels;
mod kind;
mod lock;
mod minimal;
mod mirror;
mod mkfs;
mod probe_cache;
mod store;
mod tools;
mod tree;
mod xtables;

use std::path::Path;

pub use debian::DEBIAN_PACKAGES;
pub use error::ImageError;
pub use fingerprint::FORMAT_VERSION;
pub use inputs::{ImageInputs, AGENT_GUEST_PATH, DEBIAN_KERNEL};
pub use kernel::{KernelInfo, UML_MODULES_ROOT};
pub use kernels::{
    BuiltKernel, KernelSource, KernelStore, DEFAULT_KERNEL_DIR, KERNEL_DIR_ENV, KERNEL_SUITES,
};
pub use kind::ImageKind;
pub use mirror::{
    host_debian_mirror, parse_deb822, parse_one_line, pick_debian_mirror, AptSource, DEBIAN_SUITE,
};
pub use mkfs::FREE_SPACE;
pub use store::{ImageInfo, ImageStore, DEFAULT_IMAGE_DIR, IMAGE_DIR_ENV};
pub use xtables::{XTABLES_GUEST_PATH, XTABLES_NAMES, XTABLES_PLUGIN_DIR};

/// The UML block device argument booting `base` through the copy-on-write file `cow`:
/// `ubd0=COW,BASE`. UML creates `cow` when it does not exist. Neither path may contain `,`.
pub fn boot_args(base: &Path, cow: &Path) -> String {
    format!("ubd0={},{}", cow.display(), base.display())
}
