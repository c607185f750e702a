//! Real UML guests: readiness and user notifications, mconsole, consoles, stopping, panics.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{require_root, Lab};
use umlvnf_guest::{
    stop, wait_exit, ConsoleError, Mconsole, MconsoleError, Notification, NotifySocket, ProcessId,
    StopStep,
};

const BOOT: Duration = Duration::from_secs(60);

/// Waits for a notification matching `want`, returning it; panics with the UML log otherwise.
fn expect_notification(
    lab: &Lab,
    notify: &NotifySocket,
    what: &str,
    want: impl Fn(&Notification) -> bool,
) -> umlvnf_guest::Received {
    let deadline = Instant::now() + BOOT;
    while Instant::now() < deadline {
        if let Some(r) = notify.recv_from(Duration::from_millis(500)).unwrap() {
            if want(&r.notification) {
                return r;
            }
        }
    }
    panic!("no {what} notification; UML log:\n{}", lab.log_text());
}

fn read_until(stream: &mut UnixStream, pattern: &str, timeout: Duration) -> String {
    stream.set_read_timeout(Some(timeout)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&got).contains(pattern) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "waiting for {pattern:?}: {e}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn assert_group_gone(pid: &ProcessId) {
    let left = pid.group_members();
    assert!(
        left.is_empty(),
        "processes of group {} remain: {left:?}",
        pid.pid
    );
    assert!(!pid.is_alive());
}

#[test]
fn root_guest_boots_reports_talks_and_stops_gracefully() {
    require_root();
    let mut lab = Lab::new("gs");
    let mut cmd = lab.command("graceful");
    cmd.cpus = Some(vec![1]);
    let (mut child, pump) = lab.boot(&cmd);
    let pid = child.pid;

    // Process shape: session leader, pinned, TMPDIR set.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.pid)).unwrap();
    let sid: i32 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(sid, pid.pid, "UML must lead its own session");
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.pid)).unwrap();
    assert!(status.contains("Cpus_allowed_list:\t1\n"), "{status}");
    let environ = std::fs::read(format!("/proc/{}/environ", pid.pid)).unwrap();
    assert!(environ.split(|&b| b == 0).any(|v| v == b"TMPDIR=/dev/shm"));

    // Readiness: type 0 names this guest's mconsole socket and comes from the UML process.
    let ready = expect_notification(&lab, &lab.notify, "socket-ready", |n| {
        matches!(n, Notification::SocketReady { .. })
    });
    assert_eq!(
        ready.notification,
        Notification::SocketReady {
            mconsole: lab.mconsole_path()
        }
    );
    assert_eq!(ready.sender_pid, Some(pid.pid));
    let hello = expect_notification(&lab, &lab.notify, "user", |n| {
        matches!(n, Notification::User { .. })
    });
    assert_eq!(
        hello.notification,
        Notification::User {
            message: "hello\n".into()
        }
    );

    // mconsole.
    let mc = Mconsole::connect(&lab.mconsole_path()).unwrap();
    let version = mc.version().unwrap();
    // The answer is the guest's uname: "Linux <nodename> <release> <build> <machine>".
    let release = &common::appliance_kernel().release;
    assert_eq!(
        version.split_whitespace().nth(2),
        Some(release.as_str()),
        "version {version:?} does not name release {release}"
    );
    let meminfo = mc.proc_read("meminfo").unwrap();
    assert!(meminfo.contains("MemTotal:"), "{meminfo}");
    // `mounts` is `self/mounts`, and "self" is the kernel worker serving the request: on current
    // kernels its root is not the guest's root and the answer is empty. Init's view is the guest's.
    let mounts = mc.proc_read("1/mounts").unwrap();
    assert!(mounts.contains("/dev/root / ext4 rw"), "{mounts}");
    // net/* files have no kernel read support (`Read of file failed`, 6.1 and 7.3 alike).
    match mc.proc_read("net/dev") {
        Ok(text) => assert!(text.contains("lo:"), "{text}"),
        Err(MconsoleError::Command { message, .. }) => {
            assert!(message.contains("Read of file failed"), "{message}")
        }
        Err(e) => panic!("unexpected error {e}"),
    }
    match mc.command("no-such-command", Duration::from_secs(5)) {
        Err(MconsoleError::Command { message, .. }) => assert!(!message.is_empty()),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let help = mc.sysrq('h').unwrap();
    assert!(help.contains("HELP"), "{help}");
    assert!(matches!(
        mc.command("proc /etc/p\u{e4}sswd", Duration::from_secs(1)),
        Err(MconsoleError::NotAscii { .. })
    ));

    // Console 0: the marker is logged; one client can attach and run a command.
    assert!(
        pump.wait_for(b"UMLVNF-MARKER-BOOTED", BOOT),
        "console tail: {}",
        String::from_utf8_lossy(&pump.tail(2000))
    );
    let log = std::fs::read_to_string(lab.path("console.log")).unwrap();
    assert!(log.contains("UMLVNF-MARKER-BOOTED"));
    let (mut user, server_side) = UnixStream::pair().unwrap();
    pump.attach(server_side).unwrap();
    assert!(matches!(
        pump.attach(UnixStream::pair().unwrap().0),
        Err(ConsoleError::Busy)
    ));
    user.write_all(b"echo attached-$((6*7))\n").unwrap();
    read_until(&mut user, "attached-42", BOOT);

    // Console 1 (fd 3) is the agent channel.
    read_until(&mut child.agent, "agent-ready", BOOT);

    // Graceful stop: cad reaches init, which powers off.
    let t0 = Instant::now();
    let outcome = stop(&pid, &lab.mconsole_path(), Duration::from_secs(20));
    assert_eq!(outcome.step, StopStep::Cad, "UML log:\n{}", lab.log_text());
    assert!(outcome.status.is_some(), "the child must be reaped");
    eprintln!("graceful stop took {:?}", t0.elapsed());
    assert!(pump.wait_for(b"UMLVNF-GOT-CAD", Duration::from_secs(5)));
    assert_group_gone(&pid);
    // The client sees the console close.
    let rest = read_until(&mut user, "\u{0}never", Duration::from_secs(10));
    let _ = rest;
    assert!(!pump.is_attached());
}

