//! The fd convention of `spawn`, checked on a plain shell instead of a UML kernel.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use umlvnf_guest::{spawn, wait_exit, ProcessId, UmlCommand};

fn read_until(stream: &mut UnixStream, pattern: &str) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&got).contains(pattern) {
        let n = stream.read(&mut buf).expect("read");
        assert!(
            n > 0,
            "closed before {pattern:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Kills the child's group even when an assertion fails.
struct KillOnDrop(ProcessId);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill_group(libc::SIGKILL);
        let _ = wait_exit(&self.0, Duration::from_secs(5));
    }
}

#[test]
fn spawn_sets_fds_session_tmpdir_and_closes_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    // A descriptor without CLOEXEC in the parent must not leak into the child.
    let leaky = std::fs::File::open("/proc/self/stat").unwrap();
    // SAFETY: dup of a valid fd; the result is owned below.
    let leaked = unsafe { libc::dup(leaky.as_raw_fd()) };
    assert!(leaked >= 0);
    // SAFETY: leaked was just returned by dup and is owned by nobody else.
    let _leaked = unsafe { OwnedFd::from_raw_fd(leaked) };

    let (extra_mine, extra_theirs) = UnixStream::pair().unwrap();
    let cmd = UmlCommand {
        argv: vec![
            "/bin/busybox".into(),
            "sh".into(),
            "-c".into(),
            "echo on-console; echo on-log >&2; echo on-agent >&3; echo on-extra >&4; \
             echo persona=$(cat /proc/self/personality); echo TMPDIR=$TMPDIR; \
             exec /bin/sleep 30"
                .into(),
        ],
        log: dir.path().join("stderr.log"),
        tmpdir: dir.path().to_path_buf(),
        cpus: Some(vec![0]),
        extra_fds: vec![OwnedFd::from(extra_theirs)],
        keep_caps: Some(vec![13]),
    };
    let mut child = spawn(&cmd).unwrap();
    let pid = child.pid;
    let _guard = KillOnDrop(pid);
    let console = read_until(
        &mut child.console,
        &format!("TMPDIR={}\n", dir.path().display()),
    );
    assert!(console.contains("on-console"), "{console}");
    // Address randomisation is off (ADDR_NO_RANDOMIZE, 0x0040000), so UML's guest memory does
    // not depend on where the program break landed.
    let persona = console
        .lines()
        .find_map(|l| l.strip_prefix("persona="))
        .expect("the child printed its personality");
    let persona = u32::from_str_radix(persona.trim(), 16).expect("hex personality");
    assert_ne!(persona & 0x0040000, 0, "personality {persona:#x}");
    read_until(&mut child.agent, "on-agent");
    let mut extra_mine = extra_mine;
    read_until(&mut extra_mine, "on-extra");

    // Wait for the exec into sleep, then look at its descriptors from outside.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(format!("/proc/{}/comm", pid.pid)).unwrap() != "sleep\n" {
        assert!(Instant::now() < deadline, "child never exec'd sleep");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{}/fd", pid.pid))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    fds.sort_unstable();
    assert_eq!(
        fds,
        vec![0, 1, 2, 3, 4],
        "only the convention's fds may be open"
    );
    let link = |fd: i32| std::fs::read_link(format!("/proc/{}/fd/{fd}", pid.pid)).unwrap();
    assert_eq!(link(0), link(1), "fd 0 and 1 are the same console socket");
    assert!(link(0).to_string_lossy().starts_with("socket:"));
    assert!(link(3).to_string_lossy().starts_with("socket:"));
    assert_ne!(link(0), link(3));
    assert_eq!(link(2), dir.path().join("stderr.log"));

    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.pid)).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(fields[2].parse::<i32>().unwrap(), pid.pid, "process group");
    assert_eq!(fields[3].parse::<i32>().unwrap(), pid.pid, "session");
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.pid)).unwrap();
    assert!(status.contains("Cpus_allowed_list:\t0\n"), "{status}");
    assert!(status.contains("NoNewPrivs:\t1\n"), "{status}");
    if nix_is_root() {
        // Only CAP_NET_RAW (13) is left, in the bounding set and so in what root gets.
        assert!(status.contains("CapBnd:\t0000000000002000\n"), "{status}");
        assert!(status.contains("CapEff:\t0000000000002000\n"), "{status}");
    }

    assert!(pid.is_alive());
    assert!(pid.kill_group(libc::SIGKILL).unwrap());
    let exit = wait_exit(&pid, Duration::from_secs(10))
        .unwrap()
        .expect("exit");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(exit.signal(), Some(libc::SIGKILL));
    assert!(!pid.is_alive());
    // Reaped: waiting again is refused instead of touching a reused pid.
    assert!(wait_exit(&pid, Duration::ZERO).is_err());
    assert!(std::fs::read_to_string(dir.path().join("stderr.log"))
        .unwrap()
        .contains("on-log"));
}

#[test]
fn spawn_reports_a_missing_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = UmlCommand {
        argv: vec!["/nonexistent/linux".into()],
        log: dir.path().join("log"),
        tmpdir: dir.path().to_path_buf(),
        cpus: None,
        extra_fds: Vec::new(),
        keep_caps: None,
    };
    let err = spawn(&cmd).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/linux"), "{err}");
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
