//! The metrics server over real sockets with a fake lab.

mod common;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{get, http, wait_for, FakeLab};
use umlvnf_metrics::{MetricKind, MetricsError, MetricsServer, METRICS};

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn start(lab: &Arc<FakeLab>, refresh: Duration) -> MetricsServer {
    MetricsServer::start(any_port(), lab.clone(), refresh).expect("start the metrics server")
}

/// Label names of the first sample line of `series` (`name{...} value`).
fn sample_labels(body: &str, series: &str) -> Option<BTreeSet<String>> {
    let line = body
        .lines()
        .find(|l| l.starts_with(&format!("{series}{{")))?;
    let inner = &line[series.len() + 1..line.rfind('}')?];
    Some(
        inner
            .split("\",")
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_string()))
            .collect(),
    )
}

#[test]
fn exposition_has_every_family_with_its_type_and_labels() {
    let lab = Arc::new(FakeLab::new("expo"));
    let server = start(&lab, Duration::from_millis(200));
    let addr = server.local_addr();
    get(addr, "/metrics", None); // so that the scrape duration exists next time
    let body = wait_for(
        addr,
        "umlvnf_guest_interface_packets_total{",
        Duration::from_secs(5),
    );
    let (status, headers, _) = http(addr, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("Content-Type: application/openmetrics-text; version=1.0.0"),
        "{headers}"
    );
    assert!(body.ends_with("# EOF\n"));
    for d in METRICS {
        let family = d.family();
        assert!(
            body.contains(&format!("# TYPE {family} {}\n", d.kind.as_str())),
            "no TYPE line for {family}:\n{body}"
        );
        if let Some(unit) = d.unit {
            assert!(
                body.contains(&format!("# UNIT {family} {unit}\n")),
                "{family}"
            );
        }
        let series = d.series();
        let mut labels = sample_labels(&body, &series)
            .unwrap_or_else(|| panic!("no sample of {series}:\n{body}"));
        if d.kind == MetricKind::Histogram {
            assert!(labels.remove("le"));
        }
        let want: BTreeSet<String> = d.labels.iter().map(|s| s.to_string()).collect();
        assert_eq!(labels, want, "labels of {series}");
    }
    // Spot checks of values.
    assert!(body.contains(&format!(
        "umlvnf_guest_up{{lab=\"{}\",host=\"a\",node=\"r1\"}} 1",
        lab.name
    )));
    assert!(body.contains(&format!(
        "umlvnf_guest_up{{lab=\"{}\",host=\"a\",node=\"r2\"}} 0",
        lab.name
    )));
    assert!(body.contains("umlvnf_guest_restarts_total{") && body.contains("node=\"r1\"} 1\n"));
    assert!(body.contains("stat=\"rx_queue_0_extra\"} 3"), "{body}");
    // The guest kernel's own devices appear once they carry a packet; lo always does.
    assert!(
        !body.contains("interface=\"gre0\""),
        "an idle gre0 is exported: {body}"
    );
    assert!(
        body.contains("interface=\"tunl0\""),
        "a used tunl0 is left out: {body}"
    );
    assert!(body.contains("interface=\"lo\""), "{body}");
    assert!(
        body.contains("umlvnf_datapath_batch_size_bucket{") && body.contains("{le=\"+Inf\",lab=")
    );
    assert!(body.contains("umlvnf_host_interface_up{") && body.contains("ifname=\"lo\"} 1"));
    assert!(
        body.contains(&format!(
            "umlvnf_datapath_queued{{lab=\"{}\",host=\"a\",link=\"l1\",node=\"r1\",interface=\"eth0\",\
             queue=\"tx\",transport=\"raw\"}} {}\n",
            lab.name,
            common::QUEUED_FRAMES
        )),
        "{body}"
    );
    assert!(body.contains("umlvnf_host_interface_mtu_bytes{") && body.contains("} 65536"));
    let processes = body
        .lines()
        .find(|l| l.starts_with("umlvnf_guest_processes{"))
        .unwrap();
    assert!(processes.ends_with(" 1"), "{processes}");
    server.shutdown();
}

