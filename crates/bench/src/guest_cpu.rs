//! CPU time of a scenario's guests: each guest is the process group its kernel process leads
//! (the UML kernel and its userspace), read with the same `/proc` reader as the guests' CPU
//! metrics, user and system time alike, so the host's work in the guests' system calls (the
//! copies of `recvmmsg`/`sendmmsg`) counts as the guests' own.

use umlvnf_host::group_usage;

/// The guests whose CPU time a trial measures, by the pids of their kernel processes (each
/// the leader of the guest's process group).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestCpu {
    groups: Vec<i32>,
}

impl GuestCpu {
    /// The guests whose kernels run as `leaders` (none for a scenario without a guest).
    pub fn of(leaders: Vec<i32>) -> GuestCpu {
        GuestCpu { groups: leaders }
    }

    /// CPU seconds used so far by the guests' process groups, including the children they
    /// have reaped; `None` without guests.
    pub fn seconds(&self) -> Option<f64> {
        (!self.groups.is_empty()).then(|| {
            group_usage(&self.groups)
                .values()
                .map(|u| u.cpu_seconds)
                .sum()
        })
    }
}

/// CPU seconds per million frames, from CPU seconds used while `frames` went through.
pub fn seconds_per_million(cpu_seconds: f64, frames: u64) -> Option<f64> {
    (frames > 0).then(|| cpu_seconds / (frames as f64 / 1e6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reaped_child_counts_in_its_group() {
        // SAFETY: getpgrp has no arguments and cannot fail.
        let group = GuestCpu::of(vec![unsafe { libc::getpgrp() }]);
        let start = group.seconds().expect("a group");
        // Burn some CPU in a child, which must count in the group once reaped.
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .expect("sh runs");
        assert!(status.success());
        let end = group.seconds().expect("a group");
        assert!(end > start, "child CPU time counted: {start} -> {end}");
        assert_eq!(GuestCpu::default().seconds(), None);
    }

    #[test]
    fn per_million() {
        assert_eq!(seconds_per_million(2.0, 4_000_000), Some(0.5));
        assert_eq!(seconds_per_million(2.0, 0), None);
    }
}
