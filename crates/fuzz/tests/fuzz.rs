//! Every fuzz target for a few seconds (`UMLVNF_FUZZ_SECONDS` to change it), and the seed
//! corpus in step with the encoders that make it.

use std::time::Duration;

use umlvnf_fuzz::{fuzz, seconds_from_env, seed_from_env, targets, DEFAULT_SECONDS};

fn run(name: &str) {
    let target = umlvnf_fuzz::target(name).expect("a target of that name");
    let budget = Duration::from_secs_f64(seconds_from_env(DEFAULT_SECONDS));
    let report = fuzz(target, budget, seed_from_env(name));
    println!("{report}");
    assert!(
        report.seeds > 0,
        "{name} has no seed corpus: run `umlvnf-fuzz --write-corpus`"
    );
    assert!(report.executed > report.seeds as u64, "{report}");
    assert!(report.crashes.is_empty(), "{report}");
}

macro_rules! fuzz_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(stringify!($name));
            }
        )*
        /// Every target has a test above.
        #[test]
        fn every_target_is_tested() {
            let tested = [$(stringify!($name)),*];
            for t in targets::ALL {
                assert!(tested.contains(&t.name), "no test runs the target {}", t.name);
            }
        }
    };
}

fuzz_tests!(topology, gre, l2tpv3, vnet, ipv4, pcap, bpf, agent, control);

#[test]
fn checked_in_corpus_holds_every_seed() {
    for t in targets::ALL {
        let seeds = umlvnf_fuzz::seeds::seeds(t.name);
        assert!(!seeds.is_empty(), "{} has no seeds", t.name);
        let stored = umlvnf_fuzz::read_corpus(&umlvnf_fuzz::corpus_dir(t.name));
        assert!(
            stored.len() >= seeds.len(),
            "the corpus of {} lacks seeds",
            t.name
        );
        for (file, data) in seeds {
            if !umlvnf_fuzz::seeds::reproducible(t.name, &file) {
                continue;
            }
            let path = umlvnf_fuzz::corpus_dir(t.name).join(&file);
            let stored = std::fs::read(&path).unwrap_or_default();
            assert!(
                stored == data,
                "{} is missing or out of date: run `cargo run -p umlvnf-fuzz -- --write-corpus`",
                path.display()
            );
        }
    }
}

#[test]
fn a_panicking_target_is_caught_and_reported_with_its_input() {
    fn boom(data: &[u8], out: &mut umlvnf_fuzz::Outcomes) {
        assert!(!data.starts_with(b"boom"), "found the bad input");
        out.add(data.len() as u64);
    }
    let target = umlvnf_fuzz::Target {
        name: "selftest",
        about: "a target that panics on inputs starting with `boom`",
        run: boom,
        max_len: 16,
        dictionary: &[b"boom"],
    };
    let dir = tempfile_dir();
    let report = umlvnf_fuzz::fuzz_into(&target, Duration::from_millis(500), 1, &dir);
    assert_eq!(report.crashes.len(), 1, "{report}");
    let crash = &report.crashes[0];
    assert!(crash.input.starts_with(b"boom"), "{report}");
    assert!(
        crash.message.contains("found the bad input"),
        "{}",
        crash.message
    );
    let file = crash.file.as_ref().expect("the input was written");
    assert_eq!(std::fs::read(file).expect("readable"), crash.input);
    let shown = report.to_string();
    assert!(shown.contains(&umlvnf_fuzz::hex(&crash.input)), "{shown}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("umlvnf-fuzz-selftest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // A test thread has a 2 MiB stack; the longest topology input nests this deep.
    let max = umlvnf_fuzz::target("topology").expect("target").max_len / 2;
    for (open, close) in [("[", "]"), ("{a: ", "}"), ("- ", "")] {
        let text = format!("{}{}", open.repeat(max), close.repeat(max));
        for name in ["topology", "agent", "control"] {
            let target = umlvnf_fuzz::target(name).expect("target");
            let mut out = umlvnf_fuzz::Outcomes::default();
            let input = &text.as_bytes()[..text.len().min(target.max_len)];
            umlvnf_fuzz::execute(target, input, &mut out).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
