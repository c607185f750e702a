//! Helpers for the tests that deploy real labs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Panics unless running as root: these tests must never pass silently without it.
pub fn require_root() {
    if !nix::unistd::geteuid().is_root() {
        panic!("this test needs root: run `make test` as root");
    }
}

/// The umlvnf binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_umlvnf")
}

/// Runs umlvnf with arguments.
pub fn umlvnf(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("umlvnf runs")
}

/// Text of an output's stdout and stderr together, for messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A copy of `topologies/` in a temp dir with one example renamed to a unique lab name.
pub struct Example {
    pub dir: tempfile::TempDir,
    pub file: PathBuf,
    pub lab: String,
}

impl Example {
    /// A topology file written by the test itself (no copy of the examples).
    pub fn existing(file: &Path, lab: &str) -> Example {
        Example {
            dir: tempfile::tempdir().expect("tempdir"),
            file: file.to_path_buf(),
            lab: lab.to_string(),
        }
    }
}

/// Copies the examples and renames `example` to lab `lab`, applying `edit` to its text.
pub fn example(example: &str, lab: &str, edit: impl Fn(String) -> String) -> Example {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    copy_dir(&src, dir.path());
    let file = dir.path().join(format!("{example}.yaml"));
    let text = std::fs::read_to_string(&file).expect("example exists");
    let mut renamed = String::new();
    let mut done = false;
    for line in text.lines() {
        if !done && line.starts_with("name:") {
            renamed.push_str(&format!("name: {lab}\n"));
            done = true;
        } else {
            renamed.push_str(line);
            renamed.push('\n');
        }
    }
    assert!(done, "{example}.yaml has a top-level name");
    std::fs::write(&file, edit(renamed)).expect("write topology");
    Example {
        dir,
        file,
        lab: lab.to_string(),
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    for e in std::fs::read_dir(src).expect("read topologies") {
        let e = e.expect("entry");
        let target = dst.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// A deployed lab that is taken down when dropped, even if the test fails.
pub struct Deployed {
    pub lab: String,
    pub file: PathBuf,
}

impl Deployed {
    /// Runs `umlvnf up -d` and asserts it succeeded.
    pub fn up(ex: &Example) -> Deployed {
        let out = umlvnf(&["up", "-d", ex.file.to_str().expect("utf-8 path")]);
        let d = Deployed {
            lab: ex.lab.clone(),
            file: ex.file.clone(),
        };
        assert!(out.status.success(), "up failed: {}", text(&out));
        d
    }

    /// `umlvnf exec` in this lab.
    pub fn exec(&self, node: &str, cmd: &[&str]) -> Output {
        let mut args = vec!["exec", "--lab", &self.lab, node, "--"];
        args.extend_from_slice(cmd);
        umlvnf(&args)
    }

    /// `inspect --format json`.
    pub fn inspect(&self) -> serde_json::Value {
        let out = umlvnf(&["inspect", "--lab", &self.lab, "--format", "json"]);
        assert!(out.status.success(), "inspect failed: {}", text(&out));
        serde_json::from_slice(&out.stdout).expect("inspect prints JSON")
    }

    /// Takes the lab down and asserts nothing is left.
    pub fn down(self) {
        let out = umlvnf(&["down", "--lab", &self.lab]);
        assert!(out.status.success(), "down failed: {}", text(&out));
        // A running runtime must tear its lab down itself: a fallback to the recorded state
        // (it did not answer) says so on stderr.
        assert!(
            out.stderr.is_empty(),
            "down did not go cleanly: {}",
            text(&out)
        );
        assert_nothing_left(&self.lab);
        std::mem::forget(self);
    }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        let _ = umlvnf(&["down", "--lab", &self.lab]);
    }
}

/// Retries `f` until it returns true or the time is up.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}

/// Asserts that no namespace, interface, process or file of the lab remains.
pub fn assert_nothing_left(lab: &str) {
    let labs_dir = umlvnf::state::labs_dir();
    let lab_dir = labs_dir.join(lab);
    assert!(!lab_dir.exists(), "{} remains", lab_dir.display());
    let prefix = umlvnf::plan::naming::netns_prefix(lab);
    let spaces: Vec<String> = umlvnf_host::netns_list()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(spaces.is_empty(), "namespaces remain: {spaces:?}");
    let root = umlvnf_host::Rtnl::root().expect("netlink");
    let alias = umlvnf::plan::naming::owner_alias(lab);
    let marked = root.links_with_alias(&alias).expect("list links");
    assert!(marked.is_empty(), "interfaces remain: {marked:?}");
    let tag = format!("vn{}-", umlvnf::plan::naming::lab_tag(lab));
    let named: Vec<String> = root
        .links()
        .expect("list links")
        .into_iter()
        .map(|l| l.name)
        .filter(|n| n.starts_with(&tag))
        .collect();
    assert!(named.is_empty(), "interfaces remain: {named:?}");
    let needle = format!("uml_dir={}", lab_dir.join("uml").display());
    let procs: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            cmd.split(|b| *b == 0)
                .any(|a| a == needle.as_bytes())
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    assert!(procs.is_empty(), "UML processes remain: {procs:?}");
}

/// A lab name unique to this test process.
pub fn lab_name(prefix: &str) -> String {
    format!("{prefix}{}", std::process::id() % 100000)
}

/// Whether h1 can open a TCP connection to a one-shot listener on `port` in h2 (`h2_ip`).
pub fn tcp_connects(lab: &Deployed, h2_ip: &str, port: &str) -> bool {
    let mut listener = std::process::Command::new(bin())
        .args([
            "exec", "--lab", &lab.lab, "h2", "--", "busybox", "nc", "-l", "-p", port,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("listener");
    std::thread::sleep(Duration::from_millis(500));
    let o = lab.exec(
        "h1",
        &[
            "sh",
            "-c",
            &format!("echo hi | busybox nc -w 3 {h2_ip} {port}"),
        ],
    );
    let _ = listener.kill();
    let _ = listener.wait();
    o.status.success()
}

/// Asserts that the nftables rule of `node` whose listing contains `needle` counted packets.
pub fn assert_nft_rule_counted(lab: &Deployed, node: &str, needle: &str) {
    let rules = text(&lab.exec(node, &["nft", "list", "ruleset"]));
    let rule = rules
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no rule with `{needle}` in: {rules}"));
    assert!(
        !rule.contains("packets 0 "),
        "the rule counted nothing: {rule}"
    );
}
