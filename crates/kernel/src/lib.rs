//! umlvnf's appliance kernel and what any UML kernel binary supports.
//!
//! - [`recipe`]: the kernel umlvnf builds for its guests: the config fragments and patches
//!   kept in the repository's `kernel/` directory (compiled into this crate), its two
//!   flavours, and the hash that names a build.
//! - [`facts`]: a kernel binary's version and `CONFIG_*` options, read from the file itself.
//!   Nothing here ever runs a kernel: checking a topology must not execute what it names.
//! - [`host`]: what this host offers guests (AMX, seccomp) and the decision whether a kernel
//!   can boot here, made before anything is started.
//!
//! Fetching sources and building lives with the other artifacts in `umlvnf-image`.

pub mod facts;
pub mod host;
pub mod recipe;

pub use facts::{KernelConfig, KernelFacts, KernelVersion};
pub use host::{boot_refusal, HostCpu};
pub use recipe::Flavour;

/// Why a kernel binary could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The path is not a regular file (a directory, a FIFO, a device...).
    #[error("the kernel {path} is not a regular file")]
    NotAFile {
        /// The kernel path.
        path: std::path::PathBuf,
    },
    /// The file is larger than any UML kernel.
    #[error(
        "the kernel {path} is {size} bytes, more than the {limit} bytes a UML kernel can have"
    )]
    TooLarge {
        /// The kernel path.
        path: std::path::PathBuf,
        /// Its size.
        size: u64,
        /// The largest size read.
        limit: u64,
    },
    /// The file holds no kernel configuration (not a UML kernel).
    #[error("the kernel {path} holds no kernel configuration: it is not a User Mode Linux kernel")]
    NotUml {
        /// The kernel path.
        path: std::path::PathBuf,
    },
    /// Reading failed.
    #[error("reading the kernel {path}: {source}")]
    Io {
        /// The kernel path.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}
