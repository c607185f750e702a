//! What the planner needs to know about the machine, kept apart so that plans stay pure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use umlvnf_topology::defaults::KernelChoice;

/// What the planner needs to know about the machine, kept apart so that plans stay pure.
#[derive(Debug, Clone)]
pub struct PlanContext {
    /// Directory holding one state directory per lab.
    pub labs_dir: PathBuf,
    /// Base image path for each image name used by the topology (`minimal`, `debian`, or the
    /// path itself for image files).
    pub images: BTreeMap<String, PathBuf>,
    /// What each kernel the topology names resolves to.
    pub kernels: BTreeMap<KernelChoice, GuestKernel>,
    /// Whether this host lets UML run guest processes under seccomp (the default userspace
    /// where the kernel has it).
    pub seccomp: bool,
    /// Loops per jiffy of this host's delay loop, given to every guest as `lpj=` so that it
    /// skips calibrating it at boot (`None`: the guest calibrates).
    pub loops_per_jiffy: Option<u64>,
}

/// A kernel a guest boots, as far as its command line depends on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestKernel {
    /// The binary.
    pub path: PathBuf,
    /// It loads modules (Debian's kernel): the agent loads what the node needs.
    pub modular: bool,
    /// It takes `seccomp=on|off` (UML 6.16 and later).
    pub seccomp_userspace: bool,
}
