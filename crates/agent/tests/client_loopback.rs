//! AgentClient against the real request handler over a Unix socket pair (no UML): the whole
//! protocol on the host, including staging, chunking, noise and timeouts.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use umlvnf_agent::agent::serve::Server;
use umlvnf_agent::agent::supervisor::Supervisor;
use umlvnf_agent::protocol::{encode_line, Event, MAX_REQUEST_LINE};
use umlvnf_agent::{AgentClient, AgentError};

/// Runs a fake agent on `stream`: noise, then `first`, then serves requests. Records the
/// longest request line it received.
fn fake_agent(stream: UnixStream, first: Event, longest: Arc<AtomicUsize>) {
    thread::spawn(move || {
        let mut w = stream.try_clone().unwrap();
        w.write_all(b"[    0.000000] Linux version 6.1 (noise without newline")
            .unwrap();
        w.write_all(b"\r\n\nmore noise {not json}\n").unwrap();
        w.write_all(&encode_line(&first)).unwrap();
        let mut server = Server::new();
        let mut sup = Supervisor::new(false);
        let mut r = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                return;
            }
            longest.fetch_max(line.len(), Ordering::SeqCst);
            if let Some(ev) = server.handle_line(&mut sup, &line) {
                if w.write_all(&encode_line(&ev)).is_err() {
                    return;
                }
            }
        }
    });
}

fn client(first: Event) -> (AgentClient<UnixStream>, Arc<AtomicUsize>) {
    let (host, guest) = UnixStream::pair().unwrap();
    let longest = Arc::new(AtomicUsize::new(0));
    fake_agent(guest, first, longest.clone());
    (AgentClient::new(host).with_node("r1"), longest)
}

const T: Duration = Duration::from_secs(20);

#[test]
fn exec_put_get_and_staging_over_a_socket_pair() {
    let (mut c, longest) = client(Event::Ready);
    c.wait_ready(T).unwrap();
    c.wait_ready(Duration::ZERO).unwrap(); // remembered
    c.ping(T).unwrap();

    let out = c
        .exec(&["sh", "-c", "echo out; echo err >&2; exit 3"], None, T)
        .unwrap();
    assert_eq!(out.status, 3);
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert!(!out.truncated);

    // A script far longer than one line and a large stdin go through staging.
    let script = format!("cat; printf %s {}", "y".repeat(10_000));
    let stdin: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let out = c.exec(&["sh", "-c", &script], Some(&stdin), T).unwrap();
    assert_eq!(out.status, 0);
    assert_eq!(&out.stdout[..stdin.len()], &stdin[..]);
    assert_eq!(&out.stdout[stdin.len()..], "y".repeat(10_000).as_bytes());

    let dir = std::env::temp_dir().join(format!("umlvnf-loop-{}", std::process::id()));
    let path = dir.join("a/b/file.bin");
    let p = path.to_str().unwrap();
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 13 % 256) as u8).collect();
    c.put_file(p, 0o600, &data, T).unwrap();
    assert_eq!(c.get_file(p, T).unwrap(), data);
    c.put_file(p, 0o600, b"", T).unwrap();
    assert_eq!(c.get_file(p, T).unwrap(), b"");
    std::fs::remove_dir_all(&dir).unwrap();

    let e = c.get_file("/nonexistent/umlvnf", T).unwrap_err();
    assert!(matches!(e, AgentError::Remote { .. }), "{e}");
    assert!(e.to_string().contains("node r1"), "{e}");

    let e = c
        .exec(&["sleep", "10"], None, Duration::from_millis(200))
        .unwrap_err();
    assert!(
        matches!(&e, AgentError::Timeout { op, .. } if op == "exec"),
        "{e}"
    );
    c.ping(T).unwrap();

    let max = longest.load(Ordering::SeqCst);
    assert!(max <= MAX_REQUEST_LINE, "a {max}-byte line was sent");
}

#[test]
fn config_failure_is_reported_and_requests_still_work() {
    let (mut c, _) = client(Event::Failed {
        step: "exec".into(),
        command: "sh -c false".into(),
        error: "exit status 1".into(),
    });
    match c.wait_ready(T) {
        Err(AgentError::ConfigFailed { step, command, .. }) => {
            assert_eq!(step, "exec");
            assert_eq!(command, "sh -c false");
        }
        other => panic!("expected ConfigFailed, got {other:?}"),
    }
    c.ping(T).unwrap();
}

#[test]
fn silence_is_a_timeout_and_hangup_is_closed() {
    let (host, guest) = UnixStream::pair().unwrap();
    let mut c = AgentClient::new(host).with_node("quiet");
    let start = Instant::now();
    let e = c.ping(Duration::from_millis(300)).unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(
        matches!(&e, AgentError::Timeout { op, node, .. } if op == "ping" && node == "quiet"),
        "{e}"
    );
    drop(guest);
    let e = c.wait_ready(T).unwrap_err();
    assert!(matches!(e, AgentError::Closed { .. }), "{e}");
}
