//! Building one flavour of the appliance kernel from an extracted, patched source tree:
//! `x86_64_defconfig`, the flavour's fragments merged on top, `olddefconfig`, a check that
//! every fragment option holds, `make linux`, strip.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use umlvnf_kernel::facts::parse_config_lines;
use umlvnf_kernel::recipe::PATCHES;
use umlvnf_kernel::Flavour;

use crate::tools;
use crate::ImageError;

/// Extracts `tarball` into `work` and applies the project's patches; returns the tree and its
/// kernel release (`X.Y.Z` from the top Makefile).
pub(crate) fn prepare_tree(
    tarball: &Path,
    work: &Path,
    progress: &dyn Fn(&str),
) -> Result<(PathBuf, String), ImageError> {
    std::fs::create_dir_all(work).map_err(ImageError::io("creating directory", work))?;
    progress(&format!("extracting {}", tarball.display()));
    tools::run(
        Command::new(tools::find_program("tar", "tar")?)
            .arg("-xJf")
            .arg(tarball)
            .arg("-C")
            .arg(work),
    )?;
    let tree = std::fs::read_dir(work)
        .map_err(ImageError::io("reading", work))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("Makefile").is_file() && p.join("arch/um").is_dir())
        .ok_or_else(|| {
            ImageError::KernelBuild(format!(
                "{} holds no kernel source tree (no top directory with a Makefile and arch/um)",
                tarball.display()
            ))
        })?;
    let makefile = tree.join("Makefile");
    let text = std::fs::read_to_string(&makefile).map_err(ImageError::io("reading", &makefile))?;
    let release = makefile_release(&text).ok_or_else(|| {
        ImageError::KernelBuild(format!(
            "{} names no VERSION/PATCHLEVEL",
            makefile.display()
        ))
    })?;
    for (name, text) in PATCHES {
        progress(&format!("applying {name}"));
        let patch_file = work.join(name);
        std::fs::write(&patch_file, text).map_err(ImageError::io("writing", &patch_file))?;
        tools::run(
            Command::new(tools::find_program("patch", "patch")?)
                .current_dir(&tree)
                .args(["-p1", "--forward", "--batch", "-i"])
                .arg(&patch_file),
        )
        .map_err(|e| {
            ImageError::KernelBuild(format!(
                "the patch kernel/patches/{name} does not apply to linux {release}: {e}"
            ))
        })?;
    }
    Ok((tree, release))
}

/// `VERSION.PATCHLEVEL.SUBLEVEL` from a kernel's top Makefile.
pub(crate) fn makefile_release(text: &str) -> Option<String> {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    let version = field("VERSION").filter(|v| v.parse::<u32>().is_ok())?;
    let patchlevel = field("PATCHLEVEL").filter(|v| v.parse::<u32>().is_ok())?;
    let sublevel = field("SUBLEVEL")
        .filter(|v| v.parse::<u32>().is_ok())
        .unwrap_or_else(|| "0".into());
    Some(format!("{version}.{patchlevel}.{sublevel}"))
}

