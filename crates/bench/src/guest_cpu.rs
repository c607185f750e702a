//! CPU time of a scenario's guests: the UML kernel processes and every process below them
//! (their userspace), user and system time alike, so the host's work in the guests' system
//! calls (the copies of `recvmmsg`/`sendmmsg`) counts as the guests' own.

use std::collections::{HashMap, HashSet};

use umlvnf_host::processes;

/// The guests whose CPU time a trial measures, by the pids of their kernel processes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestCpu {
    roots: Vec<i32>,
}

impl GuestCpu {
    /// The guests whose kernels run as `roots` (none for a scenario without a guest).
    pub fn of(roots: Vec<i32>) -> GuestCpu {
        GuestCpu { roots }
    }

    /// Whether there is a guest to measure.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// CPU seconds used so far by the guests and the processes below them, including the
    /// children they have reaped; `None` without guests.
    pub fn seconds(&self) -> Option<f64> {
        if self.roots.is_empty() {
            return None;
        }
        let mut parent_of = HashMap::new();
        let mut ticks = HashMap::new();
        for p in processes() {
            if let Some(stat) = p.stat().as_deref().and_then(Stat::parse) {
                parent_of.insert(p.pid, stat.ppid);
                ticks.insert(p.pid, stat.ticks);
            }
        }
        let mut inside: HashSet<i32> = self.roots.iter().copied().collect();
        // Each pass adds the children of what is inside; a tree is done in its depth.
        loop {
            let before = inside.len();
            for (&pid, ppid) in &parent_of {
                if inside.contains(ppid) {
                    inside.insert(pid);
                }
            }
            if inside.len() == before {
                break;
            }
        }
        let total: u64 = inside.iter().filter_map(|pid| ticks.get(pid)).sum();
        Some(total as f64 / clock_ticks_per_second())
    }
}

/// CPU seconds per million frames, from CPU seconds used while `frames` went through.
pub fn seconds_per_million(cpu_seconds: f64, frames: u64) -> Option<f64> {
    (frames > 0).then(|| cpu_seconds / (frames as f64 / 1e6))
}

/// The fields of `/proc/PID/stat` read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ppid: i32,
    /// utime + stime + cutime + cstime, in clock ticks.
    ticks: u64,
}

impl Stat {
    /// Parses a `stat` line; the command name (field 2) may hold spaces and parentheses, so
    /// the fields are counted from its last `)`.
    fn parse(line: &str) -> Option<Stat> {
        let rest = &line[line.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // rest starts at field 3 (state): ppid is field 4, utime..cstime fields 14..=17.
        let ppid = f.get(1)?.parse().ok()?;
        let mut ticks = 0u64;
        for i in 11..=14 {
            ticks += f.get(i)?.parse::<u64>().ok()?;
        }
        Some(Stat { ppid, ticks })
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the C library.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "4242 (linux (r1) x) S 17 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 125 7 3 20 0 1 0 100 1000 10 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        assert_eq!(
            Stat::parse(line),
            Some(Stat {
                ppid: 17,
                ticks: 385
            })
        );
        assert_eq!(Stat::parse("garbage"), None);
        assert_eq!(Stat::parse("1 (x) S"), None);
    }

    #[test]
    fn this_process_and_a_child_are_counted() {
        let me = GuestCpu::of(vec![std::process::id() as i32]);
        let start = me.seconds().expect("a root");
        // Burn some CPU in a child, which must count as ours once reaped.
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .expect("sh runs");
        assert!(status.success());
        let end = me.seconds().expect("a root");
        assert!(end > start, "child CPU time counted: {start} -> {end}");
        assert_eq!(GuestCpu::default().seconds(), None);
    }

    #[test]
    fn per_million() {
        assert_eq!(seconds_per_million(2.0, 4_000_000), Some(0.5));
        assert_eq!(seconds_per_million(2.0, 0), None);
    }
}