#[test]
fn promtool_finds_no_problem() {
    let lab = Arc::new(FakeLab::new("promtool"));
    let server = start(&lab, Duration::from_millis(200));
    let addr = server.local_addr();
    get(addr, "/metrics", None);
    wait_for(
        addr,
        "umlvnf_guest_interface_packets_total{",
        Duration::from_secs(5),
    );
    // What a client that only speaks the Prometheus text format gets, and what promtool reads.
    let text = get(addr, "/metrics", Some("text/plain; version=0.0.4"));
    assert!(!text.contains("# EOF"));
    assert_eq!(text, {
        let by_query = get(addr, "/metrics?format=prometheus", None);
        // Values move between two scrapes: compare the family declarations only.
        let types = |t: &str| t.lines().filter(|l| l.starts_with("# TYPE")).count();
        assert_eq!(types(&by_query), types(&text));
        text.clone()
    });
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (Debian package prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool failed: {report}");
    assert_eq!(report.trim(), "", "promtool reported problems");
    server.shutdown();
}

#[test]
fn port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let lab = Arc::new(FakeLab::new("busy"));
    let err = MetricsServer::start(addr, lab.clone(), Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, MetricsError::AddressInUse { addr: a } if a == addr));
    let msg = err.to_string();
    assert!(
        msg.contains(&addr.to_string()) && msg.contains("already in use"),
        "{msg}"
    );
    let err = MetricsServer::start(any_port(), lab, Duration::from_millis(10)).unwrap_err();
    assert!(
        err.to_string().contains("between 100 ms and 1 hour"),
        "{err}"
    );
}

#[test]
fn other_paths_and_methods() {
    let lab = Arc::new(FakeLab::new("paths"));
    let server = start(&lab, Duration::from_secs(1));
    let addr = server.local_addr();
    let index = get(addr, "/", Some("text/html"));
    assert!(index.contains("<a href=\"/metrics\">"), "{index}");
    let (status, _, body) = http(addr, "GET /nope HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(body.contains("/metrics"));
    let (status, _, _) = http(addr, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let (status, headers, body) = http(addr, "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(headers.contains("Content-Length: ") && body.is_empty());
    let (status, _, _) = http(addr, "garbage\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    server.shutdown();
}

#[test]
fn slow_guest_does_not_stall_scrape() {
    let lab = Arc::new(FakeLab::new("slow"));
    *lab.exec_delay.lock().unwrap() = Duration::from_secs(3);
    let server = start(&lab, Duration::from_millis(500));
    let addr = server.local_addr();
    std::thread::sleep(Duration::from_millis(200)); // the refresher is now inside guest_stats
    let t = Instant::now();
    let body = get(addr, "/metrics", None);
    let took = t.elapsed();
    // Well under the guest's 3 s: the scrape did not wait for it (with room for a loaded
    // 2-core machine).
    assert!(took < Duration::from_millis(1500), "scrape took {took:?}");
    assert!(body.contains("umlvnf_guest_up{"));
    assert!(!body.contains("umlvnf_guest_interface_packets_total{"));
    // Shutdown waits for the guest read in progress, but not for another round.
    let t = Instant::now();
    server.shutdown();
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

/// Reads `stream` until the server closes it (EOF or reset), within `within`; returns what
/// was received. Fails when the connection is still open after `within`.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("the server did not close the connection within {within:?}: {e}"),
        }
    }
}

/// Opens `n` connections that never send anything.
fn idle_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| TcpStream::connect(addr).expect("connect an idle client"))
        .collect()
}

