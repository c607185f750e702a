//! `umlvnf kernel`: build, list and prune umlvnf's appliance kernels.

use std::path::PathBuf;
use std::process::ExitCode;

use umlvnf_image::{KernelSource, KernelStore};
use umlvnf_kernel::Flavour;

use super::Result;

/// The kernel store at its default place.
fn store() -> KernelStore {
    KernelStore::new(KernelStore::default_dir())
}

/// Progress lines of a kernel build.
fn progress(m: &str) {
    eprintln!("kernel {m}");
}

/// Builds every flavour, or `flavour`, from Debian's source or `source`; a current build is
/// kept unless `force`.
pub fn build(flavour: Option<String>, source: Option<PathBuf>, force: bool) -> Result<ExitCode> {
    let flavours = match flavour {
        Some(f) => vec![f.parse::<Flavour>()?],
        None => Flavour::ALL.to_vec(),
    };
    let source = source.map_or(KernelSource::Debian, KernelSource::Tarball);
    let started = std::time::Instant::now();
    for k in store().build(&flavours, &source, force, &progress)? {
        println!(
            "{:<12} linux {:<8} {}",
            k.flavour,
            k.release,
            k.binary().display()
        );
    }
    eprintln!("kernel: ready in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// Lists built kernels.
pub fn list() -> Result<ExitCode> {
    println!(
        "{:<12} {:<9} {:<8} {:<17} SOURCE",
        "FLAVOUR", "RELEASE", "CURRENT", "RECIPE"
    );
    for k in store().list() {
        println!(
            "{:<12} {:<9} {:<8} {:<17} {}",
            k.flavour,
            k.release,
            if k.is_current_recipe() { "yes" } else { "no" },
            k.recipe,
            k.source
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the binary of `flavour`'s current build, building it if there is none.
pub fn path(flavour: &str) -> Result<ExitCode> {
    let k = store().ensure(flavour.parse::<Flavour>()?, &progress)?;
    println!("{}", k.binary().display());
    Ok(ExitCode::SUCCESS)
}

/// Deletes builds that are neither current nor run by a guest.
pub fn prune() -> Result<ExitCode> {
    let removed = store().prune()?;
    for p in &removed {
        println!("removed {}", p.display());
    }
    println!(
        "{} removed; kept the current build of each flavour and any a guest runs",
        removed.len()
    );
    Ok(ExitCode::SUCCESS)
}
