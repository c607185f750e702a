//! The host's processes as `/proc` lists them: one walker for every caller that looks for
//! processes by command line, executable, namespace or process group.

use std::path::PathBuf;

/// A process listed in `/proc`. It may exit at any moment: every read returns `None` then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process {
    /// Its pid.
    pub pid: i32,
}

impl Process {
    /// A file of the process's `/proc` directory, such as `stat` or `ns/net`.
    pub fn file(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/{name}", self.pid))
    }

    /// Its command line, one byte string per argument.
    pub fn args(&self) -> Option<Vec<Vec<u8>>> {
        let raw = std::fs::read(self.file("cmdline")).ok()?;
        Some(raw.split(|b| *b == 0).map(<[u8]>::to_vec).collect())
    }

    /// The executable it runs.
    pub fn exe(&self) -> Option<PathBuf> {
        std::fs::read_link(self.file("exe")).ok()
    }

    /// Its network namespace as the kernel names it (`net:[INODE]`).
    pub fn net_namespace(&self) -> Option<String> {
        std::fs::read_link(self.file("ns/net"))
            .ok()
            .map(|l| l.to_string_lossy().into_owned())
    }

    /// The text of its `stat` file.
    pub fn stat(&self) -> Option<String> {
        std::fs::read_to_string(self.file("stat")).ok()
    }
}

/// Every process `/proc` lists now (none when it cannot be read), in the kernel's order.
pub fn processes() -> impl Iterator<Item = Process> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .map(|pid| Process { pid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_listed_with_its_command_line() {
        let me = processes()
            .find(|p| p.pid == std::process::id() as i32)
            .expect("listed");
        assert!(me.args().is_some_and(|a| !a.is_empty()));
        assert!(me.exe().is_some());
        assert!(me
            .stat()
            .is_some_and(|s| s.starts_with(&me.pid.to_string())));
    }
}
