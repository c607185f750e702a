//! Starting UML processes with the runtime's fd convention, and identifying, signalling and
//! waiting for them.
//!
//! Convention: fd 0 and fd 1 are one end of a socket pair (console 0), fd 2 is the log file,
//! fd 3 is one end of a second socket pair (console 1, the agent channel), fds 4.. are the
//! optional [`UmlCommand::extra_fds`]; every other descriptor is close-on-exec. The process is a
//! session leader (`setsid`), so a guest panic's `kill(0, SIGTERM)` stays in its own group.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How a UML process is started.
#[derive(Debug, Default)]
pub struct UmlCommand {
    /// `argv[0]` is the kernel binary (e.g. `/usr/bin/linux`), the rest its arguments.
    pub argv: Vec<String>,
    /// File that receives the process's stderr (fd 2); created or appended to.
    pub log: PathBuf,
    /// Value of `TMPDIR` (where UML puts the guest's RAM file).
    pub tmpdir: PathBuf,
    /// CPUs the process may run on; `None` leaves the affinity as inherited.
    pub cpus: Option<Vec<u32>>,
    /// Descriptors passed as fd 4, 5, ... in order (e.g. for `vecN:transport=fd,fd=4`).
    pub extra_fds: Vec<OwnedFd>,
    /// Capabilities (numbers as in `linux/capability.h`) the process may keep; every other one
    /// is dropped from its bounding set before exec and `no_new_privs` is set, so the guest
    /// runs with only these. `None` leaves the capabilities as inherited.
    pub keep_caps: Option<Vec<u32>>,
}

/// The highest capability number this code knows (CAP_CHECKPOINT_RESTORE).
const CAP_LAST: u32 = 40;

/// Maps capability names such as `CAP_NET_RAW` to their numbers; `None` for an unknown name.
pub fn capability_number(name: &str) -> Option<u32> {
    Some(match name {
        "CAP_NET_BIND_SERVICE" => 10,
        "CAP_NET_BROADCAST" => 11,
        "CAP_NET_ADMIN" => 12,
        "CAP_NET_RAW" => 13,
        "CAP_IPC_LOCK" => 14,
        "CAP_SYS_PTRACE" => 19,
        "CAP_SYS_NICE" => 23,
        "CAP_SYS_RESOURCE" => 24,
        "CAP_BPF" => 39,
        _ => return None,
    })
}

/// A pid plus its start time, so a recorded pid is never confused with a reused one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ProcessId {
    /// The host pid.
    pub pid: i32,
    /// Field 22 of `/proc/PID/stat` (start time in clock ticks since boot).
    pub start_time: u64,
}

/// A started UML process and the runtime's ends of its consoles.
#[derive(Debug)]
pub struct UmlChild {
    /// The process.
    pub pid: ProcessId,
    /// Runtime end of console 0 (the guest's fd 0/1: kernel messages and a shell).
    pub console: UnixStream,
    /// Runtime end of console 1 (the guest's fd 3: the agent channel).
    pub agent: UnixStream,
}

