//! A fake lab for the tests: counters that grow at known paces, a real process group standing
//! in for a guest, and the real loopback interface standing in for a host-side interface.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use umlvnf_metrics::{GuestInfo, HostInterface, LabSource, QueueSample, QueuedSample};

/// Datapath packets per second of every fake queue.
pub const QUEUE_PPS: u64 = 1000;
/// Frames the fake lab's delay queue holds.
pub const QUEUED_FRAMES: u64 = 7;
/// Bytes per fake datapath packet.
pub const PACKET_BYTES: u64 = 100;
/// Guest interface packets per second (rx of eth0 inside the fake guest).
pub const GUEST_PPS: u64 = 50;

const ETHTOOL: &str = "NIC statistics:
     rx_queue_max: 2
     rx_queue_running_average: 1
     tx_queue_max: 1
     tx_queue_running_average: 0
     rx_encaps_errors: 0
     tx_timeout_count: 0
     tx_restart_queue: 0
     tx_kicks: 1
     tx_flow_control_xon: 0
     tx_flow_control_xoff: 0
     rx_csum_offload_good: 0
     rx_csum_offload_errors: 0
     sg_ok: 0
     sg_linearized: 0
     rx_queue_0_extra: 3
";

/// The fake lab.
pub struct FakeLab {
    pub name: String,
    start: Instant,
    /// Stand-in for a guest's UML process group (`sleep`, leader of its own group).
    child: Mutex<Child>,
    pub child_pid: i32,
    /// When set, `guest_stats` fails.
    pub exec_fails: AtomicBool,
    /// How long `guest_stats` takes.
    pub exec_delay: Mutex<Duration>,
}

impl FakeLab {
    pub fn new(name: &str) -> FakeLab {
        let child = Command::new("sleep")
            .arg("300")
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        let child_pid = child.id() as i32;
        FakeLab {
            name: format!("{name}-{}", std::process::id()),
            start: Instant::now(),
            child: Mutex::new(child),
            child_pid,
            exec_fails: AtomicBool::new(false),
            exec_delay: Mutex::new(Duration::ZERO),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// The text the fake guest prints for the stats script, with counters growing in time.
    pub fn guest_report(&self) -> String {
        let ms = self.elapsed_ms();
        let rx = 10 + ms * GUEST_PPS / 1000;
        let tx = 5 + ms * GUEST_PPS / 2000;
        format!(
            "Inter-|   Receive                                                |  Transmit\n \
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
             lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n  \
             eth0: {} {rx} 0 3 0 0 0 0 {} {tx} 0 0 0 0 0 0\n  \
             gre0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n  \
             tunl0:      84       1    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n\
             == eth0\n{ETHTOOL}== lo\n",
            rx * 98,
            tx * 98
        )
    }
}

impl Drop for FakeLab {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl LabSource for FakeLab {
    fn lab(&self) -> String {
        self.name.clone()
    }

    fn host(&self) -> String {
        "a".into()
    }

    fn guests(&self) -> Vec<GuestInfo> {
        vec![
            GuestInfo {
                node: "r1".into(),
                pid: Some(self.child_pid),
                up: true,
                restarts: 1,
                boot_seconds: Some(1.5),
            },
            GuestInfo {
                node: "r2".into(),
                pid: None,
                up: false,
                restarts: 0,
                boot_seconds: None,
            },
        ]
    }

    fn guest_stats(
        &self,
        node: &str,
        _timeout: Duration,
    ) -> Result<String, umlvnf_metrics::GuestReadError> {
        let delay = *self.exec_delay.lock().unwrap_or_else(|e| e.into_inner());
        std::thread::sleep(delay);
        if self.exec_fails.load(Ordering::Relaxed) {
            return Err(format!("guest {node} does not answer").into());
        }
        Ok(self.guest_report())
    }

    fn host_interfaces(&self) -> Vec<HostInterface> {
        vec![HostInterface {
            ifname: "lo".into(),
            node: "r1".into(),
            interface: "eth0".into(),
            transport: "raw".into(),
        }]
    }

    fn datapath_queues(&self) -> Vec<QueueSample> {
        let packets = self.elapsed_ms() * QUEUE_PPS / 1000;
        ["rx", "tx"]
            .iter()
            .map(|q| QueueSample {
                link: "l1".into(),
                node: "r1".into(),
                interface: "eth0".into(),
                queue: q.to_string(),
                transport: "raw".into(),
                packets,
                bytes: packets * PACKET_BYTES,
                drops: vec![("full".into(), packets / 100), ("too_big".into(), 0)],
                syscalls: packets / 16,
                batch_sizes: vec![(1, packets / 64), (16, packets / 32), (64, packets / 64)],
            })
            .collect()
    }

    fn datapath_queued(&self) -> Vec<QueuedSample> {
        vec![QueuedSample {
            link: "l1".into(),
            node: "r1".into(),
            interface: "eth0".into(),
            transport: "raw".into(),
            frames: QUEUED_FRAMES,
        }]
    }
}

/// One HTTP/1.1 request; returns (status line, headers, body).
pub fn http(addr: SocketAddr, request: &str) -> (String, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics server");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_string(), body.to_string())
}

/// `GET path` with an optional Accept header; returns the body, asserting 200.
pub fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> String {
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    let (status, _, body) = http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{accept}\r\n"),
    );
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    body
}

/// Waits until `/metrics` contains `needle`.
pub fn wait_for(addr: SocketAddr, needle: &str, within: Duration) -> String {
    let until = Instant::now() + within;
    loop {
        let body = get(addr, "/metrics", None);
        if body.contains(needle) {
            return body;
        }
        assert!(
            Instant::now() < until,
            "{needle} never appeared in:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
