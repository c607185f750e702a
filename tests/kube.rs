//! `umlvnf kube`: the manifests pass the Kubernetes API schema (checked offline with
//! kubernetes-validate, which `make deps` installs), the checked-in example is what the
//! command writes now, and bad input is refused with a message that says what is valid.

mod common;

use common::{bin, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn two_hosts() -> String {
    root()
        .join("topologies/hosts/two-hosts.yaml")
        .display()
        .to_string()
}

fn kube(args: &[&str]) -> Output {
    Command::new(bin())
        .arg("kube")
        .args(args)
        .output()
        .expect("umlvnf runs")
}

/// The validator `make deps` installs (`UMLVNF_TOOLS_VENV` moves its venv, as for
/// deploy/install-deps.sh). Panics when it is missing: this check must never pass unrun.
fn validator() -> PathBuf {
    let venv = std::env::var_os("UMLVNF_TOOLS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/umlvnf/tools/venv"));
    let tool = venv.join("bin/kubernetes-validate");
    assert!(
        tool.is_file(),
        "{} is missing: run `make deps` as root (it installs kubernetes-validate there)",
        tool.display()
    );
    tool
}

/// Runs kubernetes-validate --strict on `files`: (passed, its output).
fn validate(files: &[&Path]) -> (bool, String) {
    let out = Command::new(validator())
        .arg("--strict")
        .args(files)
        .output()
        .expect("kubernetes-validate runs");
    (out.status.success(), text(&out))
}

#[test]
fn manifests_of_two_hosts_pass_the_kubernetes_schema() {
    let out = kube(&[&two_hosts()]);
    assert!(out.status.success(), "{}", text(&out));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("two-hosts.yaml");
    std::fs::write(&file, &out.stdout).expect("write");
    let (ok, report) = validate(&[&file]);
    assert!(ok, "{report}");
    for object in [
        "namespace/umlvnf-twohosts",
        "configmap/topology",
        "deployment/twohosts-a",
        "deployment/twohosts-b",
    ] {
        assert!(
            report.contains(&format!("passed for resource {object}")),
            "{report}"
        );
    }
}

/// A share with host nodes and an io_uring wire: its pod is privileged, adds SYS_ADMIN and
/// leaves seccomp unconfined; those fields pass the schema too, also written one file each.
#[test]
fn privileged_shares_pass_the_kubernetes_schema_one_file_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topo = dir.path().join("lab.yaml");
    std::fs::write(
        &topo,
        "name: priv\nhosts:\n  a: {address: 192.0.2.1}\n  b: {address: \"2001:db8::2\"}\nnodes:\n  r1: {host: a}\n  r2: {host: b}\n  h1: {kind: host, host: b}\nlinks:\n  - endpoints: [r1:eth0, r2:eth0]\n  - endpoints: [r2:eth1, h1:eth0]\n    transport: wire\n    wire: {backend: io_uring}\n",
    )
    .expect("write");
    let out_dir = dir.path().join("manifests");
    let out = kube(&[
        topo.to_str().expect("utf-8"),
        "--node",
        "b=worker-2",
        "-o",
        out_dir.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .expect("output directory")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name()?.to_str().map(String::from))
        .collect();
    assert_eq!(
        names,
        [
            "00-namespace-umlvnf-priv.yaml",
            "01-configmap-topology.yaml",
            "02-deployment-priv-a.yaml",
            "03-deployment-priv-b.yaml"
        ]
    );
    let b = std::fs::read_to_string(&files[3]).expect("read");
    for field in [
        "privileged: true",
        "- SYS_ADMIN",
        "type: Unconfined",
        "kubernetes.io/hostname: worker-2",
        "[$POD_IP]:9478",
    ] {
        assert!(b.contains(field), "{field} in:\n{b}");
    }
    // A file of an earlier run that this one did not write is pointed out.
    std::fs::write(out_dir.join("04-deployment-priv-c.yaml"), "").expect("write");
    let again = kube(&[
        topo.to_str().expect("utf-8"),
        "-o",
        out_dir.to_str().expect("utf-8"),
    ]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr)
            .contains("also holds 04-deployment-priv-c.yaml, which this run did not write"),
        "{}",
        text(&again)
    );
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (ok, report) = validate(&refs);
    assert!(ok, "{report}");
    assert_eq!(report.matches("passed for resource").count(), 4, "{report}");
}

/// The check is real: a wrong type and an unknown field in the same manifests are refused.
#[test]
fn the_schema_check_refuses_broken_manifests() {
    let out = kube(&[&two_hosts()]);
    assert!(out.status.success(), "{}", text(&out));
    let good = String::from_utf8(out.stdout).expect("utf-8");
    let dir = tempfile::tempdir().expect("tempdir");
    for (from, to, complaint) in [
        (
            "  replicas: 1\n",
            "  replicas: one\n",
            "'one' is not of type 'integer'",
        ),
        (
            "      hostNetwork: true\n",
            "      hostNetwork: true\n      hostNetwrok: true\n",
            "hostNetwrok",
        ),
    ] {
        assert!(good.contains(from), "{from:?} in the manifests");
        let file = dir.path().join("broken.yaml");
        std::fs::write(&file, good.replacen(from, to, 1)).expect("write");
        let (ok, report) = validate(&[&file]);
        assert!(!ok, "{to:?} passed: {report}");
        assert!(
            report.contains("did not validate for resource deployment/twohosts-a")
                && report.contains(complaint),
            "{report}"
        );
    }
}

/// deploy/kubernetes/two-hosts.yaml is what `umlvnf kube` writes for the example now.
#[test]
fn the_checked_in_example_is_current() {
    let out = Command::new(bin())
        .current_dir(root())
        .args(["kube", "topologies/hosts/two-hosts.yaml"])
        .output()
        .expect("umlvnf runs");
    assert!(out.status.success(), "{}", text(&out));
    let example = root().join("deploy/kubernetes/two-hosts.yaml");
    let checked_in = std::fs::read_to_string(&example).expect("the example exists");
    assert!(
        checked_in == String::from_utf8_lossy(&out.stdout),
        "{} is stale: regenerate it with `umlvnf kube topologies/hosts/two-hosts.yaml > {}`",
        example.display(),
        example.display()
    );
}

#[test]
fn bad_input_is_refused_with_what_is_valid() {
    let chain = root().join("topologies/chain.yaml");
    let out = kube(&[chain.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("chain.yaml: has no `hosts:`") && err.contains("one Deployment per host"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "{}", text(&out));

    let file = two_hosts();
    for (flag, expected) in [
        (
            "a",
            "--node `a`: expected HOST=K8SNODE, such as `--node a=worker-1`",
        ),
        ("zz=w1", "has no host `zz`: choose one of `a`, `b`"),
        (
            "a=Worker_1",
            "node name `Worker_1` cannot be used in Kubernetes",
        ),
    ] {
        let out = kube(&[&file, "--node", flag]);
        assert_eq!(out.status.code(), Some(1), "{flag}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{flag}: {err}");
        assert!(out.stdout.is_empty(), "{flag}: {}", text(&out));
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let trailing = dir.path().join("dash.yaml");
    std::fs::write(
        &trailing,
        "name: lab-\nhosts:\n  a: {address: 192.0.2.1}\nnodes:\n  r1: {}\n",
    )
    .expect("write");
    let out = kube(&[trailing.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("lab name `lab-` cannot be used in Kubernetes"),
        "{}",
        text(&out)
    );

    let missing = dir.path().join("missing.yaml");
    let out = kube(&[missing.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.yaml"),
        "{}",
        text(&out)
    );
}
