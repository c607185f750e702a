//! CPU time and memory of a UML guest's host processes, read from `/proc`.
//!
//! A guest is a process group whose id is the leader's pid. CPU time is the sum of
//! `utime + stime + cutime + cstime` over the group's live processes (the `c` parts keep the
//! time of guest processes that exited and were reaped inside the group). Memory is the sum of
//! RSS over the group's distinct address spaces: UML's helper processes share the kernel's
//! address space (`CLONE_VM`), so processes whose memory `kcmp(KCMP_VM)` finds shared are
//! counted once.

use std::collections::HashMap;

/// Resource use of one process group.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GroupUsage {
    /// User plus system CPU seconds.
    pub cpu_seconds: f64,
    /// Resident memory in bytes, each shared address space counted once.
    pub rss_bytes: u64,
    /// Number of live processes in the group.
    pub processes: u32,
}

/// Fields of `/proc/PID/stat` used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub pgrp: i32,
    /// utime + stime + cutime + cstime in clock ticks.
    pub ticks: u64,
    /// Resident pages.
    pub rss_pages: u64,
}

/// Parses the content of `/proc/PID/stat`; `None` when it is malformed.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command name (field 2) may contain spaces and parentheses: fields resume after the
    // last `)`. Field N (1-based) is then at index N - 3.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i)?.parse::<i64>().ok();
    let pgrp = i32::try_from(num(2)?).ok()?;
    let ticks = [11, 12, 13, 14]
        .iter()
        .map(|&i| num(i).map(|v| v.max(0) as u64))
        .sum::<Option<u64>>()?;
    let rss_pages = num(21)?.max(0) as u64;
    Some(ProcStat {
        pgrp,
        ticks,
        rss_pages,
    })
}

/// Whether processes `a` and `b` share one address space; `false` when the kernel cannot say.
fn same_vm(a: i32, b: i32) -> bool {
    const KCMP_VM: libc::c_long = 1;
    // SAFETY: kcmp only reads its integer arguments; no memory is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            a as libc::c_long,
            b as libc::c_long,
            KCMP_VM,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    };
    r == 0
}

fn sysconf(name: libc::c_int, fallback: u64) -> u64 {
    // SAFETY: sysconf has no memory arguments.
    let v = unsafe { libc::sysconf(name) };
    if v > 0 {
        v as u64
    } else {
        fallback
    }
}

/// Reads `/proc` once and returns the usage of each group in `pgids` that has at least one
/// live process.
pub fn group_usage(pgids: &[i32]) -> HashMap<i32, GroupUsage> {
    let mut out: HashMap<i32, GroupUsage> = HashMap::new();
    if pgids.is_empty() {
        return out;
    }
    let tick = sysconf(libc::_SC_CLK_TCK, 100) as f64;
    let page = sysconf(libc::_SC_PAGESIZE, 4096);
    let mut spaces: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in crate::processes() {
        let pid = p.pid;
        // Processes may exit between listing and reading: skip them.
        let Some(text) = p.stat() else {
            continue;
        };
        let Some(stat) = parse_stat(&text) else {
            continue;
        };
        if !pgids.contains(&stat.pgrp) {
            continue;
        }
        let usage = out.entry(stat.pgrp).or_default();
        usage.processes += 1;
        usage.cpu_seconds += stat.ticks as f64 / tick;
        let seen = spaces.entry(stat.pgrp).or_default();
        if !seen.iter().any(|&other| same_vm(other, pid)) {
            seen.push(pid);
            usage.rss_bytes += stat.rss_pages * page;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_name() {
        let text = "4242 (a) b (c)) S 1 4240 4240 0 -1 4194560 100 0 0 0 \
                    7 3 2 1 20 0 1 0 123 456789 321 18446744073709551615";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.pgrp, 4240);
        assert_eq!(s.ticks, 13);
        assert_eq!(s.rss_pages, 321);
        assert!(parse_stat("12 (x) S 1").is_none());
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn own_process_group_has_usage() {
        // SAFETY: getpgrp has no arguments and cannot fail.
        let pgrp = unsafe { libc::getpgrp() };
        let usage = group_usage(&[pgrp]);
        let mine = usage.get(&pgrp).expect("this process's group is in /proc");
        assert!(mine.processes >= 1);
        assert!(mine.rss_bytes > 1 << 20, "{mine:?}");
        assert!(mine.cpu_seconds >= 0.0);
        assert!(group_usage(&[]).is_empty());
    }

    #[test]
    fn threads_of_one_process_share_vm() {
        // SAFETY: getpid has no arguments and cannot fail.
        let me = unsafe { libc::getpid() };
        assert!(same_vm(me, me));
    }
}
