//! `load_str` must never panic: every example and corpus file, truncated at every byte
//! offset, and a few thousand random byte changes, must each give `Ok` or `Err`.

use std::path::{Path, PathBuf};

fn inputs() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = ["tests/bad", "tests/good", "../../topologies"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).expect("corpus directory"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "only {} inputs", files.len());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("UTF-8 corpus file");
            (p, text)
        })
        .collect()
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn truncated_inputs_never_panic() {
    let mut loaded = 0usize;
    let mut rejected = 0usize;
    for (path, text) in inputs() {
        for cut in 0..=text.len() {
            if !text.is_char_boundary(cut) {
                continue;
            }
            match umlvnf_topology::load_str(&text[..cut], &path) {
                Ok(_) => loaded += 1,
                Err(e) => {
                    assert!(!e.diagnostics.is_empty());
                    rejected += 1;
                }
            }
        }
    }
    assert!(
        loaded > 0 && rejected > 0,
        "loaded {loaded}, rejected {rejected}"
    );
}

#[test]
fn random_byte_changes_never_panic() {
    // Bytes that matter to YAML, plus letters and digits.
    const ALPHABET: &[u8] = b" \n\t:-[]{},#&*!|>'\"%@`?.0123456789abcxyzABC/\\~";
    let inputs = inputs();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut rejected = 0usize;
    for round in 0..4000 {
        let (path, text) = &inputs[round % inputs.len()];
        let mut bytes = text.clone().into_bytes();
        if bytes.is_empty() {
            continue;
        }
        for _ in 0..=rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[at] = ALPHABET[rng.below(ALPHABET.len())],
                1 => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
                _ => {
                    bytes.remove(at);
                    if bytes.is_empty() {
                        bytes.push(b'x');
                    }
                }
            }
        }
        let mutated = String::from_utf8_lossy(&bytes);
        if let Err(e) = umlvnf_topology::load_str(&mutated, path) {
            assert!(!e.diagnostics.is_empty());
            assert!(e.diagnostics.iter().all(|d| d.line >= 1 && d.column >= 1));
            rejected += 1;
        }
    }
    assert!(rejected > 0);
}
