//! One configuration step's command: running it with a time limit, and the failure that names
//! the step, the command and what went wrong.

use std::time::Duration;

use super::exec;
use super::supervisor::Supervisor;

/// How long one configuration command may run.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// A configuration step that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    /// The step (`hostname`, `modules`, `loopback`, `interfaces`, `sysctls`, `files`,
    /// `nftables`, `iptables`, `ip6tables`, `routes`, `exec`).
    pub step: String,
    /// The command or action that failed.
    pub command: String,
    /// Its stderr and exit status, or the error message.
    pub error: String,
}

pub(crate) fn failure(
    step: &str,
    command: impl Into<String>,
    error: impl Into<String>,
) -> StepFailure {
    StepFailure {
        step: step.into(),
        command: command.into(),
        error: error.into(),
    }
}

/// Quotes argv for a message: words with spaces or quotes are single-quoted.
pub fn display_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,+@%".contains(&b))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs one command of `step`; a spawn error, a timeout or a non-zero exit is a failure.
pub(crate) fn run(sup: &mut Supervisor, step: &str, argv: &[String]) -> Result<(), StepFailure> {
    run_with_input(sup, step, argv, None, display_argv(argv))
}

/// Runs one command of `step` with `stdin` (or `/dev/null`); `shown` names it in a failure.
pub(crate) fn run_with_input(
    sup: &mut Supervisor,
    step: &str,
    argv: &[String],
    stdin: Option<&[u8]>,
    shown: String,
) -> Result<(), StepFailure> {
    let r = exec::run(sup, argv, stdin, STEP_TIMEOUT)
        .map_err(|e| failure(step, shown.clone(), e.to_string()))?;
    if r.timed_out {
        return Err(failure(
            step,
            shown,
            format!(
                "the command did not finish within {} s and was killed",
                STEP_TIMEOUT.as_secs()
            ),
        ));
    }
    if r.status != 0 {
        let stderr = String::from_utf8_lossy(&r.stderr).trim_end().to_string();
        let stdout = String::from_utf8_lossy(&r.stdout).trim_end().to_string();
        let mut msg = format!("exit status {}", r.status);
        if !stderr.is_empty() {
            msg.push_str(": ");
            msg.push_str(&stderr);
        } else if !stdout.is_empty() {
            msg.push_str(": ");
            msg.push_str(&stdout);
        }
        return Err(failure(step, shown, msg));
    }
    Ok(())
}

pub(crate) fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_display_quotes_when_needed() {
        let a = args(&["sh", "-c", "echo 'hi' there", "10.0.0.1/24"]);
        assert_eq!(
            display_argv(&a),
            "sh -c 'echo '\\''hi'\\'' there' 10.0.0.1/24"
        );
    }

    #[test]
    fn failing_command_reports_step_and_stderr() {
        let mut sup = Supervisor::new(false);
        let e = run(
            &mut sup,
            "exec",
            &args(&["sh", "-c", "echo boom >&2; exit 4"]),
        )
        .unwrap_err();
        assert_eq!(e.step, "exec");
        assert_eq!(e.command, "sh -c 'echo boom >&2; exit 4'");
        assert_eq!(e.error, "exit status 4: boom");
    }
}
