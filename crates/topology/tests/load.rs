//! Loading valid files: defaults, path resolution, and the error plumbing of `load`.

use std::path::{Path, PathBuf};

use umlvnf_kernel::Flavour;
use umlvnf_topology::defaults::{KernelChoice, DEFAULT_MEMORY};
use umlvnf_topology::*;

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn canonical(rel: &str) -> String {
    tests_dir()
        .join(rel)
        .canonicalize()
        .expect("fixture exists")
        .to_str()
        .expect("UTF-8 path")
        .to_string()
}

#[test]
fn full_file_resolves_paths_and_defaults() {
    let t = load(&tests_dir().join("good/full.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.name, "full-lab");
    let r1 = &t.nodes["r1"];
    assert_eq!(
        r1.image.as_deref(),
        Some(canonical("data/empty.img").as_str())
    );
    assert_eq!(
        t.image_source("r1"),
        ImageSource::File(Path::new(&canonical("data/empty.img")))
    );
    assert_eq!(r1.hostfs.as_deref(), Some(canonical("data/share").as_str()));
    assert_eq!(r1.files[0].src, canonical("data/motd"));
    assert_eq!(r1.files[0].mode_bits(), 0o644);
    assert_eq!(r1.files[1].mode_bits(), 0o755);
    let rules = std::fs::read_to_string(tests_dir().join("data/rules.nft")).expect("fixture");
    assert_eq!(r1.nftables.as_deref(), Some(rules.as_str()));
    assert!(t.nodes["fw1"]
        .nftables
        .as_deref()
        .is_some_and(|n| n.contains("policy drop")));
    assert!(t.nodes["fw1"]
        .iptables
        .as_deref()
        .is_some_and(|n| n.contains(":FORWARD DROP")));
    assert_eq!(r1.sysctls["net.ipv4.ip_forward"], SysctlValue::Int(1));
    assert_eq!(r1.sysctls["net.ipv6.conf.all.forwarding"].to_string(), "1");
    assert_eq!(
        r1.sysctls["net.ipv4.tcp_wmem"].to_string(),
        "4096 87380 6291456"
    );
    assert_eq!(r1.routes.len(), 3);
    assert!(r1.routes[2].v6);
    assert_eq!(r1.interfaces["eth0"].mac, Some(MacAddr([2, 0, 0, 0, 1, 1])));
    assert_eq!(r1.cpus, Some(vec![1]));

    assert_eq!(t.node_kind("r1"), NodeKind::Uml);
    assert_eq!(t.node_kind("h1"), NodeKind::Host);
    assert_eq!(t.effective_memory("r1").mib(), 256);
    assert_eq!(t.effective_memory("fw1").mib(), 1024);
    assert_eq!(t.effective_restart("r1"), RestartPolicy::No);
    assert_eq!(t.effective_restart("fw1"), RestartPolicy::Always);
    assert_eq!(
        t.effective_kernel("fw1"),
        KernelChoice::File("/usr/bin/linux".into())
    );
    assert_eq!(t.effective_image("fw1"), "minimal");
    assert_eq!(t.image_source("fw1"), ImageSource::Minimal);

    assert_eq!(t.links.len(), 4);
    assert_eq!(t.links[0].effective_transport(), Transport::Raw);
    assert_eq!(t.links[1].bridge.as_deref(), Some("br-lab0"));
    assert!(t.links[1].endpoints[1].is_root());
    assert_eq!(t.links[2].effective_transport(), Transport::Hybrid);
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    let text = "name: tiny\nnodes:\n  r1: {}\n";
    let t = load_str(text, Path::new("/nonexistent/tiny.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.node_kind("r1"), NodeKind::Uml);
    assert_eq!(
        t.effective_kernel("r1"),
        KernelChoice::Appliance(Flavour::Smp)
    );
    assert_eq!(t.effective_vcpus("r1"), 1);
    assert_eq!(t.effective_clock("r1"), Clock::Real);
    assert_eq!(t.effective_userspace("r1"), None);
    assert_eq!(t.effective_image("r1"), "minimal");
    assert_eq!(t.effective_memory("r1"), DEFAULT_MEMORY);
    assert_eq!(t.effective_memory("r1").mib(), 128);
    assert_eq!(t.effective_restart("r1"), RestartPolicy::OnFailure);
    assert!(t.links.is_empty());
}

#[test]
fn relative_paths_resolve_against_the_file_not_the_cwd() {
    // The same text, claimed to live in tests/good, finds ../data/motd; claimed to live
    // elsewhere, it does not.
    let text = "name: rel\nhost_access: {host_files: true}\nnodes:\n  r1:\n    files: [{src: ../data/motd, dst: /etc/motd}]\n";
    let ok =
        load_str(text, &tests_dir().join("good/virtual.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.nodes["r1"].files[0].src, canonical("data/motd"));
    let err = load_str(text, Path::new("/nonexistent/dir/x.yaml")).expect_err("no such file");
    assert_eq!(err.diagnostics.len(), 1);
    assert_eq!(err.diagnostics[0].field, "nodes.r1.files[0].src");
    assert_eq!(
        (err.diagnostics[0].line, err.diagnostics[0].column),
        (5, 19)
    );
}

#[test]
fn load_reports_unreadable_and_non_utf8_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.yaml");
    let err = load(&missing).expect_err("missing file");
    assert_eq!(err.diagnostics.len(), 1);
    assert!(
        err.to_string()
            .starts_with(&format!("{}:1:1: cannot read", missing.display())),
        "{err}"
    );

    let bad = dir.path().join("latin1.yaml");
    std::fs::write(&bad, b"name: lab\nnodes:\n  r1: {image: caf\xe9}\n").expect("write");
    let err = load(&bad).expect_err("not UTF-8");
    let d = &err.diagnostics[0];
    assert_eq!((d.line, d.column), (3, 18));
    assert!(d.message.contains("UTF-8"));
}

#[test]
fn display_is_one_line_per_diagnostic() {
    let text = "name: Bad\nnodes:\n  r1: {memory: 1M, bogus: 1}\n";
    let err = load_str(text, Path::new("lab.yaml")).expect_err("invalid");
    let shown = err.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert!(lines[0].starts_with("lab.yaml:1:7: name: `Bad` is not a valid lab name"));
    assert!(
        lines[1].starts_with("lab.yaml:3:16: nodes.r1.memory: 1 MiB"),
        "{shown}"
    );
    assert!(
        lines[2].starts_with("lab.yaml:3:20: nodes.r1.bogus: unknown field `bogus`"),
        "{shown}"
    );
    let as_error: &dyn std::error::Error = &err;
    assert_eq!(as_error.to_string(), shown);
}

#[test]
fn json_schema_describes_the_model() {
    let schema = json_schema();
    let props = &schema["properties"];
    for field in ["name", "defaults", "nodes", "links"] {
        assert!(
            props.get(field).is_some(),
            "schema lacks `{field}`: {schema}"
        );
    }
    assert_eq!(
        schema["additionalProperties"],
        serde_json::Value::Bool(false)
    );
    let text = schema.to_string();
    for word in ["Interface", "Link", "hybrid", "on-failure"] {
        assert!(text.contains(word), "schema lacks `{word}`");
    }
}

#[test]
fn a_virtual_clock_selects_the_time_travel_flavour() {
    let text = "name: tt\nnodes:\n  r1: {clock: virtual, userspace: ptrace}\n  r2: {vcpus: 2}\n";
    let t = load_str(text, Path::new("/nonexistent/tt.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.effective_kernel("r1"),
        KernelChoice::Appliance(Flavour::TimeTravel)
    );
    assert_eq!(t.effective_userspace("r1"), Some(Userspace::Ptrace));
    assert_eq!(
        t.effective_kernel("r2"),
        KernelChoice::Appliance(Flavour::Smp)
    );
    assert_eq!(t.effective_vcpus("r2"), 2);
}

#[test]
fn cpus_clock_and_userspace_conflicts_are_located() {
    let text = "name: bad\nnodes:\n  r1: {vcpus: 2, clock: virtual}\n  r2: {vcpus: 3, userspace: ptrace}\n  r3: {vcpus: 9}\n";
    let err = load_str(text, Path::new("/x/bad.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nodes.r1.vcpus") && err.contains("time-travel needs a single CPU"),
        "{err}"
    );
    assert!(
        err.contains("nodes.r2.vcpus") && err.contains("need the seccomp userspace"),
        "{err}"
    );
    assert!(
        err.contains("nodes.r3.vcpus") && err.contains("give 1 to 8"),
        "{err}"
    );
}

#[test]
fn a_kernel_that_is_not_uml_is_refused_without_running_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let kernel = dir.path().join("linux");
    std::fs::write(
        &kernel,
        format!("#!/bin/sh\ntouch {}\nsleep 1000\n", marker.display()),
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&kernel).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&kernel, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let text = format!(
        "name: k\nnodes:\n  r1:\n    kernel: {}\n    nftables: \"table inet f {{ }}\"\n",
        kernel.display()
    );
    let started = std::time::Instant::now();
    let err = load_str(&text, &dir.path().join("k.yaml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a User Mode Linux kernel"), "{err}");
    assert!(err.contains("nodes.r1.kernel"), "{err}");
    assert!(!marker.exists(), "validation ran the kernel file");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn host_files_inside_the_topology_directory_need_no_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("share")).unwrap();
    std::fs::write(dir.path().join("motd"), "hi\n").unwrap();
    let text =
        "name: own\nnodes:\n  r1:\n    hostfs: share\n    files: [{src: motd, dst: /etc/motd}]\n";
    let t = load_str(text, &dir.path().join("lab.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.host_access, HostAccess::default());
    assert!(t.nodes["r1"].hostfs.as_deref().unwrap().ends_with("/share"));
}

#[test]
fn merge_keys_take_what_the_mapping_does_not_set() {
    let text = "name: mk\nnodes:\n  r1: &router\n    memory: 64M\n    sysctls: {net.ipv4.ip_forward: 1}\n  r2:\n    <<: *router\n    memory: 96M\n";
    let t = load_str(text, Path::new("/nonexistent/mk.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.effective_memory("r2").mib(), 96);
    assert_eq!(t.nodes["r2"].sysctls, t.nodes["r1"].sysctls);
    assert_eq!(t.nodes["r2"].sysctls.len(), 1);
}
