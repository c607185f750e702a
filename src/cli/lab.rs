//! Which lab a command is about, its recorded state, and its runtime's control socket.

use std::path::PathBuf;

use umlvnf::plan::share::share_lab;
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
    /// The host whose share of a lab spread over several machines this is about (a name under
    /// the topology's `hosts:`; the share runs as lab `LAB.HOST`).
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
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

/// Finds the lab a command is about: the one named, the one of the topology file, or the only
/// one up; with `--host`, that host's share of it.
fn select_lab(args: &LabArgs) -> Result<String> {
    let host = args.host.as_deref();
    if let Some(l) = &args.lab {
        return Ok(host.map_or_else(|| l.clone(), |h| share_lab(l, h)));
    }
    if let Some(t) = &args.topology {
        let topo = umlvnf_topology::load(t)?;
        return match host {
            Some(h) if !topo.hosts.contains_key(h) => Err(format!(
                "{} has no host `{h}` under `hosts:`{}",
                t.display(),
                one_of(topo.hosts.keys())
            )
            .into()),
            Some(h) => Ok(share_lab(&topo.name, h)),
            None if topo.hosts.is_empty() => Ok(topo.name),
            None => only_share_up(&topo.name, t),
        };
    }
    let labs = state::list_labs();
    let labs: Vec<String> = match host {
        Some(h) => labs
            .into_iter()
            .filter(|l| l.rsplit_once('.').is_some_and(|(_, lh)| lh == h))
            .collect(),
        None => labs,
    };
    match labs.len() {
        0 => match std::fs::read_dir(state::labs_dir()) {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!(
                "cannot read {} (permission denied): labs belong to root, so run umlvnf as root",
                state::labs_dir().display()
            )
            .into()),
            _ => Err(match host {
                Some(h) => format!("no share of host `{h}` is up on this machine (start one with `umlvnf up FILE --host {h}`)"),
                None => "no lab is up (start one with `umlvnf up FILE`)".to_string(),
            }
            .into()),
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

/// The share of spread lab `lab` (topology file `file`) that is up on this machine, when it
/// is the only one.
fn only_share_up(lab: &str, file: &std::path::Path) -> Result<String> {
    let prefix = format!("{lab}.");
    let up: Vec<String> = state::list_labs()
        .into_iter()
        .filter(|l| l.starts_with(&prefix))
        .collect();
    match up.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "lab `{lab}` ({}) is spread over several machines and no share of it is up on this machine: start one with `umlvnf up {} --host NAME`",
            file.display(),
            file.display()
        )
        .into()),
        _ => Err(format!(
            "several shares of lab `{lab}` are up on this machine ({}): choose one with --host NAME",
            up.join(", ")
        )
        .into()),
    }
}

/// The end of an unknown-host error: `: choose one of `a`, `b``, or that there are no hosts.
fn one_of<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        " (it has no `hosts:`)".to_string()
    } else {
        format!(": choose one of {}", names.join(", "))
    }
}
