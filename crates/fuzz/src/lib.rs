//! Fuzzing of umlvnf's decoders on the stable toolchain, without coverage instrumentation.
//!
//! Every [`Target`] takes arbitrary bytes, feeds them to one decoder and checks what the
//! decoder promises (no panic, and round trips where an encoder exists). [`fuzz`] runs a
//! target for a while: it starts from the seed corpus checked in under `corpus/<target>/`
//! (the project's example topologies and valid messages made by the crates' own encoders),
//! makes new inputs with a deterministic seeded [`mutate::Mutator`], and keeps the inputs
//! whose outcome (the decoder's result or error, reduced to its kind) was not seen before,
//! so that later inputs build on them. A panic is caught and reported with its input, which
//! is written to a file and printed as hex.
//!
//! `cargo test -p umlvnf-fuzz` runs every target for [`DEFAULT_SECONDS`] (or
//! `UMLVNF_FUZZ_SECONDS`); `make fuzz` runs the `umlvnf-fuzz` binary for longer.

pub mod mutate;
pub mod seeds;
pub mod targets;

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use mutate::Mutator;

/// Seconds per target in `cargo test` unless `UMLVNF_FUZZ_SECONDS` says otherwise.
pub const DEFAULT_SECONDS: f64 = 3.0;
/// Corpus entries kept in memory per target (seed corpus included).
const MAX_CORPUS: usize = 4096;
/// Distinct crashes kept per run.
const MAX_CRASHES: usize = 16;

/// One fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Name, also the corpus directory under `corpus/`.
    pub name: &'static str,
    /// What the target covers.
    pub about: &'static str,
    /// Runs one input; panics when the decoder breaks a promise. Adds the kind of each
    /// decoder's outcome, so that inputs with an outcome not seen before join the corpus.
    pub run: fn(&[u8], &mut Outcomes),
    /// Longest input made.
    pub max_len: usize,
    /// Tokens the mutator inserts.
    pub dictionary: &'static [&'static [u8]],
}

/// The outcome kinds of one input: one per decoder a target ran.
#[derive(Debug, Default)]
pub struct Outcomes(Vec<u64>);

impl Outcomes {
    /// Adds the kind of one decoder's outcome.
    pub fn add(&mut self, kind: u64) {
        self.0.push(kind);
    }
}

/// A panic found by a run.
#[derive(Debug, Clone)]
pub struct Crash {
    /// The input that made the target panic.
    pub input: Vec<u8>,
    /// The panic message and where it was raised.
    pub message: String,
    /// Where the input was written, unless writing failed.
    pub file: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target's name.
    pub target: &'static str,
    /// Inputs executed (seed corpus included).
    pub executed: u64,
    /// Seed corpus entries.
    pub seeds: usize,
    /// Corpus entries at the end (seeds plus inputs with new outcomes).
    pub corpus: usize,
    /// Distinct outcomes seen.
    pub outcomes: usize,
    /// The seed of the mutator.
    pub seed: u64,
    /// How long it ran.
    pub elapsed: Duration,
    /// Distinct panics (by message), with their first input.
    pub crashes: Vec<Crash>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fuzz {}: {} inputs in {:.1} s (seed {:#x}; corpus {} seeds, {} at the end; {} \
             outcomes; {} crashes)",
            self.target,
            self.executed,
            self.elapsed.as_secs_f64(),
            self.seed,
            self.seeds,
            self.corpus,
            self.outcomes,
            self.crashes.len()
        )?;
        for c in &self.crashes {
            write!(f, "\n  crash: {}", c.message)?;
            match &c.file {
                Some(p) => write!(
                    f,
                    "\n  input ({} bytes, in {}):",
                    c.input.len(),
                    p.display()
                )?,
                None => write!(f, "\n  input ({} bytes):", c.input.len())?,
            }
            write!(f, "\n  {}", hex(&c.input))?;
        }
        Ok(())
    }
}

/// `bytes` as lowercase hex, 32 bytes per line.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2 + bytes.len() / 16);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 32 == 0 {
            s.push_str("\n  ");
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The seconds per target: `UMLVNF_FUZZ_SECONDS` when it is a positive number, else
/// `default`.
pub fn seconds_from_env(default: f64) -> f64 {
    std::env::var("UMLVNF_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(default)
}

/// The mutator seed: `UMLVNF_FUZZ_SEED` (decimal or `0x` hex) when given, else one derived
/// from the target's name, so that runs repeat unless asked otherwise.
pub fn seed_from_env(target: &str) -> u64 {
    let given = std::env::var("UMLVNF_FUZZ_SEED").ok().and_then(|s| {
        let s = s.trim();
        match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => s.parse().ok(),
        }
    });
    given.unwrap_or_else(|| fnv(target.as_bytes()))
}

