//! Running host programs (mkfs.ext4, ldd, depmod, debootstrap, tar) and parsing `ldd`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::ImageError;

/// Directories searched after `$PATH`, so sbin tools are found for non-root users too.
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// Finds a program in `$PATH` or the usual system directories.
pub fn find_program(name: &str, package: &'static str) -> Result<PathBuf, ImageError> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path_var).chain(EXTRA_DIRS.iter().map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(ImageError::MissingTool {
        program: name.to_string(),
        package,
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs a command to completion; returns its stdout, or a [`ImageError::ToolFailed`] with the end of stderr.
pub fn run(cmd: &mut Command) -> Result<String, ImageError> {
    let described = describe(cmd);
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ImageError::ToolFailed {
            command: described.clone(),
            status: "an error starting it".to_string(),
            stderr: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(ImageError::ToolFailed {
            command: described,
            status: output.status.to_string(),
            stderr: tail(&String::from_utf8_lossy(&output.stderr), 2000),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

fn tail(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &text[start..])
}

/// Parses `ldd` output into the absolute paths of the libraries and loader it names.
///
/// `linux-vdso` and other entries without a path are skipped; `not found` entries are reported.
pub fn parse_ldd(output: &str) -> Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in output.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.contains("=> not found") {
            return Err(format!("a library is missing on the host: {line}"));
        }
        let candidate = match line.split_once("=>") {
            Some((_, right)) => right.trim(),
            None => line,
        };
        let path = candidate.split_whitespace().next().unwrap_or("");
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    libs.sort();
    libs.dedup();
    Ok(libs)
}

/// The shared libraries (and dynamic loader) a host binary needs; empty for static binaries and scripts.
///
/// Answers are remembered while the file and the library search are unchanged (see
/// [`crate::probe_cache`]).
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let libs = crate::probe_cache::answer("ldd", binary, || {
        Ok(run_ldd(binary)?
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect())
    })?;
    Ok(libs.into_iter().map(PathBuf::from).collect())
}

/// The union of [`shared_libraries`] of many files, asking `ldd` on a few threads at once.
pub fn shared_libraries_of_all(files: &[PathBuf]) -> Result<Vec<PathBuf>, ImageError> {
    const THREADS: usize = 4;
    let chunk = files.len().div_ceil(THREADS).max(1);
    let results: Vec<Result<Vec<PathBuf>, ImageError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut libs = Vec::new();
                    for file in part {
                        libs.extend(shared_libraries(file)?);
                    }
                    Ok(libs)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ImageError::ToolFailed {
                        command: "ldd".to_string(),
                        status: "an internal error".to_string(),
                        stderr: "a thread running ldd panicked".to_string(),
                    })
                })
            })
            .collect()
    });
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    all.sort();
    all.dedup();
    Ok(all)
}

fn run_ldd(binary: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let ldd = find_program("ldd", "libc-bin")?;
    let output = Command::new(&ldd)
        .arg(binary)
        .stdin(Stdio::null())
        .env("LC_ALL", "C")
        .output()
        .map_err(ImageError::io("running ldd on", binary))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        // Static binaries and scripts: "not a dynamic executable" (exit 1).
        if stdout.contains("not a dynamic executable")
            || stderr.contains("not a dynamic executable")
        {
            return Ok(Vec::new());
        }
        return Err(ImageError::ToolFailed {
            command: format!("{} {}", ldd.display(), binary.display()),
            status: output.status.to_string(),
            stderr: tail(&stderr, 2000),
        });
    }
    if stdout.contains("statically linked") {
        return Ok(Vec::new());
    }
    parse_ldd(&stdout).map_err(|reason| ImageError::ToolFailed {
        command: format!("{} {}", ldd.display(), binary.display()),
        status: "success".to_string(),
        stderr: reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_parsed() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
\tlibmnl.so.0 => /lib/x86_64-linux-gnu/libmnl.so.0 (0x00007f28)\n\
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f28)\n\
\t/lib64/ld-linux-x86-64.so.2 (0x00007f28)\n";
        let libs = parse_ldd(out).unwrap();
        assert_eq!(
            libs,
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib/x86_64-linux-gnu/libmnl.so.0"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
        assert!(parse_ldd("\tlibfoo.so.1 => not found\n").is_err());
    }

    #[test]
    fn real_ldd_on_host_binary() {
        let libs = shared_libraries(Path::new("/usr/sbin/ethtool")).unwrap();
        assert!(libs.iter().any(|p| p.ends_with("libc.so.6")), "{libs:?}");
        assert!(
            libs.iter()
                .any(|p| p.to_string_lossy().contains("ld-linux")),
            "{libs:?}"
        );
        let files = [
            PathBuf::from("/usr/sbin/ethtool"),
            PathBuf::from("/bin/busybox"),
        ];
        let all = shared_libraries_of_all(&files).unwrap();
        assert_eq!(
            all, libs,
            "the union equals ethtool's libraries (busybox has none)"
        );
        assert_eq!(
            shared_libraries(Path::new("/usr/sbin/ethtool")).unwrap(),
            libs,
            "a remembered answer is the same"
        );
        let none = shared_libraries(Path::new("/bin/busybox")).unwrap();
        assert!(none.is_empty(), "busybox-static must be static: {none:?}");
    }
}
