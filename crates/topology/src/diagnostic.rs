//! Located error messages: what `load` reports about a topology file.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a topology file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The topology file, as given to `load`.
    pub file: PathBuf,
    /// Line, counted from 1.
    pub line: usize,
    /// Column in characters, counted from 1.
    pub column: usize,
    /// The field path, such as `nodes.r1.interfaces.eth0.mtu` or `links[1].endpoints[0]`;
    /// empty for problems with the file as a whole.
    pub field: String,
    /// What is wrong and what would be valid, as a sentence.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `FILE:LINE:COL: FIELD: MESSAGE`, or `FILE:LINE:COL: MESSAGE` when there is no field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a topology file could not be loaded: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The problems, sorted by line and column. Never empty.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for LoadError {
    /// One diagnostic per line, without a trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// A position in the source, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Pos {
    /// The start of the file.
    pub const START: Pos = Pos { line: 1, column: 1 };
}

/// Collects diagnostics for one file.
#[derive(Debug)]
pub(crate) struct Sink {
    file: PathBuf,
    diagnostics: Vec<Diagnostic>,
}

impl Sink {
    /// An empty sink for `file`.
    pub fn new(file: PathBuf) -> Self {
        Sink {
            file,
            diagnostics: Vec::new(),
        }
    }

    /// Records one problem.
    pub fn error(&mut self, pos: Pos, field: &str, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// True if nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// The collected problems as an error, sorted by position (stable, so problems at the same
    /// place keep the order they were found in), with exact duplicates removed.
    pub fn into_error(mut self) -> LoadError {
        self.diagnostics.sort_by_key(|d| (d.line, d.column));
        self.diagnostics.dedup();
        LoadError {
            diagnostics: self.diagnostics,
        }
    }
}
