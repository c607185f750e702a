//! The `umlvnf` command without a lab: validation, schema, plan and graph output, and the
//! errors a person sees when no lab is up.

mod common;

use common::{bin, text};
use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .env(
            "UMLVNF_STATE_DIR",
            std::env::temp_dir().join("umlvnf-cli-test-empty"),
        )
        .output()
        .expect("umlvnf runs")
}

/// Runs umlvnf, asserts that it failed and returns what it said on stderr.
fn fails(args: &[&str]) -> String {
    let out = run(args);
    assert_ne!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn topology(name: &str) -> String {
    format!("{}/topologies/{name}.yaml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn validate_reports_every_error_with_its_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "name: bad\nnodes:\n  r1:\n    memroy: 64M\n  r2: {}\nlinks:\n  - endpoints: [r1:eth0, r9:eth0]\n",
    )
    .expect("write");
    let out = run(&["validate", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:4:5: nodes.r1.memroy: unknown field",
            file.display()
        )),
        "{err}"
    );
    assert!(err.contains("links[0].endpoints[1]"), "{err}");
    assert!(err.contains("r9"), "{err}");

    let good = run(&["validate", &topology("quickstart"), &topology("chain")]);
    assert!(good.status.success(), "{}", text(&good));
    assert!(String::from_utf8_lossy(&good.stdout).contains("quickstart.yaml: valid"));
}

