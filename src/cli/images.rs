//! `umlvnf image`: build, list and prune guest base images.

use std::path::PathBuf;
use std::process::ExitCode;

use umlvnf_image::{ImageInputs, ImageKind, ImageStore};

use super::Result;

/// The image store at its default place.
fn store() -> ImageStore {
    ImageStore::new(ImageStore::default_dir())
}

/// Builds image `kind` unless it is current (or always with `force`).
pub fn build(kind: &str, force: bool) -> Result<ExitCode> {
    let kind: ImageKind = kind.parse()?;
    let inputs = ImageInputs::new(umlvnf::images::agent_binary()?);
    let path = store().build(kind, &inputs, force, &|m: &str| eprintln!("{m}"))?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Deletes images that are neither current nor used by a running guest.
pub fn prune() -> Result<ExitCode> {
    let store = store();
    let inputs = ImageInputs::new(umlvnf::images::agent_binary()?);
    let mut keep: Vec<PathBuf> = ImageKind::ALL
        .iter()
        .filter_map(|k| store.image_path(*k, &inputs).ok())
        .collect();
    keep.extend(images_in_use());
    let removed = store.remove_stale(&keep)?;
    for p in &removed {
        println!("removed {}", p.display());
    }
    println!(
        "{} removed; kept the current images and {} in use by running guests",
        removed.len(),
        keep.len().saturating_sub(ImageKind::ALL.len())
    );
    Ok(ExitCode::SUCCESS)
}

/// Lists built images.
pub fn list() -> Result<ExitCode> {
    println!("{:<8} {:>10}  PATH", "KIND", "SIZE");
    for i in store().list()? {
        println!(
            "{:<8} {:>9}M  {}",
            i.kind.name(),
            i.size >> 20,
            i.path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Base images named by the `ubd0=COW,BASE` argument of any running UML process.
fn images_in_use() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in umlvnf_host::processes() {
        for arg in p.args().unwrap_or_default() {
            let arg = String::from_utf8_lossy(&arg);
            if let Some(base) = arg.strip_prefix("ubd0=").and_then(|v| v.split(',').nth(1)) {
                out.push(PathBuf::from(base));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
