//! `umlvnf-fuzz`: runs the fuzz targets for longer than `cargo test` does (`make fuzz`).
//!
//! ```text
//! umlvnf-fuzz [--seconds N] [--seed S] [--jobs J] [TARGET...]   fuzz (every target by default)
//! umlvnf-fuzz --list                                            the targets
//! umlvnf-fuzz --write-corpus                                    (re)write the seed corpus
//! ```
//! `--seconds` defaults to `UMLVNF_FUZZ_SECONDS`, else 300 per target; targets run `--jobs`
//! at a time (default: the number of CPUs). Exits 1 when any target found a crash.

use std::process::ExitCode;
use std::time::Duration;

use umlvnf_fuzz::{seconds_from_env, seed_from_env, targets, Target};

const USAGE: &str =
    "usage: umlvnf-fuzz [--seconds N] [--seed S] [--jobs J] [TARGET...] | --list | --write-corpus";

fn main() -> ExitCode {
    let mut seconds = seconds_from_env(300.0);
    let mut seed: Option<u64> = None;
    let mut jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut chosen: Vec<&'static Target> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |what: &str| {
            args.next()
                .ok_or_else(|| format!("{a} needs {what}; {USAGE}"))
        };
        let parsed: Result<(), String> = match a.as_str() {
            "--list" => {
                for t in targets::ALL {
                    println!("{:<10} {}", t.name, t.about);
                }
                return ExitCode::SUCCESS;
            }
            "--write-corpus" => {
                return match umlvnf_fuzz::seeds::write_corpus() {
                    Ok(n) => {
                        println!("seed corpus written ({n} files changed)");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: cannot write the seed corpus: {e}");
                        ExitCode::FAILURE
                    }
                };
            }
            "--seconds" => value("a number of seconds").and_then(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(|s| seconds = s)
                    .ok_or_else(|| format!("--seconds takes a positive number, not `{v}`"))
            }),
            "--seed" => value("a number").and_then(|v| {
                let n = match v.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).ok(),
                    None => v.parse().ok(),
                };
                n.map(|n| seed = Some(n))
                    .ok_or_else(|| format!("--seed takes a decimal or 0x hex number, not `{v}`"))
            }),
            "--jobs" => value("a count").and_then(|v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|j| *j > 0)
                    .map(|j| jobs = j)
                    .ok_or_else(|| format!("--jobs takes a positive whole number, not `{v}`"))
            }),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            name => match umlvnf_fuzz::target(name) {
                Some(t) => {
                    chosen.push(t);
                    Ok(())
                }
                None => {
                    let names: Vec<&str> = targets::ALL.iter().map(|t| t.name).collect();
                    Err(format!(
                        "`{name}` is not a fuzz target; the targets are: {}",
                        names.join(", ")
                    ))
                }
            },
        };
        if let Err(e) = parsed {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    if chosen.is_empty() {
        chosen = targets::ALL.iter().collect();
    }
    let budget = Duration::from_secs_f64(seconds);
    println!(
        "fuzzing {} targets for {seconds} s each, {jobs} at a time",
        chosen.len()
    );
    let queue = std::sync::Mutex::new(chosen.into_iter());
    let crashed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                let Some(t) = next else { break };
                let report =
                    umlvnf_fuzz::fuzz(t, budget, seed.unwrap_or_else(|| seed_from_env(t.name)));
                if !report.crashes.is_empty() {
                    crashed.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                println!("{report}");
            });
        }
    });
    if crashed.into_inner() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
