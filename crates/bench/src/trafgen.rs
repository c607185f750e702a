//! trafgen (netsniff-ng) as a peer generator: the same frames (sequence and timestamp 0, so
//! the sink counts them but takes no latency), sent from the same namespace and CPU.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::error::{BenchError, Result};
use crate::frame::{build_frame, FrameSize};
use crate::generator::GeneratorResult;
use crate::interrupt;
use crate::sink::Sink;
use crate::trial::{next_run_id, Path, Trial, DRAIN};

/// trafgen's packet configuration for `size` on `path`: one packet block per frame of the
/// size pattern (trafgen sends the blocks round robin, which keeps the IMIX mix).
pub fn config(path: &Path, size: FrameSize, run: u16) -> String {
    let mut out = String::from("# umlvnf bench frames\n");
    for s in size.pattern() {
        let f = build_frame(&path.flow, s, run);
        out.push_str("{ ");
        for (i, b) in f.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "0x{b:02x}");
        }
        out.push_str(" }\n");
    }
    out
}

/// The `N packets outgoing` figure of trafgen's summary.
pub fn parse_outgoing(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        let n = w.next()?.parse().ok()?;
        (w.next()? == "packets" && w.next()? == "outgoing").then_some(n)
    })
}

/// The longest sending time of trafgen's per-CPU lines (`1 sec, 995936 usec on CPU0 (...)`),
/// in seconds.
pub fn parse_seconds(text: &str) -> Option<f64> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                [s, "sec,", us, "usec", "on", cpu, ..] if cpu.starts_with("CPU") => {
                    Some(s.parse::<f64>().ok()? + us.parse::<f64>().ok()? / 1e6)
                }
                _ => None,
            }
        })
        .reduce(f64::max)
}

/// Runs trafgen on `path.tx` for `duration` (on one CPU: CPU 0, trafgen's first) at `rate`
/// pps or unpaced, with the usual sink (receiving with `backend`), and returns the trial.
/// Stops trafgen early when the bench is interrupted.
pub fn measure(
    path: &Path,
    size: FrameSize,
    rate: Option<u64>,
    duration: Duration,
    backend: Backend,
) -> Result<Trial> {
    let run = next_run_id();
    let dir =
        std::env::temp_dir().join(format!("umlvnf-bench-trafgen-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| BenchError::Trafgen(format!("create {}: {e}", dir.display())))?;
    let _cleanup = RemoveDir(dir.clone());
    let cfg = dir.join("frames.cfg");
    std::fs::write(&cfg, config(path, size, run))
        .map_err(|e| BenchError::Trafgen(format!("write {}: {e}", cfg.display())))?;
    let netns = path.tx.netns.clone().ok_or_else(|| {
        BenchError::Trafgen("the generator port must be in a named network namespace".into())
    })?;
    let mut args: Vec<String> = vec![
        "--dev".into(),
        path.tx.ifname.clone(),
        "--conf".into(),
        cfg.display().to_string(),
        "--cpus".into(),
        "1".into(),
        "--no-sock-mem".into(),
        "--notouch-irq".into(),
    ];
    if let Some(r) = rate {
        args.push("--rate".into());
        args.push(format!("{r}pps"));
    }
    let sink = Sink::start(&path.rx, run, path.rx_cpu, backend)?;
    // Its own process group: trafgen forks its sending workers, and all of them must stop.
    let mut child = umlvnf_host::command_in_netns(&netns, "trafgen", &args)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BenchError::Trafgen(format!("cannot start it: {e}")))?;
    let group = Group(child.id() as libc::pid_t);
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (ready_tx, ready_rx) = mpsc::channel();
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(o) = stdout {
            for line in BufReader::new(o).lines() {
                let Ok(line) = line else { break };
                if line.contains("Running") {
                    let _ = ready_tx.send(());
                }
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_string(&mut text);
        }
        text
    });
    // Time from when trafgen says it runs (a signal before its handler is set would kill
    // only the parent and leave the workers sending).
    let _ = ready_rx.recv_timeout(Duration::from_secs(10));
    let started = Instant::now();
    interrupt::sleep(duration);
    group.signal(libc::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let seconds = started.elapsed().as_secs_f64();
    group.signal(libc::SIGKILL);
    let _ = child.wait();
    // Reaped: the group id may be reused from now on, so do not signal it again.
    std::mem::forget(group);
    let text = format!(
        "{}\n{}",
        out_reader.join().unwrap_or_default(),
        err_reader.join().unwrap_or_default()
    );
    std::thread::sleep(DRAIN);
    let s = sink.stop()?;
    let sent = parse_outgoing(&text).ok_or_else(|| {
        BenchError::Trafgen(format!(
            "no `packets outgoing` in its output: {}",
            text.trim()
        ))
    })?;
    // trafgen's own sending time: its start-up (ring set-up) is not sending.
    let seconds = parse_seconds(&text).filter(|s| *s > 0.0).unwrap_or(seconds);
    let g = GeneratorResult {
        sent,
        bytes: 0,
        seconds,
        send_errors: 0,
    };
    Ok(Trial::from_counts(&g, &s))
}

/// A process group we started; signalled as a whole, and killed when dropped.
struct Group(libc::pid_t);

impl Group {
    fn signal(&self, sig: libc::c_int) {
        if self.0 > 0 {
            // SAFETY: signals the process group we created for our own child.
            unsafe { libc::kill(-self.0, sig) };
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Flow;
    use crate::packet_socket::Port;
    use std::net::Ipv4Addr;

    #[test]
    fn summary_parsing() {
        let out = "     1 packets to schedule\n    60 bytes in total\nRunning! Hang up with \
                   ^C!\n\n\n      992512 packets outgoing\n    59550720 bytes outgoing\n";
        assert_eq!(parse_outgoing(out), Some(992_512));
        assert_eq!(parse_outgoing("1 packets to schedule"), None);
        let secs = parse_seconds(&format!(
            "{out}           1 sec, 995936 usec on CPU0 (992512 packets)\n"
        ));
        assert!((secs.unwrap() - 1.995936).abs() < 1e-9);
        assert_eq!(parse_seconds(out), None);
    }

    #[test]
    fn config_has_one_block_per_pattern_frame() {
        let path = Path {
            tx: Port::new(Some("a"), "eth0"),
            rx: Port::new(Some("b"), "eth0"),
            flow: Flow {
                src_mac: [2, 0, 0, 0, 0, 1],
                dst_mac: [2, 0, 0, 0, 0, 2],
                src_ip: Ipv4Addr::new(10, 0, 0, 1),
                dst_ip: Ipv4Addr::new(10, 0, 0, 2),
            },
            tx_cpu: None,
            rx_cpu: None,
        };
        let c = config(&path, FrameSize::Fixed(64), 5);
        assert_eq!(c.matches('{').count(), 1);
        assert_eq!(c.matches("0x").count(), 60);
        assert!(c.contains("{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02"));
        let i = config(&path, FrameSize::Imix, 5);
        assert_eq!(i.matches('{').count(), 12);
    }
}
