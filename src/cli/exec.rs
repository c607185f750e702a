//! `umlvnf exec`: run a command on a node; its exit status becomes umlvnf's.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::lab::{Chosen, LabArgs};
use super::Result;

/// An exit status as the process's exit code (clamped to 0..=255).
fn exit_code(status: i32) -> ExitCode {
    ExitCode::from(u8::try_from(status.clamp(0, 255)).unwrap_or(255))
}

/// Runs `command` on `node`: in the namespace of a host node, through the runtime in a guest,
/// giving up after `timeout` seconds.
pub fn exec(args: &LabArgs, node: &str, timeout: u64, command: &[String]) -> Result<ExitCode> {
    let chosen = Chosen::from(args)?;
    let (lab, st) = (&chosen.lab, &chosen.state);
    if let Some(netns) = st.hosts.get(node) {
        let status = umlvnf_host::command_in_netns(netns, &command[0], &command[1..]).status()?;
        use std::os::unix::process::ExitStatusExt;
        return Ok(exit_code(
            status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        ));
    }
    if !st.guests.contains_key(node) {
        let mut names: Vec<&String> = st.guests.keys().chain(st.hosts.keys()).collect();
        names.sort();
        return Err(format!(
            "lab `{lab}` has no node `{node}`; its nodes are: {}",
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
        .into());
    }
    let r = chosen.client().exec(
        node,
        command,
        None,
        Duration::from_secs(timeout),
        Duration::from_secs(timeout + 10),
    )?;
    std::io::stdout().write_all(&r.stdout)?;
    std::io::stderr().write_all(&r.stderr)?;
    Ok(exit_code(r.status))
}