/// Errors of starting and controlling processes.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The command is unusable.
    #[error("invalid UML command: {0}")]
    InvalidCommand(String),
    /// The log file could not be opened.
    #[error(
        "cannot open the guest log file {path}: {source}; its directory must exist and be writable"
    )]
    Log {
        /// The log path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A system call needed to prepare or start the process failed.
    #[error("cannot start {kernel}: {source}")]
    Spawn {
        /// `argv[0]`.
        kernel: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The pid is not a child of this process, so it cannot be waited for with `waitpid`.
    #[error("process {pid} is not a child of this process; wait for it with `wait_gone`, which polls /proc")]
    NotChild {
        /// The pid.
        pid: i32,
    },
    /// Reading `/proc` or another system call failed.
    #[error("{what} failed: {source}")]
    Sys {
        /// What was attempted.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
}

/// Result type of process control.
pub type Result<T> = std::result::Result<T, ProcessError>;

/// Fields of `/proc/PID/stat` this crate needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) state: char,
    pub(crate) pgrp: i32,
    pub(crate) session: i32,
    pub(crate) start_time: u64,
}

/// Parses `/proc/PID/stat` text (the comm field may contain spaces and parentheses).
pub(crate) fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3].
    Some(Stat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

pub(crate) fn read_stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

impl ProcessId {
    /// Identifies the running process `pid` by reading its start time.
    pub fn of(pid: i32) -> Result<Self> {
        let stat =
            (pid > 0)
                .then(|| read_stat(pid))
                .flatten()
                .ok_or_else(|| ProcessError::Sys {
                    what: format!("reading /proc/{pid}/stat"),
                    source: io::Error::from_raw_os_error(libc::ESRCH),
                })?;
        Ok(ProcessId {
            pid,
            start_time: stat.start_time,
        })
    }

    /// True while this exact process exists and is not a zombie.
    pub fn is_alive(&self) -> bool {
        match read_stat(self.pid) {
            Some(s) => s.start_time == self.start_time && s.state != 'Z' && s.state != 'X',
            None => false,
        }
    }

    /// Pids of the processes still in this process's group and session (the UML process and
    /// its helpers), including zombies. Empty once everything is gone.
    pub fn group_members(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for p in umlvnf_host::processes() {
            let pid = p.pid;
            if let Some(s) = read_stat(pid) {
                // A helper started after the leader; a recycled pid leading an unrelated group
                // would have to start after every member of ours ended.
                if s.pgrp == self.pid && s.session == self.pid && s.start_time >= self.start_time {
                    out.push(pid);
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process group led by this process.
    ///
    /// Returns `Ok(false)` without signalling when neither the process nor any member of its
    /// group remains (so a reused pid is never signalled).
    pub fn kill_group(&self, signal: i32) -> Result<bool> {
        let leader_here = matches!(read_stat(self.pid), Some(s) if s.start_time == self.start_time);
        if !leader_here && self.group_members().is_empty() {
            return Ok(false);
        }
        // SAFETY: kill has no memory-safety preconditions.
        let rc = unsafe { libc::kill(-self.pid, signal) };
        if rc == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Ok(false);
        }
        Err(ProcessError::Sys {
            what: format!("sending signal {signal} to process group {}", self.pid),
            source: e,
        })
    }
}

/// Starts a UML process with the runtime's fd convention (see the module documentation).
pub fn spawn(cmd: &UmlCommand) -> Result<UmlChild> {
    let kernel = cmd
        .argv
        .first()
        .ok_or_else(|| {
            ProcessError::InvalidCommand("argv is empty; argv[0] must be the kernel binary".into())
        })?
        .clone();
    if let Some(arg) = cmd.argv.iter().find(|a| a.contains('\0')) {
        return Err(ProcessError::InvalidCommand(format!(
            "argument {arg:?} contains a NUL byte; arguments must be NUL-free"
        )));
    }
    let cpu_set = match &cmd.cpus {
        Some(cpus) => Some(cpu_set(cpus)?),
        None => None,
    };
    let kernel_ref = &kernel;
    let sys = |what: &'static str| {
        move |source: io::Error| ProcessError::Spawn {
            kernel: kernel_ref.clone(),
            source: io::Error::new(source.kind(), format!("{what}: {source}")),
        }
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&cmd.log)
        .map_err(|source| ProcessError::Log {
            path: cmd.log.clone(),
            source,
        })?;
    let (console, guest_console) = UnixStream::pair().map_err(sys("creating the console pair"))?;
    let (agent, guest_agent) = UnixStream::pair().map_err(sys("creating the agent pair"))?;
    let guest_console_out = guest_console
        .try_clone()
        .map_err(sys("duplicating the console socket"))?;

    // Descriptors for fd 3, 4, ...: moved above every target so dup2 never clobbers a source.
    let mut sources: Vec<RawFd> = vec![guest_agent.as_raw_fd()];
    sources.extend(cmd.extra_fds.iter().map(|f| f.as_raw_fd()));
    let floor = 3 + sources.len() as RawFd + 8;
    let mut moved: Vec<OwnedFd> = Vec::with_capacity(sources.len());
    for fd in sources {
        // SAFETY: fd is a live descriptor borrowed from guest_agent or extra_fds.
        let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, floor) };
        if new < 0 {
            return Err(sys("duplicating a descriptor")(io::Error::last_os_error()));
        }
        // SAFETY: fcntl just returned this new descriptor and nothing else owns it.
        moved.push(unsafe { OwnedFd::from_raw_fd(new) });
    }
    let moved_raw: Vec<RawFd> = moved.iter().map(|f| f.as_raw_fd()).collect();
    let first_free = 3 + moved_raw.len() as libc::c_uint;
    let max_fd = max_fd();

    let mut command = Command::new(&kernel);
    command
        .args(&cmd.argv[1..])
        .env("TMPDIR", &cmd.tmpdir)
        .stdin(Stdio::from(OwnedFd::from(guest_console)))
        .stdout(Stdio::from(OwnedFd::from(guest_console_out)))
        .stderr(Stdio::from(log));
    let drop_caps: Option<Vec<u32>> = cmd
        .keep_caps
        .as_ref()
        .map(|keep| (0..=CAP_LAST).filter(|c| !keep.contains(c)).collect());
    let pre_exec = move || -> io::Result<()> {
        // Only async-signal-safe system calls below: this runs between fork and exec.
        if let Some(drop) = &drop_caps {
            for &cap in drop {
                // SAFETY: prctl with integer arguments; EINVAL for a capability this kernel
                // does not know is harmless.
                unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            }
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // UML adds the gap between its binary and the (randomised) program break to the
        // guest's physical memory and keeps it reserved, with a page map over all of it: with
        // address randomisation a `mem=64M` guest has anywhere from 34 to 53 MB to use, a
        // different amount at every boot. Without it, every boot gets the same memory.
        // SAFETY: personality with 0xffffffff only reads the persona; then sets a flag.
        unsafe {
            let persona = libc::personality(0xffff_ffff);
            if persona >= 0 {
                libc::personality((persona | libc::ADDR_NO_RANDOMIZE) as libc::c_ulong);
            }
        }
        // SAFETY: setsid has no preconditions.
        if unsafe { libc::setsid() } < 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(set) = &cpu_set {
            // SAFETY: set is a fully initialised cpu_set_t of the stated size.
            let rc =
                unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        for (i, &src) in moved_raw.iter().enumerate() {
            // SAFETY: src is open (inherited across fork); dup2 onto a free target clears
            // close-on-exec on the target.
            if unsafe { libc::dup2(src, 3 + i as RawFd) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: close_range only changes descriptor flags of this (child) process.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                first_free,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        if rc != 0 {
            for fd in first_free as RawFd..max_fd {
                // SAFETY: F_SETFD on a possibly closed fd only fails with EBADF.
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
        }
        Ok(())
    };
    // SAFETY: the closure only makes async-signal-safe system calls and allocates nothing.
    unsafe { command.pre_exec(pre_exec) };
    let child = command.spawn().map_err(|source| ProcessError::Spawn {
        kernel: cmd.argv[0].clone(),
        source,
    })?;
    drop(command);
    drop(moved);
    drop(guest_agent);
    let pid = child.id() as i32;
    drop(child);
    let start_time = read_stat(pid)
        .map(|s| s.start_time)
        .ok_or_else(|| ProcessError::Sys {
            what: format!("reading /proc/{pid}/stat of the new process"),
            source: io::Error::from_raw_os_error(libc::ESRCH),
        })?;
    Ok(UmlChild {
        pid: ProcessId { pid, start_time },
        console,
        agent,
    })
}

fn max_fd() -> RawFd {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit out-parameter.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur.min(65_536) as RawFd
    } else {
        1024
    }
}

fn cpu_set(cpus: &[u32]) -> Result<libc::cpu_set_t> {
    if cpus.is_empty() {
        return Err(ProcessError::InvalidCommand(
            "the CPU list is empty; give at least one CPU number or no list".into(),
        ));
    }
    // SAFETY: cpu_set_t is a plain bit array; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>() as u32;
    for &cpu in cpus {
        if cpu >= max {
            return Err(ProcessError::InvalidCommand(format!(
                "CPU {cpu} is out of range; CPU numbers must be below {max}"
            )));
        }
        // SAFETY: cpu is below the bit size of the set, checked above.
        unsafe { libc::CPU_SET(cpu as usize, &mut set) };
    }
    Ok(set)
}

/// Waits up to `timeout` for the child process `pid` (started by this process) to exit, and
/// reaps it: `Ok(Some(status))` when it exited, `Ok(None)` if it is still running.
/// A pid that is not a child of this process, or that no longer exists (already reaped, or
/// reused by a newer process), gives [`ProcessError::NotChild`]; use
/// [`wait_gone`] for those (e.g. a pid read back from a state file).
pub fn wait_exit(pid: &ProcessId, timeout: Duration) -> Result<Option<ExitStatus>> {
    // A pid that vanished or now belongs to a newer process must not be waited for: it could
    // be another child of ours that reused the number.
    if !matches!(read_stat(pid.pid), Some(s) if s.start_time == pid.start_time) {
        return Err(ProcessError::NotChild { pid: pid.pid });
    }
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: status is a valid out-parameter; WNOHANG never blocks.
        let rc = unsafe { libc::waitpid(pid.pid, &mut status, libc::WNOHANG) };
        if rc == pid.pid {
            return Ok(Some(ExitStatus::from_raw(status)));
        }
        if rc < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => return Err(ProcessError::NotChild { pid: pid.pid }),
                _ => {
                    return Err(ProcessError::Sys {
                        what: format!("waiting for process {}", pid.pid),
                        source: e,
                    })
                }
            }
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Polls `/proc` until the process `pid` (child or not) no longer exists or is a zombie.
/// Returns true if it ended within `timeout`. Does not reap.
pub fn wait_gone(pid: &ProcessId, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if !pid.is_alive() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Polls until no live process of `pid`'s group remains. Zombies of the group that are
/// children of this process (the leader, or helpers re-parented to us after
/// [`become_subreaper`]) are reaped on the way. Returns true if the group emptied within
/// `timeout`.
pub fn wait_group_gone(pid: &ProcessId, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let mut live = false;
        for member in pid.group_members() {
            match read_stat(member) {
                Some(s) if s.state == 'Z' || s.state == 'X' => {
                    let mut status: libc::c_int = 0;
                    // SAFETY: status is a valid out-parameter; WNOHANG never blocks. Fails
                    // harmlessly with ECHILD when the zombie is not our child.
                    unsafe { libc::waitpid(member, &mut status, libc::WNOHANG) };
                }
                Some(_) => live = true,
                None => {}
            }
        }
        if !live {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`): helper processes of a
/// guest whose UML main process died are re-parented to it instead of to pid 1, so
/// [`wait_group_gone`] and [`crate::stop()`] can reap them. Call once at start-up; without it,
/// zombies of dead guests depend on pid 1 reaping them (which some container inits never do).
pub fn become_subreaper() -> Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer argument only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        return Err(ProcessError::Sys {
            what: "prctl(PR_SET_CHILD_SUBREAPER)".into(),
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_handles_odd_comm() {
        let text =
            "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.pgrp, 1234);
        assert_eq!(s.session, 1234);
        assert_eq!(s.start_time, 987654);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn own_process_id_is_alive_and_a_wrong_start_time_is_not() {
        let me = ProcessId::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        let other = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!other.is_alive());
        assert!(ProcessId::of(-5).is_err());
        // Never signals a group that does not exist.
        let ghost = ProcessId {
            pid: i32::MAX - 7,
            start_time: 1,
        };
        assert!(!ghost.kill_group(0).unwrap());
    }

    #[test]
    fn rejects_bad_commands() {
        let empty = UmlCommand::default();
        assert!(matches!(
            spawn(&empty),
            Err(ProcessError::InvalidCommand(_))
        ));
        let no_cpus = UmlCommand {
            argv: vec!["/bin/true".into()],
            log: "/dev/null".into(),
            tmpdir: "/tmp".into(),
            cpus: Some(vec![]),
            ..Default::default()
        };
        assert!(matches!(
            spawn(&no_cpus),
            Err(ProcessError::InvalidCommand(_))
        ));
    }
}
