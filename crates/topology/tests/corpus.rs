//! The bad-file corpus: every `tests/bad/*.yaml` must fail to load with exactly the
//! diagnostics listed in its sibling `*.err` (`{DIR}` stands for this `tests` directory).
//! Run with `UPDATE_EXPECT=1` to rewrite the `.err` files after a deliberate change.

use std::path::{Path, PathBuf};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the corpus directory is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn bad_files_report_exactly_the_expected_diagnostics() {
    let dir = tests_dir();
    let dir_text = dir.to_str().expect("a UTF-8 path");
    let files = yaml_files(&dir.join("bad"));
    assert!(
        files.len() >= 25,
        "the corpus has only {} files",
        files.len()
    );
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let err = match umlvnf_topology::load(file) {
            Ok(_) => {
                failures.push(format!("{}: loaded without errors", file.display()));
                continue;
            }
            Err(e) => e,
        };
        assert!(!err.diagnostics.is_empty());
        let got = format!("{err}\n").replace(dir_text, "{DIR}");
        let expect_path = file.with_extension("err");
        if update {
            std::fs::write(&expect_path, &got).expect("write the .err file");
            continue;
        }
        let want = std::fs::read_to_string(&expect_path).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- expected\n{want}--- got\n{got}",
                file.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn examples_load_cleanly() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../topologies");
    for name in ["quickstart", "firewall", "chain", "tunnels"] {
        let path = examples.join(format!("{name}.yaml"));
        let topo = umlvnf_topology::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(topo.name, name);
    }
}