#[test]
fn schema_is_json_with_the_topology_fields() {
    let out = run(&["schema"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for field in ["name", "nodes", "links", "defaults"] {
        assert!(
            schema["properties"][field].is_object(),
            "{field} in {schema}"
        );
    }
}

#[test]
fn plan_shows_uml_command_lines_without_creating_anything() {
    let out = run(&["plan", &topology("quickstart")]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("init=/sbin/umlvnf-agent"), "{plan}");
    assert!(plan.contains("vec0:transport=raw,ifname="), "{plan}");
    assert!(plan.contains("hostfs="), "{plan}");
    let json = run(&["plan", "--format", "json", &topology("quickstart")]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("plan JSON");
    assert_eq!(v["guests"][0]["node"], "r1");
    assert_eq!(v["guests"][0]["capabilities"][0], "CAP_NET_RAW");
}

#[test]
fn graph_draws_dot_and_mermaid() {
    let dot = run(&["graph", &topology("links")]);
    let dot = String::from_utf8_lossy(&dot.stdout);
    assert!(dot.starts_with("graph \"links\""), "{dot}");
    assert!(dot.contains("\"r1\" -- \"r2\""), "{dot}");
    assert!(dot.contains("label=\"tap\""), "{dot}");
    let mermaid = run(&["graph", "--format", "mermaid", &topology("quickstart")]);
    let mermaid = String::from_utf8_lossy(&mermaid.stdout);
    assert!(mermaid.starts_with("flowchart LR"), "{mermaid}");
    assert!(mermaid.contains("r1[[\"r1 (uml)\"]]"), "{mermaid}");
}

#[test]
fn commands_on_no_lab_say_so() {
    for args in [
        vec!["inspect"],
        vec!["down"],
        vec!["exec", "r1", "--", "true"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no lab is up"),
            "{args:?}: {}",
            text(&out)
        );
    }
    let out = run(&["inspect", "--lab", "nosuch"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("lab `nosuch` is not up"));
}

#[test]
fn bpf_compile_writes_the_uml_blob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("no-icmp.bpf");
    let out = run(&[
        "bpf",
        "compile",
        "not icmp",
        "-o",
        out_file.to_str().expect("path"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let blob = std::fs::read(&out_file).expect("blob");
    let listed = run(&["bpf", "compile", "not icmp"]);
    let count: usize = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .next()
        .and_then(|l| l.parse().ok())
        .expect("instruction count");
    assert_eq!(blob.len(), count * 8, "8 bytes per instruction");
    let bad = run(&["bpf", "compile", "icmp and and"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("syntax error"));
}

#[test]
fn example_filters_match_their_sources() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).expect("bpf/") {
        let src = e.expect("entry").path();
        if src.extension().is_none_or(|x| x != "pcap") {
            continue;
        }
        let expr = std::fs::read_to_string(&src).expect("source");
        let prog = umlvnf_packet::bpf::compile(expr.trim()).expect("compiles");
        let blob =
            std::fs::read(src.with_extension("bpf")).expect("compiled blob next to its source");
        assert_eq!(
            blob,
            umlvnf_packet::bpf::to_blob(&prog),
            "{} is stale",
            src.display()
        );
        checked += 1;
    }
    assert!(checked >= 3);
}

#[test]
fn image_prune_keeps_the_current_image_and_removes_stale_ones() {
    let store = tempfile::tempdir().expect("tempdir");
    let with_store = |args: &[&str]| {
        Command::new(bin())
            .args(args)
            .env("UMLVNF_IMAGE_DIR", store.path())
            .output()
            .expect("umlvnf runs")
    };
    let built = with_store(&["image", "build", "minimal"]);
    assert!(built.status.success(), "{}", text(&built));
    let current = String::from_utf8_lossy(&built.stdout).trim().to_string();
    let stale = store.path().join("minimal-0123456789abcdef.img");
    std::fs::write(&stale, b"old").expect("stale image");
    let pruned = with_store(&["image", "prune"]);
    assert!(pruned.status.success(), "{}", text(&pruned));
    assert!(
        !stale.exists(),
        "the stale image must go: {}",
        text(&pruned)
    );
    assert!(
        std::path::Path::new(&current).exists(),
        "the current image must stay: {current}"
    );
}

/// `validate`, `plan` and `graph` read a topology's kernel file but never run it: a "kernel"
/// that records it ran and then never exits is refused at once, and never ran.
#[test]
fn checking_a_topology_never_runs_its_kernel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("ran");
    let kernel = dir.path().join("linux");
    std::fs::write(
        &kernel,
        format!("#!/bin/sh\ntouch {}\nexec sleep 1000\n", marker.display()),
    )
    .expect("write kernel");
    std::fs::set_permissions(&kernel, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let file = dir.path().join("lab.yaml");
    std::fs::write(
        &file,
        "name: k\nnodes:\n  r1:\n    kernel: ./linux\n    nftables: \"table inet f { }\"\n",
    )
    .expect("write topology");
    let path = file.to_str().expect("utf-8");
    for cmd in [
        vec!["validate", path],
        vec!["plan", path],
        vec!["graph", path],
    ] {
        let started = std::time::Instant::now();
        let out = run(&cmd);
        assert!(!out.status.success(), "{cmd:?} accepted a script as kernel");
        let err = text(&out);
        assert!(
            err.contains("lab.yaml:4:13: nodes.r1.kernel:")
                && err.contains("not a User Mode Linux kernel"),
            "{cmd:?}: {err}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{cmd:?} took {:?}",
            started.elapsed()
        );
    }
    assert!(!marker.exists(), "a command ran the topology's kernel file");
}

/// A user who may not read the labs directory is told so, not that no lab is up.
#[test]
fn root_a_user_without_access_to_the_labs_is_told_why() {
    common::require_root();
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let labs = dir.path().join("labs");
    std::fs::create_dir(&labs).expect("mkdir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::set_permissions(&labs, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod");
    let out = Command::new(bin())
        .args(["inspect"])
        .env("UMLVNF_STATE_DIR", &labs)
        .uid(65534)
        .gid(65534)
        .output()
        .expect("umlvnf runs as nobody");
    assert!(!out.status.success());
    let err = text(&out);
    assert!(
        err.contains("permission denied") && err.contains("run umlvnf as root"),
        "{err}"
    );
}

/// What UML cannot take is refused by `validate` (and `plan`) at the node that breaks it: more
/// vector interfaces than a guest can open, and a command line over 4096 bytes.
#[test]
fn validate_refuses_what_uml_cannot_boot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = |links: &str| {
        format!("name: big\nnodes:\n  r1: {{}}\n  h1: {{kind: host}}\nlinks:\n{links}")
    };
    let check = |file: &std::path::Path, cmd: &str, state: &std::path::Path| {
        let out = Command::new(bin())
            .args([cmd, file.to_str().expect("utf-8")])
            .env("UMLVNF_STATE_DIR", state)
            .output()
            .expect("umlvnf runs");
        (out.status.success(), text(&out))
    };
    let short_state = dir.path().join("labs");
    let long_state = dir.path().join("s".repeat(150)).join("labs");

    // 17 links: more interfaces than a guest opens.
    let many: String = (0..17)
        .map(|i| format!("  - endpoints: [r1:eth{i}, h1:eth{i}]\n"))
        .collect();
    let file = dir.path().join("many.yaml");
    std::fs::write(&file, lab(&many)).expect("write");
    for cmd in ["validate", "plan"] {
        let (ok, err) = check(&file, cmd, &short_state);
        assert!(!ok, "{cmd} accepted it: {err}");
        assert!(
            err.contains(
                "many.yaml:3:3: nodes.r1: node `r1`: 17 vector interfaces, more than the 16"
            ),
            "{cmd}: {err}"
        );
    }

    // 15 raw links with options: fits under a short state directory; under a long one the
    // BPF file paths make the command line too long.
    let long: String = (0..15)
        .map(|i| format!("  - endpoints: [r1:eth{i}, h1:eth{i}]\n    depth: 2048\n    gro: true\n"))
        .collect();
    let file = dir.path().join("long.yaml");
    std::fs::write(&file, lab(&long)).expect("write");
    let (ok, err) = check(&file, "validate", &short_state);
    assert!(ok, "{err}");
    let (ok, err) = check(&file, "validate", &long_state);
    assert!(!ok, "{err}");
    assert!(
        err.contains("long.yaml:3:3: nodes.r1: node `r1`: its UML command line would be")
            && err.contains("more than the 4095 UML accepts"),
        "{err}"
    );
}

#[test]
fn plan_host_prints_that_hosts_share_and_the_errors_name_the_hosts() {
    let file = topology("hosts/two-hosts");
    let a = run(&["plan", &file, "--host", "a"]);
    assert!(a.status.success(), "{}", text(&a));
    let out = String::from_utf8_lossy(&a.stdout);
    assert!(
        out.contains("guest r1") && out.contains("guest r3"),
        "{out}"
    );
    assert!(!out.contains("guest r2"), "{out}");
    assert!(
        out.contains(
            "src=127.0.0.1,dst=127.0.0.2,srcport=17100,dstport=17101,rx_session=1,tx_session=2"
        ),
        "{out}"
    );
    let b = run(&["plan", &file, "--host", "b", "--format", "json"]);
    assert!(b.status.success(), "{}", text(&b));
    let json: serde_json::Value = serde_json::from_slice(&b.stdout).expect("JSON");
    assert_eq!(json["guests"].as_array().map(Vec::len), Some(2), "{json}");

    let whole = run(&["plan", &file]);
    assert_eq!(whole.status.code(), Some(1), "{}", text(&whole));
    let err = String::from_utf8_lossy(&whole.stderr);
    assert!(
        err.contains("hosts `a`, `b`") && err.contains("--host NAME"),
        "{err}"
    );

    let unknown = run(&["plan", &file, "--host", "zz"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no host `zz`: choose one of `a`, `b`"),
        "{}",
        text(&unknown)
    );
    let single = run(&["plan", &topology("chain"), "--host", "a"]);
    assert_eq!(single.status.code(), Some(1), "{}", text(&single));
    assert!(
        String::from_utf8_lossy(&single.stderr).contains("has no `hosts:`"),
        "{}",
        text(&single)
    );

    let valid = run(&["validate", &file]);
    assert!(valid.status.success(), "{}", text(&valid));
    assert!(
        String::from_utf8_lossy(&valid.stdout).contains("valid (4 nodes, 3 links on 2 hosts)"),
        "{}",
        text(&valid)
    );
}

#[test]
fn up_without_host_refuses_a_spread_lab_and_names_up_host() {
    let err = fails(&["up", &topology("hosts/two-hosts")]);
    assert!(
        err.contains("umlvnf up FILE --host NAME") && err.contains("`a`, `b`"),
        "{err}"
    );
    let err = fails(&["up", &topology("hosts/two-hosts"), "--host", "zz"]);
    assert!(
        err.contains("no host `zz`") && err.contains("`a`, `b`"),
        "{err}"
    );
}

#[test]
fn lab_commands_name_the_hosts_of_a_spread_lab() {
    let file = topology("hosts/two-hosts");
    let err = fails(&["inspect", "-t", &file, "--host", "zz"]);
    assert!(
        err.contains("has no host `zz`") && err.contains("choose one of `a`, `b`"),
        "{err}"
    );
    let single = topology("quickstart");
    let err = fails(&["down", "-t", &single, "--host", "a"]);
    assert!(
        err.contains("has no host `a`") && err.contains("no `hosts:`"),
        "{err}"
    );
}

#[test]
fn schema_has_hosts_and_the_node_host() {
    let out = run(&["schema"]);
    assert!(out.status.success());
    let schema = String::from_utf8_lossy(&out.stdout);
    assert!(
        schema.contains("\"hosts\"") && schema.contains("HostSpec"),
        "{schema}"
    );
    assert!(schema.contains("underlay address"), "{schema}");
}
