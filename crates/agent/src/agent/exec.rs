//! Running one command: stdin from memory, captured stdout/stderr, a timeout that kills the
//! process group, and the exit status from the [`Supervisor`].

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use super::supervisor::Supervisor;
use crate::protocol::MAX_EXEC_OUTPUT;

/// After the process exits, keep reading output this long for background processes that still
/// hold the pipes, then give up on them.
const DRAIN_GRACE: Duration = Duration::from_millis(200);

/// The outcome of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    /// Exit code, or 128 + signal number.
    pub status: i32,
    /// Captured stdout (capped at [`MAX_EXEC_OUTPUT`]).
    pub stdout: Vec<u8>,
    /// Captured stderr (capped at [`MAX_EXEC_OUTPUT`]).
    pub stderr: Vec<u8>,
    /// Whether output was dropped because of the cap.
    pub truncated: bool,
    /// Whether the process group was killed because the timeout passed.
    pub timed_out: bool,
}

/// Converts a raw wait status to an exit code, or 128 + signal.
pub fn exit_code(raw: i32) -> i32 {
    if libc::WIFEXITED(raw) {
        libc::WEXITSTATUS(raw)
    } else if libc::WIFSIGNALED(raw) {
        128 + libc::WTERMSIG(raw)
    } else {
        255
    }
}

/// Runs `argv` directly (no shell) in a new process group with cwd `/`, feeding it `stdin`
/// (or `/dev/null`), and waits for it, for at most `timeout` before killing its process group.
pub fn run(
    sup: &mut Supervisor,
    argv: &[String],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> io::Result<ExecResult> {
    let Some((program, args)) = argv.split_first() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the command is empty; give at least a program name",
        ));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir("/")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    super::supervisor::unblock_signals_in_child(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("could not start {program}: {e}")))?;
    let pid = child.id() as i32;
    sup.watch(pid);

    let mut input = Pipe::new(child.stdin.take());
    let mut out = OutPipe::new(child.stdout.take().map(Source::Out));
    let mut err = OutPipe::new(child.stderr.take().map(Source::Err));
    let data = stdin.unwrap_or(&[]);
    let mut written = 0usize;
    if data.is_empty() {
        input.close();
    }

    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let mut status: Option<i32> = None;
    let mut exited_at: Option<Instant> = None;
    loop {
        sup.reap();
        if status.is_none() {
            status = sup.take_status(pid);
        }
        if status.is_some() {
            let at = *exited_at.get_or_insert_with(Instant::now);
            if (out.fd().is_none() && err.fd().is_none()) || at.elapsed() >= DRAIN_GRACE {
                break;
            }
        }
        let now = Instant::now();
        if now >= deadline && !timed_out {
            timed_out = true;
            // SAFETY: kill only sends a signal to the child's process group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }

        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(4);
        let mut push = |fd: Option<RawFd>, events: libc::c_short| {
            if let Some(fd) = fd {
                fds.push(libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                });
            }
        };
        push(input.fd(), libc::POLLOUT);
        push(out.fd(), libc::POLLIN);
        push(err.fd(), libc::POLLIN);
        push(sup.wake_fd(), libc::POLLIN);
        let mut wait = Duration::from_millis(if sup.wake_fd().is_some() { 100 } else { 10 });
        if !timed_out {
            wait = wait.min(deadline.saturating_duration_since(now));
        }
        poll(&mut fds, wait)?;
        for p in &fds {
            if p.revents == 0 {
                continue;
            }
            if Some(p.fd) == input.fd() {
                match input.write(&data[written..]) {
                    Ok(n) => {
                        written += n;
                        if written >= data.len() {
                            input.close();
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => input.close(), // EPIPE: the process does not read stdin
                }
            } else if Some(p.fd) == out.fd() {
                out.read_some()?;
            } else if Some(p.fd) == err.fd() {
                err.read_some()?;
            } else if Some(p.fd) == sup.wake_fd() {
                sup.on_wake();
            }
        }
    }
    sup.forget(pid);
    // The Child handle was never waited through std; the supervisor reaped it.
    drop(child);
    Ok(ExecResult {
        status: exit_code(status.unwrap_or(0)),
        truncated: out.truncated || err.truncated,
        stdout: out.buf,
        stderr: err.buf,
        timed_out,
    })
}

fn poll(fds: &mut [libc::pollfd], wait: Duration) -> io::Result<()> {
    let ms = wait.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd of the given length.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        for p in fds.iter_mut() {
            p.revents = 0;
        }
    }
    Ok(())
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on an fd we own; F_GETFL/F_SETFL have no memory-safety preconditions.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

struct Pipe(Option<ChildStdin>);

impl Pipe {
    fn new(p: Option<ChildStdin>) -> Self {
        if let Some(p) = &p {
            set_nonblocking(p.as_raw_fd());
        }
        Pipe(p)
    }
    fn fd(&self) -> Option<RawFd> {
        self.0.as_ref().map(|p| p.as_raw_fd())
    }
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Some(p) => p.write(&data[..data.len().min(64 * 1024)]),
            None => Ok(0),
        }
    }
    fn close(&mut self) {
        self.0 = None;
    }
}

