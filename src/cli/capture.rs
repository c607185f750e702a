//! `umlvnf capture`: a wire's frames as pcap, to a file or stdout.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::lab::{self, LabArgs};
use super::Result;

/// Writes the capture of `link` to `write` (stdout when absent or `-`) for `duration`
/// seconds, or until the runtime or the reader ends it.
pub fn capture(
    args: &LabArgs,
    link: &str,
    write: Option<PathBuf>,
    duration: Option<f64>,
) -> Result<ExitCode> {
    let mut stream = lab::client(args)?.capture(link, Duration::from_secs(10))?;
    let mut out: Box<dyn Write> = match write.as_deref() {
        None => Box::new(std::io::stdout()),
        Some(p) if p == Path::new("-") => Box::new(std::io::stdout()),
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
    };
    let end = duration.map(|d| std::time::Instant::now() + Duration::from_secs_f64(d));
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if end.is_some_and(|e| std::time::Instant::now() >= e) {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.write_all(&buf[..n])?;
                out.flush()?;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok(ExitCode::SUCCESS)
}
