//! What every stage of a running deploy shares: the interrupt flag and the progress output.

use std::io::Write;
use std::sync::atomic::AtomicBool;

/// Set when SIGINT or SIGTERM arrives; deploy steps and waits check it.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Where progress lines go: the terminal, or the pipe to the waiting parent of `up -d`.
pub(crate) struct Progress {
    /// The terminal or the pipe.
    pub(super) out: Box<dyn Write + Send>,
}

impl Progress {
    /// Writes one line at once.
    pub(crate) fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }
}