/// Merges `fragment` onto `config` (`.config` text): each option the fragment names replaces
/// the line for it, new ones are appended.
pub(crate) fn merge_config(config: &str, fragment: &str) -> String {
    let set = parse_config_lines(fragment);
    let mut out = String::new();
    for line in config.lines() {
        let named = parse_config_lines(line);
        if named.keys().any(|k| set.contains_key(k)) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    for (k, v) in &set {
        if v == "n" {
            out.push_str(&format!("# {k} is not set\n"));
        } else {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    out
}

/// The fragment options `config` does not hold, as `OPTION: wanted W, got G`.
pub(crate) fn unmet_options(config: &str, flavour: Flavour) -> Vec<String> {
    let got = parse_config_lines(config);
    flavour
        .config()
        .into_iter()
        .filter_map(|(k, want)| {
            let have = got.get(&k).cloned().unwrap_or_else(|| "n".into());
            (have != want).then(|| format!("{k}: wanted {want}, got {have}"))
        })
        .collect()
}

/// Configures and builds `flavour` from `tree` in `out`; returns the unstripped binary.
pub(crate) fn build_flavour(
    tree: &Path,
    out: &Path,
    flavour: Flavour,
    progress: &dyn Fn(&str),
) -> Result<PathBuf, ImageError> {
    std::fs::create_dir_all(out).map_err(ImageError::io("creating directory", out))?;
    let make = tools::find_program("make", "make")?;
    let make_cmd = || {
        let mut c = Command::new(&make);
        c.arg("-C")
            .arg(tree)
            .arg("ARCH=um")
            .arg(format!("O={}", out.display()));
        c
    };
    tools::run(make_cmd().arg("x86_64_defconfig"))?;
    let config_path = out.join(".config");
    let mut config =
        std::fs::read_to_string(&config_path).map_err(ImageError::io("reading", &config_path))?;
    for (_, text) in flavour.fragments() {
        config = merge_config(&config, text);
    }
    std::fs::write(&config_path, &config).map_err(ImageError::io("writing", &config_path))?;
    tools::run(make_cmd().arg("olddefconfig"))?;
    let config =
        std::fs::read_to_string(&config_path).map_err(ImageError::io("reading", &config_path))?;
    let unmet = unmet_options(&config, flavour);
    if !unmet.is_empty() {
        return Err(ImageError::KernelBuild(format!(
            "the {flavour} flavour's config does not hold on this source (missing dependencies or renamed options; \
             fix kernel/*.config): {}",
            unmet.join("; ")
        )));
    }
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let log_path = out.join("build.log");
    let log = std::fs::File::create(&log_path).map_err(ImageError::io("creating", &log_path))?;
    let mut child = make_cmd()
        .arg(format!("-j{jobs}"))
        .arg("linux")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(ImageError::io("starting make in", tree))?;
    let started = Instant::now();
    let mut last = Instant::now();
    let mut compiled = 0usize;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.trim_start().starts_with("CC ") {
                compiled += 1;
            }
            if last.elapsed() >= Duration::from_secs(15) {
                last = Instant::now();
                progress(&format!(
                    "{flavour}: {compiled} files compiled in {} s",
                    started.elapsed().as_secs()
                ));
            }
        }
    }
    let status = child
        .wait()
        .map_err(ImageError::io("waiting for make in", tree))?;
    if !status.success() {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(25).collect();
        return Err(ImageError::KernelBuild(format!(
            "`make linux` for the {flavour} flavour failed with {status}; the end of {}:\n{}",
            log_path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    Ok(out.join("linux"))
}

/// Copies `binary` stripped to `dest`.
pub(crate) fn strip_to(binary: &Path, dest: &Path) -> Result<(), ImageError> {
    tools::run(
        Command::new(tools::find_program("strip", "binutils")?)
            .arg("-o")
            .arg(dest)
            .arg(binary),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_replaces_and_appends() {
        let base = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\n# comment\n";
        let merged = merge_config(base, "CONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=\"x\"\n");
        assert_eq!(
            merged,
            "CONFIG_A=y\n# comment\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=\"x\"\n"
        );
    }

    #[test]
    fn unmet_options_are_named() {
        let unmet = unmet_options("CONFIG_SMP=y\n", Flavour::Smp);
        assert!(unmet
            .iter()
            .any(|u| u.starts_with("CONFIG_UML_NET_VECTOR: wanted y, got n")));
        assert!(!unmet.iter().any(|u| u.starts_with("CONFIG_SMP:")));
    }

    #[test]
    fn release_from_makefile() {
        let mk = "# SPDX\nVERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\nEXTRAVERSION =\n";
        assert_eq!(makefile_release(mk).as_deref(), Some("7.3.4"));
        assert_eq!(makefile_release("VERSION = x\n"), None);
    }
}
