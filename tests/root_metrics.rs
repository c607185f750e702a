//! Metrics of a booted lab, scraped by a real Prometheus server: the target is up, every
//! Grafana panel has data, a link's packet rate matches what the test sent, and a dropped
//! packet shows under the right reason. `promtool check metrics` accepts the exposition.

mod common;
#[path = "../crates/metrics/tests/support/prometheus.rs"]
mod prometheus;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use prometheus::{free_port, http_get, Prometheus};
use serde_json::Value;

fn first_value(r: &[Value]) -> f64 {
    r.first()
        .and_then(|s| s["value"][1].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Every (dashboard, panel, expression) of the Grafana dashboards.
fn panel_exprs() -> Vec<(String, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana/dashboards");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dashboards") {
        let path = e.expect("entry").path();
        let d: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        for p in d["panels"].as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    out.push((
                        path.file_name()
                            .expect("name")
                            .to_string_lossy()
                            .into_owned(),
                        p["title"].as_str().unwrap_or_default().to_string(),
                        expr.to_string(),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn root_prometheus_scrapes_a_running_lab() {
    require_root();
    let metrics = free_port();
    let ex = example("datapath", &lab_name("pm"), |t| {
        format!("{t}metrics:\n  listen: \"{metrics}\"\n")
    });
    let lab = Deployed::up(&ex);
    assert_eq!(lab.inspect()["metrics"], metrics.to_string());

    // promtool accepts the exposition (Prometheus text format; promtool 2.42 reads no OpenMetrics).
    let exposition = http_get(metrics, "/metrics?format=prometheus").expect("scrape");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(exposition.as_bytes())
        .expect("write");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool: {}",
        text(&checked)
    );
    let openmetrics = http_get(metrics, "/metrics").expect("scrape");
    assert!(
        openmetrics.trim_end().ends_with("# EOF"),
        "OpenMetrics ends with # EOF"
    );

    // A real Prometheus scraping every second.
    let prom = Prometheus::start(metrics);
    let up = eventually(Duration::from_secs(30), || {
        prom.query("up{job=\"umlvnf\"}")
            .is_ok_and(|r| first_value(&r) == 1.0)
    });
    assert!(up, "the umlvnf target never came up in Prometheus");

    // Traffic at a known pace through wire link0: 600 pings at 100 per second.
    let t0 = Instant::now();
    let ping = lab.exec(
        "r1",
        &["ping", "-c", "600", "-i", "0.01", "-W", "1", "10.0.12.2"],
    );
    let sent_for = t0.elapsed().as_secs_f64();
    assert!(ping.status.success(), "{}", text(&ping));
    let sent_rate = 600.0 / sent_for;
    // Let Prometheus take two more scrapes, then compare its rate over the sending window.
    std::thread::sleep(Duration::from_secs(3));
    let window = (sent_for.ceil() as u64).max(2);
    let q = format!(
        "increase(umlvnf_datapath_packets_total{{lab=\"{}\",link=\"link0\",node=\"r1\",queue=\"rx\"}}[{}s]) / {}",
        lab.lab,
        window + 2,
        sent_for
    );
    let measured = first_value(&prom.query(&q).expect("rate query"));
    assert!(
        (measured - sent_rate).abs() <= sent_rate * 0.2,
        "Prometheus computes {measured:.1} pps on link0, the test sent {sent_rate:.1} pps (tolerance 20 %)"
    );

    // A packet dropped by the `not icmp` filter shows under reason="filter".
    let blocked = lab.exec("r1", &["ping", "-c", "2", "-W", "1", "10.0.21.2"]);
    assert!(!blocked.status.success());
    let drops = eventually(Duration::from_secs(10), || {
        let q = format!(
            "umlvnf_datapath_drops_total{{lab=\"{}\",link=\"link1\",reason=\"filter\"}} > 0",
            lab.lab
        );
        prom.query(&q).is_ok_and(|r| !r.is_empty())
    });
    assert!(drops, "no filter drop in Prometheus");

    // Frames waiting in delay queues are exported per direction of each datapath link.
    let q = format!(
        "umlvnf_datapath_queued{{lab=\"{}\",link=\"link0\"}}",
        lab.lab
    );
    let queued = prom.query(&q).expect("queued query");
    assert_eq!(
        queued.len(),
        2,
        "one queued series per direction of link0: {queued:?}"
    );

    // Every panel of every dashboard has data.
    let mut failures = Vec::new();
    let exprs = panel_exprs();
    assert!(exprs.len() > 10, "dashboards have panels");
    for (file, title, expr) in &exprs {
        let q = expr
            .replace("$lab", &lab.lab)
            .replace("${lab}", &lab.lab)
            .replace("$host", ".*")
            .replace("$node", ".*")
            .replace("$link", ".*")
            .replace("$__rate_interval", "10s")
            .replace("$__interval", "1s")
            .replace("$__range", "1m");
        match prom.query(&q) {
            Ok(r) if !r.is_empty() => {}
            Ok(_) => failures.push(format!("{file}: {title}: no data for {q}")),
            Err(e) => failures.push(format!("{file}: {title}: {q}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} panels have no data:\n{}",
        failures.len(),
        exprs.len(),
        failures.join("\n")
    );
    drop(prom);
    lab.down();
}
