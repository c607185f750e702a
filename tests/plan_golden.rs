//! Golden plans: the plan of every example topology, compared with `tests/golden/NAME.plan`.
//! Set `UPDATE_GOLDEN=1` to rewrite the files after a deliberate change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use umlvnf::plan::{self, PlanContext};

fn context(topo: &umlvnf_topology::Topology) -> PlanContext {
    let images: BTreeMap<String, PathBuf> = topo
        .nodes
        .keys()
        .map(|n| topo.effective_image(n))
        .map(|i| {
            let p = PathBuf::from(format!("/var/lib/umlvnf/images/{i}.ext4"));
            (i, p)
        })
        .collect();
    umlvnf::images::planned_context(topo, PathBuf::from("/var/lib/umlvnf/labs"), images, true)
        .expect("context")
}

#[test]
fn example_plans_match_golden_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(root.join("topologies"))
        .expect("topologies/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    entries.sort();
    for file in entries {
        let topo = umlvnf_topology::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let p = plan::plan(&topo, &context(&topo)).expect("plan");
        let text = format!(
            "{}\n--- json\n{}\n",
            plan::render_text(&p),
            serde_json::to_string_pretty(&p).expect("json")
        )
        .replace(&root.display().to_string(), "{ROOT}");
        let name = file
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let golden = root.join("tests/golden").join(format!("{name}.plan"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &text).expect("write golden");
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
            panic!("{} is missing (run with UPDATE_GOLDEN=1)", golden.display())
        });
        if want != text {
            failures.push(name);
        }
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected the example topologies, found {checked}"
    );
    assert!(
        failures.is_empty(),
        "plans differ from golden files: {failures:?} (UPDATE_GOLDEN=1 rewrites them)"
    );
}

/// Resolves every plan of these tests with [`context`].
struct GoldenContext;

impl plan::ResolveContext for GoldenContext {
    type Error = std::convert::Infallible;
    fn context(&mut self, topo: &umlvnf_topology::Topology) -> Result<PlanContext, Self::Error> {
        Ok(context(topo))
    }
}

#[test]
fn host_shares_match_golden_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = root.join("topologies/hosts/two-hosts.yaml");
    let mut failures = Vec::new();
    for host in ["a", "b"] {
        let p = plan::plan_file_share(&file, &mut GoldenContext, Some(host))
            .unwrap_or_else(|e| panic!("{e}"))
            .plan;
        let text = format!(
            "{}\n--- json\n{}\n",
            plan::render_text(&p),
            serde_json::to_string_pretty(&p).expect("json")
        );
        let golden = root.join(format!("tests/golden/two-hosts.{host}.plan"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &text).expect("write golden");
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
            panic!("{} is missing (run with UPDATE_GOLDEN=1)", golden.display())
        });
        if want != text {
            failures.push(host);
        }
    }
    assert!(
        failures.is_empty(),
        "shares differ from golden files: {failures:?} (UPDATE_GOLDEN=1 rewrites them)"
    );
}

#[test]
fn plan_never_renders_unsafe_values() {
    assert!(plan::is_uml_safe("/var/lib/umlvnf/labs/x/uml"));
    for bad in ["a,b", "a=b", "a b", "", "x\n", "a;b"] {
        assert!(!plan::is_uml_safe(bad), "{bad:?} must be rejected");
        assert!(!plan::is_option_value_safe(bad), "{bad:?} must be rejected");
    }
    assert!(plan::is_option_value_safe("02:00:00:00:01:01"));
    assert!(!plan::is_option_value_safe("02::00"));
}