/// FNV-1a of `bytes`.
pub fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The checked-in seed corpus directory of `target`.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// Where crashing inputs are written: `UMLVNF_FUZZ_CRASHES`, else `umlvnf-fuzz-crashes` in the
/// temporary directory.
pub fn crash_dir() -> PathBuf {
    std::env::var_os("UMLVNF_FUZZ_CRASHES")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("umlvnf-fuzz-crashes"))
}

/// The files of `dir`, sorted by name (an unreadable or missing directory has none).
pub fn read_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

thread_local! {
    /// Set while this thread runs fuzz inputs: its panics are recorded, not printed.
    static CAUGHT: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that records the panics of fuzzing threads and leaves every
/// other panic to the hook that was there before.
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let fuzzing = CAUGHT.with(|c| {
                let mut c = c.borrow_mut();
                match c.as_mut() {
                    Some(slot) => {
                        let payload = info.payload();
                        let text = payload
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a panic without a message".to_string());
                        let at = info
                            .location()
                            .map(|l| format!(" at {}:{}", l.file(), l.line()))
                            .unwrap_or_default();
                        *slot = Some(format!("{text}{at}"));
                        true
                    }
                    None => false,
                }
            });
            if !fuzzing {
                previous(info);
            }
        }));
    });
}

/// Runs `input` through `target`, catching a panic: the outcome kinds go to `outcomes`
/// (cleared first); a panic gives its message.
pub fn execute(target: &Target, input: &[u8], outcomes: &mut Outcomes) -> Result<(), String> {
    install_hook();
    outcomes.0.clear();
    CAUGHT.with(|c| *c.borrow_mut() = Some(None));
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input, outcomes)));
    let message = CAUGHT.with(|c| c.borrow_mut().take().flatten());
    result.map_err(|_| message.unwrap_or_else(|| "a panic without a message".to_string()))
}

/// Writes a crashing input to `dir` as `<target>-<hash>.bin`.
fn save_crash(dir: &Path, target: &str, input: &[u8]) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let path = dir.join(format!("{target}-{:016x}.bin", fnv(input)));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// Fuzzes `target` for `budget` with the mutator seeded by `seed`: first every seed corpus
/// entry, then mutations of corpus entries until the time is up. Crashing inputs go to
/// [`crash_dir`].
pub fn fuzz(target: &Target, budget: Duration, seed: u64) -> Report {
    fuzz_into(target, budget, seed, &crash_dir())
}

/// [`fuzz`], writing crashing inputs to `crashes_dir`.
pub fn fuzz_into(target: &Target, budget: Duration, seed: u64, crashes_dir: &Path) -> Report {
    let started = Instant::now();
    let mut corpus = read_corpus(&corpus_dir(target.name));
    let seeds = corpus.len();
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let mut seen: HashSet<u64> = HashSet::new();
    let mut crashes: Vec<Crash> = Vec::new();
    let mut executed = 0u64;
    let mut outcomes = Outcomes::default();
    let mut record = |input: &[u8], outcomes: &mut Outcomes, crashes: &mut Vec<Crash>| {
        executed += 1;
        match execute(target, input, outcomes) {
            Ok(()) => outcomes
                .0
                .iter()
                .fold(false, |new, k| seen.insert(*k) | new),
            Err(message) => {
                if crashes.len() < MAX_CRASHES && !crashes.iter().any(|c| c.message == message) {
                    crashes.push(Crash {
                        input: input.to_vec(),
                        message,
                        file: save_crash(crashes_dir, target.name, input),
                    });
                }
                false
            }
        }
    };
    for input in corpus.clone() {
        record(&input, &mut outcomes, &mut crashes);
    }
    let mut mutator = Mutator::new(seed, target.max_len, target.dictionary);
    while started.elapsed() < budget {
        // Check the clock every 64 inputs: reading it costs more than some targets.
        for _ in 0..64 {
            let base = mutator.rng().below(corpus.len());
            let other = mutator.rng().below(corpus.len());
            let input = mutator.mutate(&corpus[base], &corpus[other]);
            if record(&input, &mut outcomes, &mut crashes) {
                if corpus.len() < MAX_CORPUS {
                    corpus.push(input);
                } else {
                    // Keep the seeds; replace a learned entry.
                    let slot = seeds + mutator.rng().below(MAX_CORPUS - seeds.min(MAX_CORPUS - 1));
                    if let Some(e) = corpus.get_mut(slot) {
                        *e = input;
                    }
                }
            }
        }
    }
    Report {
        target: target.name,
        executed,
        seeds,
        corpus: corpus.len(),
        outcomes: seen.len(),
        seed,
        elapsed: started.elapsed(),
        crashes,
    }
}

/// Looks a target up by name.
pub fn target(name: &str) -> Option<&'static Target> {
    targets::ALL.iter().find(|t| t.name == name)
}
