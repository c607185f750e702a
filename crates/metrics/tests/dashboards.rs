//! The Grafana dashboards, checked as files and against a real Prometheus server that scrapes
//! a real metrics server fed by a fake lab.

mod common;
#[path = "support/prometheus.rs"]
mod prometheus;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{FakeLab, PACKET_BYTES, QUEUE_PPS};
use prometheus::Prometheus;
use serde_json::Value;
use umlvnf_metrics::{MetricKind, MetricsServer, METRICS};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dashboards() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo().join("grafana/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let json: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                json,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every (dashboard, panel title, expr) of every panel target.
fn exprs() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (file, d) in dashboards() {
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().into_iter().flatten() {
                out.push((
                    file.clone(),
                    p["title"].as_str().unwrap_or_default().to_string(),
                    t["expr"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn dashboards_are_well_formed() {
    let all = dashboards();
    let names: Vec<&str> = all.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        names,
        [
            "umlvnf-drops.json",
            "umlvnf-guests.json",
            "umlvnf-links.json",
            "umlvnf-overview.json",
            "umlvnf-queues.json"
        ]
    );
    let mut uids = BTreeSet::new();
    let series: BTreeSet<String> = METRICS
        .iter()
        .flat_map(|d| {
            let s = d.series();
            if d.kind == MetricKind::Histogram {
                let f = d.family();
                vec![s, format!("{f}_sum"), format!("{f}_count")]
            } else {
                vec![s]
            }
        })
        .collect();
    for (file, d) in &all {
        let uid = d["uid"].as_str().expect("a fixed uid");
        assert_eq!(format!("{uid}.json"), *file);
        assert!(uids.insert(uid.to_string()));
        let vars = d["templating"]["list"].as_array().unwrap();
        let ds = vars
            .iter()
            .find(|v| v["name"] == "datasource")
            .expect("datasource var");
        assert_eq!(ds["type"], "datasource");
        assert_eq!(ds["query"], "prometheus");
        assert!(vars
            .iter()
            .any(|v| v["name"] == "lab" && v["type"] == "query"));
        // The machines of a spread lab: all of them unless narrowed.
        assert!(
            vars.iter().any(|v| v["name"] == "host"
                && v["type"] == "query"
                && v["includeAll"] == true
                && v["allValue"] == ".*"),
            "{file}: no host selector"
        );
        for v in vars.iter().filter(|v| v["type"] == "query") {
            assert_eq!(
                v["datasource"]["uid"], "${datasource}",
                "{file} var {}",
                v["name"]
            );
        }
        for p in d["panels"].as_array().unwrap() {
            if p["type"] == "row" {
                continue;
            }
            let title = p["title"].as_str().unwrap();
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{file}: {title}");
            let targets = p["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{file}: {title}");
            for t in targets {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{file}: {title}");
                let expr = t["expr"].as_str().unwrap();
                assert!(
                    expr.contains("lab=\"$lab\",host=~\"$host\""),
                    "{file}: {title}: {expr}"
                );
                // Every metric name used exists.
                for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    if word.starts_with("umlvnf_") {
                        assert!(series.contains(word), "{file}: {title}: unknown {word}");
                    }
                }
            }
        }
    }
    // Transmit is drawn below the axis on the links dashboard.
    let links = &all
        .iter()
        .find(|(f, _)| f == "umlvnf-links.json")
        .unwrap()
        .1;
    let negative = links["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["fieldConfig"]["overrides"]
                .to_string()
                .contains("negative-Y")
        })
        .count();
    assert!(negative >= 6, "{negative}");
    // Every family is shown somewhere except the raw catch-all and build info.
    let joined: String = exprs().into_iter().map(|(_, _, e)| e + "\n").collect();
    // (The catch-all holds only statistics a kernel adds beyond the known ones: Debian's UML
    // kernel has none, so a panel of it would always be empty.)
    for d in METRICS {
        let f = d.family();
        if f == "umlvnf_guest_ethtool_other" {
            continue;
        }
        assert!(joined.contains(&f), "no panel shows {f}");
    }
}

fn value(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn prometheus_scrapes_and_every_panel_has_data() {
    let started = Instant::now();
    let lab = Arc::new(FakeLab::new("grafana"));
    let server = MetricsServer::start(
        "127.0.0.1:0".parse().unwrap(),
        lab.clone(),
        Duration::from_millis(500),
    )
    .unwrap();
    let prom = Prometheus::start(server.local_addr());
    // Wait until the target is up.
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = prom.query("up{job=\"umlvnf\"}") {
            if r.first().map(value) == Some(1.0) {
                break;
            }
        }
        assert!(Instant::now() < until, "the umlvnf target never came up");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Enough scrapes for rates over 5 s windows.
    std::thread::sleep(Duration::from_secs(6));

    // The rate Prometheus computes matches the pace of the fake counter.
    let sel = format!("lab=\"{}\",queue=\"rx\"", lab.name);
    let pps = value(
        &prom
            .query(&format!("rate(umlvnf_datapath_packets_total{{{sel}}}[5s])"))
            .unwrap()[0],
    );
    let tolerance = 0.05;
    assert!(
        (pps - QUEUE_PPS as f64).abs() <= QUEUE_PPS as f64 * tolerance,
        "datapath rate {pps} pps, expected {QUEUE_PPS} ± {}%",
        tolerance * 100.0
    );
    let bps = value(
        &prom
            .query(&format!(
                "8 * rate(umlvnf_datapath_bytes_total{{{sel}}}[5s])"
            ))
            .unwrap()[0],
    );
    let want = (QUEUE_PPS * PACKET_BYTES * 8) as f64;
    assert!(
        (bps - want).abs() <= want * tolerance,
        "{bps} bit/s, expected {want}"
    );
    // Guest counters come through the cache (refreshed every 0.5 s): looser tolerance.
    let guest = value(
        &prom.query(&format!(
                "rate(umlvnf_guest_interface_packets_total{{lab=\"{}\",interface=\"eth0\",direction=\"rx\"}}[5s])",
                lab.name
            ),
        )
        .unwrap()[0],
    );
    let want = common::GUEST_PPS as f64;
    assert!(
        (guest - want).abs() <= want * 0.25,
        "guest rate {guest}, expected {want} ± 25%"
    );
    eprintln!("measured: datapath {pps:.1} pps, {bps:.0} bit/s, guest {guest:.1} pps");

    // Every expression of every panel returns data.
    let mut failures = Vec::new();
    let all = exprs();
    for (file, title, expr) in &all {
        let q = expr
            .replace("$lab", &lab.name)
            .replace("$host", ".*")
            .replace("$node", ".*")
            .replace("$link", ".*")
            .replace("$__rate_interval", "5s")
            .replace("$__interval", "1s")
            .replace("$__range", "1m");
        match prom.query(&q) {
            Ok(r) if !r.is_empty() => {}
            Ok(_) => failures.push(format!("{file}: {title}: no data for {q}")),
            Err(e) => failures.push(format!("{file}: {title}: {q}: {e}")),
        }
    }
    // Template variables: label_values(metric, label) has values.
    for (file, d) in dashboards() {
        for v in d["templating"]["list"].as_array().unwrap() {
            let Some(def) = v["definition"].as_str() else {
                continue;
            };
            let inner = def
                .strip_prefix("label_values(")
                .and_then(|s| s.strip_suffix(')'))
                .expect("label_values query");
            let (metric, label) = inner.rsplit_once(',').unwrap();
            let r = prom
                .query(&metric.replace("$lab", &lab.name).replace("$host", ".*"))
                .unwrap_or_default();
            if !r.iter().any(|s| s["metric"][label.trim()].is_string()) {
                failures.push(format!(
                    "{file}: variable {}: no values for {def}",
                    v["name"]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} expressions failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} panel expressions returned data; test took {:?}",
        all.len(),
        started.elapsed()
    );
    drop(prom);
    server.shutdown();
}

/// The Prometheus configurations in `deploy/` are ones Prometheus accepts (`promtool check
/// config`, from the Debian package `make test` installs).
#[test]
fn deploy_prometheus_configs_are_valid() {
    for file in ["prometheus.yml", "prometheus-hosts.yml"] {
        let path = repo().join("deploy").join(file);
        let out = std::process::Command::new("promtool")
            .args(["check", "config", "--syntax-only"])
            .arg(&path)
            .output()
            .expect("promtool runs (Debian package prometheus; make test installs it)");
        assert!(
            out.status.success(),
            "{}: {}{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
