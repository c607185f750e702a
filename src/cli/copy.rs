//! `umlvnf cp`: copy a file into or out of a guest.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::lab::{Chosen, LabArgs};
use super::Result;

/// How long a copy may take.
const COPY_TIMEOUT: Duration = Duration::from_secs(120);

/// Copies `src` to `dst`, exactly one of them `NODE:PATH` of a guest.
pub fn copy(args: &LabArgs, src: &str, dst: &str) -> Result<ExitCode> {
    let chosen = Chosen::from(args)?;
    let remote = |s: &str| -> Option<(String, String)> {
        let (node, path) = s.split_once(':')?;
        chosen
            .state
            .guests
            .contains_key(node)
            .then(|| (node.to_string(), path.to_string()))
    };
    let client = chosen.client();
    match (remote(src), remote(dst)) {
        (None, Some((node, path))) => {
            let data = std::fs::read(src).map_err(|e| format!("{src}: {e}"))?;
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(src)?.permissions().mode() & 0o7777;
            client.put(&node, &path, mode, data, COPY_TIMEOUT)?;
        }
        (Some((node, path)), None) => {
            let data = client.get(&node, &path, COPY_TIMEOUT)?;
            let local = Path::new(dst);
            std::fs::write(local, data).map_err(|e| format!("{}: {e}", local.display()))?;
        }
        _ => return Err("exactly one of SRC and DST must be NODE:PATH of a guest".into()),
    }
    Ok(ExitCode::SUCCESS)
}
