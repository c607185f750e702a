//! `umlvnf down`: tear a lab down, through its runtime or, when none answers, from its
//! recorded state.

use std::process::ExitCode;
use std::time::Duration;

use umlvnf::runtime;
use umlvnf_lab::ControlError;

use super::lab::{Chosen, LabArgs};
use super::Result;

/// Takes the lab down, leaving nothing behind.
pub fn down(args: &LabArgs) -> Result<ExitCode> {
    let chosen = Chosen::from(args)?;
    let lab = &chosen.lab;
    if chosen.state.supervisor.is_some_and(|p| p.is_alive()) {
        match chosen.client().down(Duration::from_secs(120)) {
            Ok(()) => {
                println!("lab {lab} is down");
                return Ok(ExitCode::SUCCESS);
            }
            Err(ControlError::Refused(message)) => {
                eprintln!("the runtime reported: {message}");
            }
            Err(e) => eprintln!("{e}; removing the lab from its recorded state"),
        }
    }
    let problems = runtime::down_stale(lab, &chosen.dir);
    if problems.is_empty() {
        println!("lab {lab} is down");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(format!(
            "lab {lab}: some objects could not be removed: {}",
            problems.join("; ")
        )
        .into())
    }
}
