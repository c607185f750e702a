//! Topology files: the YAML model, loading with located errors, validation and the JSON schema.
//!
//! [`load`] reads a topology file and returns a [`Topology`] whose paths are absolute and whose
//! `nftables` fields hold ruleset text, or a [`LoadError`] that lists every problem found with
//! its file, line, column and field.

mod construct;
mod decode;
pub mod defaults;
mod diagnostic;
mod endpoint;
mod field_names;
mod impair_schema;
pub mod kernel_config;
pub mod model;
pub mod names;
pub mod placement;
mod retransport;
mod spans;
mod tree;
pub mod tunnel;
mod validate;

use std::path::{Path, PathBuf};

pub use defaults::ImageSource;
pub use diagnostic::{Diagnostic, LoadError};
pub use model::*;
pub use tunnel::*;

use diagnostic::{Pos, Sink};
use spans::Spans;

/// Reads, parses and validates the topology file at `path`.
///
/// Relative paths inside it are resolved against its directory.
pub fn load(path: &Path) -> Result<Topology, LoadError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let mut sink = Sink::new(path.to_path_buf());
            sink.error(
                Pos::START,
                "",
                format!(
                    "cannot read the topology file ({e}): give the path of a readable YAML file"
                ),
            );
            return Err(sink.into_error());
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => load_str(&text, path),
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            // The prefix is valid UTF-8 by construction.
            let prefix = std::str::from_utf8(good).unwrap_or_default();
            let line = prefix.matches('\n').count() + 1;
            let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let mut sink = Sink::new(path.to_path_buf());
            sink.error(
                Pos { line, column },
                "",
                "the file is not valid UTF-8 here: save it as UTF-8 text",
            );
            Err(sink.into_error())
        }
    }
}

/// Parses and validates topology text as if read from `file`.
///
/// `file` names the source in diagnostics, and relative paths in the topology are resolved
/// against its directory (made absolute with the current directory if needed). The file itself
/// is not read.
pub fn load_str(text: &str, file: &Path) -> Result<Topology, LoadError> {
    let mut sink = Sink::new(file.to_path_buf());
    let root = match tree::parse(text) {
        Ok(root) => root,
        Err(e) => {
            sink.error(e.pos, "", e.message);
            return Err(sink.into_error());
        }
    };
    let mut spans = Spans::default();
    let partial = decode::decode(root.as_ref(), &mut sink, &mut spans);
    let mut topology = if sink.is_empty() {
        match deserialize(text) {
            Ok(t) => t,
            Err((pos, message)) => {
                let field = pos.and_then(|p| spans.path_at(p)).unwrap_or("").to_string();
                sink.error(pos.unwrap_or(Pos::START), &field, message);
                partial
            }
        }
    } else {
        partial
    };
    validate::validate(&mut topology, &spans, &mut sink, &base_dir(file));
    if sink.is_empty() {
        Ok(topology)
    } else {
        Err(sink.into_error())
    }
}

/// Deserializes with serde-saphyr, the model's canonical reading.
fn deserialize(text: &str) -> Result<Topology, (Option<Pos>, String)> {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    serde_saphyr::from_str_with_options::<Topology>(text, options).map_err(|e| {
        let pos = e.location().map(|l| Pos {
            line: usize::try_from(l.line()).unwrap_or(usize::MAX).max(1),
            column: usize::try_from(l.column()).unwrap_or(usize::MAX).max(1),
        });
        let full = e.to_string();
        // Drop the "error: line N column M: " prefix: the diagnostic carries the location.
        let message = full
            .split_once(": ")
            .and_then(|(_, rest)| {
                rest.strip_prefix("line ")
                    .and_then(|r| r.split_once(": ").map(|(_, m)| m))
            })
            .unwrap_or(&full);
        let message = message.lines().next().unwrap_or(message).trim().to_string();
        (pos, message)
    })
}

/// The directory that relative paths of `file` are resolved against, made absolute.
fn base_dir(file: &Path) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new(""));
    if dir.is_absolute() {
        return dir.to_path_buf();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(dir),
        Err(_) => dir.to_path_buf(),
    }
}

/// A loaded topology as topology text that [`load_str`] reads back to the same model: JSON,
/// which is also YAML. Rulesets and paths appear as loading left them (ruleset text inline,
/// paths absolute), so the text stands on its own wherever it is written.
pub fn to_text(topology: &Topology) -> String {
    // Plain data with string keys: serialising it cannot fail.
    serde_json::to_string_pretty(topology).unwrap_or_default()
}

/// A problem found after loading (while planning, where a limit depends on how the topology
/// is rendered), placed at `field`'s key in the topology file `file` (its start when the field
/// cannot be found).
pub fn diagnostic_at(file: &Path, field: &str, message: String) -> Diagnostic {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let pos = match tree::parse(&text) {
        Ok(Some(root)) => {
            let mut sink = Sink::new(file.to_path_buf());
            let mut spans = Spans::default();
            decode::decode(Some(&root), &mut sink, &mut spans);
            spans.key(field)
        }
        _ => Pos::START,
    };
    Diagnostic {
        file: file.to_path_buf(),
        line: pos.line,
        column: pos.column,
        field: field.to_string(),
        message,
    }
}

/// The JSON schema of topology files, generated from [`Topology`] (for editors and for
/// `umlvnf schema`).
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(Topology).to_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decoder (which collects every error) and serde-saphyr (the canonical reading) must
    /// build the same model from valid files.
    #[test]
    fn decoder_agrees_with_serde_saphyr() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let files = [
            root.join("../../topologies/quickstart.yaml"),
            root.join("../../topologies/firewall.yaml"),
            root.join("../../topologies/chain.yaml"),
            root.join("tests/good/full.yaml"),
            root.join("tests/good/tunnels.yaml"),
            root.join("../../topologies/tunnels.yaml"),
        ];
        for file in files {
            let text = std::fs::read_to_string(&file).expect("example exists");
            let tree = tree::parse(&text).expect("valid YAML");
            let mut sink = Sink::new(file.clone());
            let mut spans = Spans::default();
            let decoded = decode::decode(tree.as_ref(), &mut sink, &mut spans);
            assert!(sink.is_empty(), "{}", sink.into_error());
            let canonical = deserialize(&text).expect("serde-saphyr reads it");
            assert_eq!(decoded, canonical, "{}", file.display());
        }
    }

    #[test]
    fn serde_errors_become_located_diagnostics() {
        let (pos, message) = deserialize("name: a\nnodes:\n  r1: {bogus: 1}\n").expect_err("bad");
        assert_eq!(pos, Some(Pos { line: 3, column: 8 }));
        assert!(message.starts_with("unknown field `bogus`"), "{message}");
    }
}
