//! A loaded topology written back out with `to_text` loads again to the same model: every
//! example and every valid fixture (files, rulesets from files, tunnels, defaults).

use std::path::Path;

use umlvnf_topology::{load, load_str, to_text};

#[test]
fn every_example_survives_a_round_trip() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    let examples = std::fs::read_dir(here.join("../../topologies")).expect("topologies/");
    let fixtures = std::fs::read_dir(here.join("tests/good")).expect("tests/good/");
    for entry in examples.chain(fixtures) {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let first = load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = to_text(&first);
        let again = load_str(&text, &path)
            .unwrap_or_else(|e| panic!("{} written back:\n{text}\n{e}", path.display()));
        assert_eq!(first, again, "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 7, "only {seen} examples found");
}
