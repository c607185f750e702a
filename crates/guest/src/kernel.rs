//! Asking a UML kernel binary for its version.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Errors of [`kernel_version`].
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The binary could not be run.
    #[error("cannot run the UML kernel {path}: {source}; it must be an executable UML kernel such as /usr/bin/linux")]
    Run {
        /// The kernel path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// It ran but did not print a version.
    #[error("{path} --version did not print a kernel version (exit {status}, output {output:?}); it must be a UML kernel such as /usr/bin/linux")]
    NoVersion {
        /// The kernel path.
        path: PathBuf,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed.
        output: String,
    },
}

/// Runs `KERNEL --version` and returns the version it prints (e.g. `6.1.176`).
pub fn kernel_version(kernel: &Path) -> Result<String, KernelError> {
    let out = Command::new(kernel)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|source| KernelError::Run {
            path: kernel.to_path_buf(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let plausible =
        !text.is_empty() && !text.contains('\n') && text.starts_with(|c: char| c.is_ascii_digit());
    if !out.status.success() || !plausible {
        return Err(KernelError::NoVersion {
            path: kernel.to_path_buf(),
            status: out.status,
            output: text,
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_uml_kernel_reports_its_version() {
        let v = kernel_version(Path::new("/usr/bin/linux")).unwrap();
        assert!(v.starts_with("6."), "unexpected version {v:?}");
    }

    #[test]
    fn non_kernels_are_rejected() {
        assert!(matches!(
            kernel_version(Path::new("/nonexistent/linux")),
            Err(KernelError::Run { .. })
        ));
        assert!(matches!(
            kernel_version(Path::new("/bin/false")),
            Err(KernelError::NoVersion { .. })
        ));
    }
}