#[test]
fn root_stop_escalates_to_halt_when_the_guest_ignores_cad() {
    require_root();
    let mut lab = Lab::new("ic");
    let cmd = lab.command("ignore_cad");
    let (_child, _pump) = lab.boot(&cmd);
    let pid = lab.pid.unwrap();
    // "hello" is written after init set its traps.
    expect_notification(&lab, &lab.notify, "user", |n| {
        matches!(n, Notification::User { .. })
    });
    let outcome = stop(&pid, &lab.mconsole_path(), Duration::from_secs(1));
    assert_eq!(outcome.step, StopStep::Halt, "UML log:\n{}", lab.log_text());
    assert_group_gone(&pid);
}

#[test]
fn root_stop_without_mconsole_falls_back_to_signals() {
    require_root();
    let mut lab = Lab::new("sg");
    let cmd = lab.command("graceful");
    let (_child, _pump) = lab.boot(&cmd);
    let pid = lab.pid.unwrap();
    expect_notification(&lab, &lab.notify, "user", |n| {
        matches!(n, Notification::User { .. })
    });
    let bogus = lab.path("no-such-mconsole");
    let outcome = stop(&pid, &bogus, Duration::from_secs(1));
    assert!(
        matches!(outcome.step, StopStep::Sigterm | StopStep::Sigkill),
        "{outcome:?}"
    );
    assert_group_gone(&pid);
    // Stopping again reports that nothing was running.
    assert_eq!(
        stop(&pid, &bogus, Duration::from_secs(1)).step,
        StopStep::AlreadyGone
    );
}

#[test]
fn root_guest_panic_is_reported_and_spares_the_runtime() {
    require_root();
    let mut lab = Lab::new("pn");
    let cmd = lab.command("panic");
    let (_child, pump) = lab.boot(&cmd);
    let pid = lab.pid.unwrap();
    let panic = expect_notification(&lab, &lab.notify, "panic", |n| {
        matches!(n, Notification::Panic { .. })
    });
    match &panic.notification {
        Notification::Panic { message } => {
            assert!(message.contains("kill init"), "panic message {message:?}")
        }
        _ => unreachable!(),
    }
    assert_eq!(panic.sender_pid, Some(pid.pid));
    let status = wait_exit(&pid, BOOT)
        .unwrap()
        .expect("the panicked guest must exit");
    eprintln!("panicked guest exit status: {status:?}");
    assert!(pump.wait_for(b"UMLVNF-INIT-EXITS", Duration::from_secs(5)));
    // We are still here (UML's kill(0, SIGTERM) hit only its own group) and nothing remains.
    assert!(ProcessId::of(std::process::id() as i32).unwrap().is_alive());
    // After a panic the leader is gone but its helper processes linger in the group (stopped,
    // traced): stop() on the dead guest reports AlreadyGone and clears them.
    let leftovers = pid.group_members();
    eprintln!("helpers left after the panic: {leftovers:?}");
    let outcome = stop(&pid, &lab.mconsole_path(), Duration::from_secs(1));
    assert_eq!(outcome.step, StopStep::AlreadyGone);
    assert_group_gone(&pid);
}