enum Source {
    Out(ChildStdout),
    Err(ChildStderr),
}

struct OutPipe {
    src: Option<Source>,
    buf: Vec<u8>,
    truncated: bool,
}

impl OutPipe {
    fn new(src: Option<Source>) -> Self {
        if let Some(s) = &src {
            set_nonblocking(match s {
                Source::Out(o) => o.as_raw_fd(),
                Source::Err(e) => e.as_raw_fd(),
            });
        }
        OutPipe {
            src,
            buf: Vec::new(),
            truncated: false,
        }
    }
    fn fd(&self) -> Option<RawFd> {
        self.src.as_ref().map(|s| match s {
            Source::Out(o) => o.as_raw_fd(),
            Source::Err(e) => e.as_raw_fd(),
        })
    }
    fn read_some(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 64 * 1024];
        let r = match &mut self.src {
            Some(Source::Out(o)) => o.read(&mut chunk),
            Some(Source::Err(e)) => e.read(&mut chunk),
            None => return Ok(()),
        };
        match r {
            Ok(0) => self.src = None,
            Ok(n) => {
                let room = MAX_EXEC_OUTPUT.saturating_sub(self.buf.len());
                if n > room {
                    self.truncated = true;
                }
                self.buf.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.src = None,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn captures_status_stdout_and_stderr() {
        let mut sup = Supervisor::new(false);
        let r = run(
            &mut sup,
            &sh("echo out; echo err >&2; exit 3"),
            None,
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(r.status, 3);
        assert_eq!(r.stdout, b"out\n");
        assert_eq!(r.stderr, b"err\n");
        assert!(!r.truncated && !r.timed_out);
    }

    #[test]
    fn feeds_large_stdin() {
        let mut sup = Supervisor::new(false);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let r = run(
            &mut sup,
            &["cat".to_string()],
            Some(&data),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(r.status, 0);
        assert_eq!(r.stdout, data);
    }

    #[test]
    fn timeout_kills_the_process_group() {
        let mut sup = Supervisor::new(false);
        let start = Instant::now();
        let r = run(
            &mut sup,
            &sh("sleep 30 & sleep 30; echo never"),
            None,
            Duration::from_millis(300),
        )
        .unwrap();
        assert!(r.timed_out);
        assert_eq!(r.status, 128 + libc::SIGKILL);
        assert!(r.stdout.is_empty());
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn caps_output_and_reports_truncation() {
        let mut sup = Supervisor::new(false);
        let r = run(
            &mut sup,
            &sh("head -c 5000000 /dev/zero"),
            None,
            Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(r.status, 0);
        assert!(r.truncated);
        assert_eq!(r.stdout.len(), MAX_EXEC_OUTPUT);
    }

    #[test]
    fn background_process_holding_stdout_does_not_block() {
        let mut sup = Supervisor::new(false);
        let start = Instant::now();
        let r = run(
            &mut sup,
            &sh("sleep 5 & echo started"),
            None,
            Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(r.status, 0);
        assert_eq!(r.stdout, b"started\n");
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn missing_program_is_an_error() {
        let mut sup = Supervisor::new(false);
        let e = run(
            &mut sup,
            &["/nonexistent/prog".to_string()],
            None,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("could not start /nonexistent/prog"));
        assert!(run(&mut sup, &[], None, Duration::from_secs(1)).is_err());
    }
}
