//! Finding what base images are built from: the agent binary and the kernel.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use umlvnf_image::{ImageInputs, KernelStore};
use umlvnf_topology::defaults::KernelChoice;
use umlvnf_topology::{NodeKind, Topology};

use crate::plan::{GuestKernel, PlanContext, ResolveContext};

/// Why the agent binary or a kernel for the guests could not be found, read or built.
#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The agent binary is not next to umlvnf.
    #[error("{0}")]
    MissingAgent(String),
    /// A kernel could not be built, read, or is refused for this host.
    #[error("{0}")]
    Kernel(String),
}

/// The `umlvnf-agent` binary: `$UMLVNF_AGENT`, or the one next to this executable.
pub fn agent_binary() -> Result<PathBuf, ImagesError> {
    if let Some(p) = std::env::var_os("UMLVNF_AGENT") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|source| ImagesError::Io {
        what: "finding the umlvnf executable",
        source,
    })?;
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    for candidate in [dir.join("umlvnf-agent"), dir.join("../umlvnf-agent")] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(ImagesError::MissingAgent(format!(
        "umlvnf-agent was not found next to {} (build it with `cargo build --workspace --bins`, or set UMLVNF_AGENT)",
        exe.display()
    )))
}

/// The kernel choices of the topology's uml nodes.
fn kernel_choices(topo: &Topology) -> BTreeSet<KernelChoice> {
    topo.nodes
        .keys()
        .filter(|n| topo.node_kind(n) == NodeKind::Uml)
        .map(|n| topo.effective_kernel(n))
        .collect()
}

/// What a kernel file is (read from the file, never run).
fn kernel_facts(path: &str) -> Result<umlvnf_kernel::KernelFacts, ImagesError> {
    umlvnf_kernel::KernelFacts::read(Path::new(path))
        .map_err(|e| ImagesError::Kernel(e.to_string()))
}

/// A kernel file as the plan needs it.
fn file_kernel(facts: &umlvnf_kernel::KernelFacts) -> GuestKernel {
    GuestKernel {
        path: facts.path.clone(),
        modular: facts.modular(),
        seccomp_userspace: facts.has_seccomp_userspace(),
    }
}

fn appliance_kernel(path: PathBuf) -> GuestKernel {
    GuestKernel {
        path,
        modular: false,
        seccomp_userspace: true,
    }
}

/// The kernels `plan` shows: appliance kernels under their store names (whether built or
/// not), kernel files as they are.
pub fn planned_kernels(
    topo: &Topology,
) -> Result<BTreeMap<KernelChoice, GuestKernel>, ImagesError> {
    let store = KernelStore::new(KernelStore::default_dir());
    kernel_choices(topo)
        .into_iter()
        .map(|choice| {
            let k = match &choice {
                KernelChoice::Appliance(f) => appliance_kernel(store.planned_path(*f)),
                KernelChoice::File(path) => file_kernel(&kernel_facts(path)?),
            };
            Ok((choice, k))
        })
        .collect()
}

/// The kernels `up` boots: appliance kernels built now if the store has none for the current
/// recipe; kernel files refused if this host cannot boot them (before anything is started).
pub fn resolve_kernels(
    topo: &Topology,
    progress: &mut dyn FnMut(&str),
) -> Result<BTreeMap<KernelChoice, GuestKernel>, ImagesError> {
    let store = KernelStore::new(KernelStore::default_dir());
    let cpu = umlvnf_kernel::HostCpu::detect();
    let mut out = BTreeMap::new();
    for choice in kernel_choices(topo) {
        let k = match &choice {
            KernelChoice::Appliance(f) => {
                let built = store
                    .ensure(*f, &|m: &str| eprintln!("kernel {m}"))
                    .map_err(|e| ImagesError::Kernel(format!("kernel: {e}")))?;
                progress(&format!(
                    "kernel {f}: linux {} ({})",
                    built.release,
                    built.binary().display()
                ));
                appliance_kernel(built.binary())
            }
            KernelChoice::File(path) => {
                let facts = kernel_facts(path)?;
                if let Some(why) = umlvnf_kernel::boot_refusal(&facts, cpu) {
                    return Err(ImagesError::Kernel(why));
                }
                file_kernel(&facts)
            }
        };
        out.insert(choice, k);
    }
    Ok(out)
}

/// The inputs of the topology's base images: modules come along only when a node boots a
/// modular kernel (Debian's); the appliance kernel has everything built in.
pub fn inputs(
    topo: &Topology,
    kernels: &BTreeMap<KernelChoice, GuestKernel>,
) -> Result<ImageInputs, ImagesError> {
    let modules_from = kernel_choices(topo)
        .iter()
        .filter_map(|c| kernels.get(c))
        .find(|k| k.modular)
        .map(|k| k.path.clone());
    Ok(ImageInputs {
        agent: agent_binary()?,
        modules_from,
    })
}

/// The context `plan` uses: appliance kernels under their store names, kernel files read,
/// and `seccomp` as given (the host's answer for `umlvnf plan`, fixed in tests); no `lpj=`
/// (callers that plan for this host set [`crate::plan::PlanContext::loops_per_jiffy`]).
pub fn planned_context(
    topo: &Topology,
    labs_dir: PathBuf,
    images: BTreeMap<String, PathBuf>,
    seccomp: bool,
) -> Result<PlanContext, ImagesError> {
    Ok(PlanContext {
        labs_dir,
        images,
        kernels: planned_kernels(topo)?,
        seccomp,
        loops_per_jiffy: None,
    })
}

/// Where `umlvnf plan` shows base images: the image store path of each named kind, image
/// files as they are.
pub fn planned_images(topo: &Topology) -> BTreeMap<String, PathBuf> {
    let dir = umlvnf_image::ImageStore::default_dir();
    topo.nodes
        .keys()
        .filter(|n| topo.node_kind(n) == NodeKind::Uml)
        .map(|n| topo.effective_image(n))
        .map(|img| {
            let path = if img.parse::<umlvnf_image::ImageKind>().is_ok() {
                dir.join(format!("{img}.ext4"))
            } else {
                PathBuf::from(&img)
            };
            (img, path)
        })
        .collect()
}

/// The context `umlvnf plan` and `umlvnf validate` plan with on this host: images and
/// appliance kernels where their stores would put them (nothing is built), this host's
/// seccomp support and `lpj=`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlannedHere;

impl ResolveContext for PlannedHere {
    type Error = ImagesError;

    fn context(&mut self, topo: &Topology) -> Result<PlanContext, ImagesError> {
        let mut ctx = planned_context(
            topo,
            crate::state::labs_dir(),
            planned_images(topo),
            umlvnf_kernel::host::seccomp_available(),
        )?;
        ctx.loops_per_jiffy = umlvnf_kernel::host::loops_per_jiffy();
        Ok(ctx)
    }
}