#[test]
fn idle_and_trickling_clients_do_not_delay_a_scrape() {
    let lab = Arc::new(FakeLab::new("idle"));
    let server = start(&lab, Duration::from_secs(1));
    let addr = server.local_addr();
    let opened = Instant::now();
    let mut idle = idle_connections(addr, 8);
    // One client sends its request head a byte every 100 ms and never finishes it.
    let mut trickler = TcpStream::connect(addr).unwrap();
    let mut writer = trickler.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        let head = format!("GET /metrics HTTP/1.1\r\nX-Slow: {}", "a".repeat(100));
        for b in head.bytes() {
            if writer.write_all(&[b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    std::thread::sleep(Duration::from_millis(300)); // the server has accepted them all
    let t = Instant::now();
    let body = get(addr, "/metrics", None);
    let took = t.elapsed();
    // Before, one idle client alone held every scrape for 5 s.
    assert!(took < Duration::from_millis(1500), "scrape took {took:?}");
    assert!(body.contains("umlvnf_guest_up{"), "{body}");
    // The server gives each client 2 s in all for its request head, then closes it.
    for (i, s) in idle.iter_mut().enumerate() {
        let got = read_until_closed(s, Duration::from_secs(8));
        assert!(got.is_empty(), "idle client {i} got {got:?}");
    }
    let got = read_until_closed(&mut trickler, Duration::from_secs(8));
    let text = String::from_utf8_lossy(&got);
    assert!(
        got.is_empty() || text.starts_with("HTTP/1.1 408 Request Timeout"),
        "{text}"
    );
    let closed_after = opened.elapsed();
    assert!(
        closed_after >= Duration::from_millis(1900) && closed_after < Duration::from_secs(8),
        "the idle clients were closed after {closed_after:?}"
    );
    trickle.join().unwrap();
    server.shutdown();
}

#[test]
fn more_idle_clients_than_the_connection_cap_do_not_block_a_scrape() {
    let lab = Arc::new(FakeLab::new("flood"));
    let server = start(&lab, Duration::from_secs(1));
    let addr = server.local_addr();
    let _idle = idle_connections(addr, 100);
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        let t = Instant::now();
        let body = get(addr, "/metrics", None);
        let took = t.elapsed();
        assert!(took < Duration::from_millis(1500), "scrape took {took:?}");
        assert!(body.contains("umlvnf_guest_up{"), "{body}");
    }
    server.shutdown();
}

#[test]
fn stale_guest_stats_are_dropped_and_errors_counted() {
    let lab = Arc::new(FakeLab::new("stale"));
    let server = start(&lab, Duration::from_millis(100));
    let max_age = server.guest_stats_max_age();
    assert_eq!(max_age, Duration::from_secs(3)); // max(0.1, 1) + 1 + 1
    let addr = server.local_addr();
    wait_for(
        addr,
        "umlvnf_guest_interface_packets_total{",
        Duration::from_secs(5),
    );
    lab.exec_fails.store(true, Ordering::Relaxed);
    let body = wait_for(addr, "node=\"r1\"} 0\n", Duration::from_secs(3));
    assert!(body
        .lines()
        .any(|l| l.starts_with("umlvnf_guest_stats_ok{") && l.ends_with(" 0")));
    // Values stay while younger than the stated maximum age, then disappear; the age stays.
    let t = Instant::now();
    loop {
        let body = get(addr, "/metrics", None);
        let age: f64 = body
            .lines()
            .find(|l| l.starts_with("umlvnf_guest_stats_age_seconds{"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .expect("an age");
        let has = body.contains("umlvnf_guest_interface_packets_total{");
        if age > max_age.as_secs_f64() + 0.2 {
            assert!(!has, "stats {age} s old are still exported");
            let errors = body
                .lines()
                .find(|l| {
                    l.starts_with("umlvnf_collector_errors_total{") && l.contains("guest_read")
                })
                .unwrap();
            let n: u64 = errors.rsplit(' ').next().unwrap().parse().unwrap();
            assert!(n >= 10, "{errors}");
            break;
        }
        if age < max_age.as_secs_f64() - 0.2 {
            assert!(has, "stats {age} s old are not exported");
        }
        assert!(t.elapsed() < Duration::from_secs(6));
        std::thread::sleep(Duration::from_millis(100));
    }
    // Recovery.
    lab.exec_fails.store(false, Ordering::Relaxed);
    wait_for(
        addr,
        "umlvnf_guest_interface_packets_total{",
        Duration::from_secs(3),
    );
    server.shutdown();
}

#[test]
fn shutdown_frees_the_port() {
    let lab = Arc::new(FakeLab::new("free"));
    let server = start(&lab, Duration::from_secs(1));
    let addr = server.local_addr();
    get(addr, "/metrics", None);
    let t = Instant::now();
    server.shutdown();
    assert!(t.elapsed() < Duration::from_secs(2));
    TcpListener::bind(addr).expect("the port is free after shutdown");
}

/// The metric table of docs/metrics.md, generated from [`METRICS`].
fn metrics_table() -> String {
    let mut t = String::from("| Series | Type | Labels | Meaning |\n| --- | --- | --- | --- |\n");
    for d in METRICS {
        let unit = d.unit.map(|u| format!(" ({u})")).unwrap_or_default();
        t.push_str(&format!(
            "| `{}` | {}{unit} | {} | {} |\n",
            d.series(),
            d.kind.as_str(),
            d.labels.join(", "),
            d.help
        ));
    }
    t
}

#[test]
fn docs_describe_every_metric() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/metrics.md");
    let docs = std::fs::read_to_string(path).expect("docs/metrics.md exists");
    let table = metrics_table();
    assert!(
        docs.contains(&table),
        "docs/metrics.md must contain this table (generated from METRICS):\n{table}"
    );
}
