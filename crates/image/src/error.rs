//! The error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while locating, building or listing images.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A file or directory operation failed.
    #[error("{action} `{path}` failed: {source}")]
    Io {
        /// What was being done, e.g. "creating directory".
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An image kind name was not recognised.
    #[error("unknown image kind `{0}`: valid kinds are `minimal` and `debian`")]
    UnknownKind(String),
    /// The UML kernel binary is missing or does not report a version.
    #[error(
        "cannot get the UML kernel version from `{path}`: {reason}; \
         install the `user-mode-linux` package or pass the path of a UML kernel binary"
    )]
    Kernel {
        /// The kernel binary that was asked.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// The kernel's module directory is missing.
    #[error(
        "the UML kernel modules for version {version} are missing (expected `{path}`); \
         install the `user-mode-linux` package matching the kernel binary"
    )]
    Modules {
        /// The kernel version.
        version: String,
        /// The directory that was expected.
        path: PathBuf,
    },
    /// The agent binary to put into the image is missing or unreadable.
    #[error("the agent binary `{path}` cannot be read ({source}); build `umlvnf-agent` first or pass its path")]
    Agent {
        /// The agent path given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A host program needed for the build is missing.
    #[error("the host program `{program}` was not found; install the `{package}` package")]
    MissingTool {
        /// The program name.
        program: String,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// A host program ran but failed.
    #[error("`{command}` failed with {status}: {stderr}")]
    ToolFailed {
        /// The command line, for the reader.
        command: String,
        /// Its exit status.
        status: String,
        /// The end of its standard error.
        stderr: String,
    },
    /// A file the minimal image copies from the host is missing.
    #[error("the host file `{path}` is needed for the image but is missing; install the `{package}` package")]
    MissingHostFile {
        /// The missing path.
        path: PathBuf,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// The cached Debian rootfs lacks a program every Debian image must have.
    #[error(
        "the cached Debian rootfs lacks `{path}` (package `{package}`); delete the \
         debian-rootfs-*.tar files in the image store so debootstrap runs again"
    )]
    IncompleteRootfs {
        /// The missing path inside the rootfs.
        path: PathBuf,
        /// The Debian package that should have provided it.
        package: &'static str,
    },
    /// No Debian main archive mirror could be found in the host's apt sources.
    #[error(
        "no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources; \
         add a `deb <mirror-url> bookworm main` source (not the security archive) or set UMLVNF_DEBIAN_MIRROR"
    )]
    NoMirror,
    /// Building the Debian image needs root (debootstrap).
    #[error("building the `debian` image needs root (debootstrap runs chroot); run as root or use the `minimal` image")]
    NeedsRoot,
    /// Building the appliance kernel failed in a way that is not a plain tool failure.
    #[error("the appliance kernel: {0}")]
    KernelBuild(String),
}

impl ImageError {
    /// Shorthand for an [`ImageError::Io`].
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> ImageError {
        let path = path.into();
        move |source| ImageError::Io {
            action,
            path,
            source,
        }
    }
}
