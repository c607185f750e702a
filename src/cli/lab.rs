//! Which lab a command is about, its recorded state, and its runtime's control socket.

use std::path::PathBuf;

use umlvnf::state::{self, LabState};
use umlvnf_lab::{Client, LabDir};

use super::Result;

/// Which lab a command is about.
#[derive(clap::Args, Clone)]
pub struct LabArgs {
    /// The topology file of the lab.
    #[arg(short = 't', long = "topology")]
    topology: Option<PathBuf>,
    /// The lab name.
    #[arg(long)]
    lab: Option<String>,
}

/// A lab that is up: its name, directory and recorded state.
pub struct Chosen {
    /// Lab name.
    pub lab: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Its `state.json`.
    pub state: LabState,
}

impl Chosen {
    /// Finds the lab `args` name (or the only one that is up) and loads its state.
    pub fn from(args: &LabArgs) -> Result<Chosen> {
        let lab = select_lab(args)?;
        let dir = LabDir::of(&lab).path().to_path_buf();
        match LabState::load(&dir) {
            Ok(state) => Ok(Chosen { lab, dir, state }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("lab `{lab}` is not up (no {})", dir.display()).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The lab's runtime, at the control socket its state records.
    pub fn client(&self) -> Client {
        Client::new(&self.lab, &self.state.control)
    }
}

/// The runtime of the lab `args` name.
pub fn client(args: &LabArgs) -> Result<Client> {
    Ok(Chosen::from(args)?.client())
}

/// Finds the lab a command is about.
fn select_lab(args: &LabArgs) -> Result<String> {
    if let Some(l) = &args.lab {
        return Ok(l.clone());
    }
    if let Some(t) = &args.topology {
        return Ok(umlvnf_topology::load(t)?.name);
    }
    let labs = state::list_labs();
    match labs.len() {
        0 => match std::fs::read_dir(state::labs_dir()) {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!(
                "cannot read {} (permission denied): labs belong to root, so run umlvnf as root",
                state::labs_dir().display()
            )
            .into()),
            _ => Err("no lab is up (start one with `umlvnf up FILE`)".into()),
        },
        1 => Ok(labs[0].clone()),
        _ => Err(format!(
            "{} labs are up ({}); choose one with --lab NAME or -t FILE",
            labs.len(),
            labs.join(", ")
        )
        .into()),
    }
}
