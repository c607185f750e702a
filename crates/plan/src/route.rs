//! The one route from a topology file to a [`Plan`]: load and validate the file, resolve what
//! the plan needs to know about the machine, plan. `umlvnf plan`, `umlvnf validate` and
//! `umlvnf up` all take it; they differ only in how they resolve the context
//! ([`ResolveContext`]): the paths the images and kernels would have, or the ones built now.

use std::fmt;
use std::path::Path;

use umlvnf_topology::{Diagnostic, LoadError, Topology};

use crate::{plan, Plan, PlanContext, PlanError};

/// How the machine facts of a plan are found for a loaded topology.
pub trait ResolveContext {
    /// Why they could not be found.
    type Error;
    /// The context to plan `topo` with.
    fn context(&mut self, topo: &Topology) -> Result<PlanContext, Self::Error>;
}

/// A topology file and its plan.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The topology as loaded.
    pub topology: Topology,
    /// Its plan.
    pub plan: Plan,
}

/// Why a file was not planned.
#[derive(Debug)]
pub enum PlanFileError<E> {
    /// The file does not load or is not a valid topology.
    Load(LoadError),
    /// The context could not be resolved.
    Context(E),
    /// The topology breaks a limit of how it is rendered.
    Plan(PlanError),
}

impl<E: fmt::Display> fmt::Display for PlanFileError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanFileError::Load(e) => e.fmt(f),
            PlanFileError::Context(e) => e.fmt(f),
            PlanFileError::Plan(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for PlanFileError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlanFileError::Load(e) => e.source(),
            PlanFileError::Context(e) => e.source(),
            PlanFileError::Plan(e) => e.source(),
        }
    }
}

impl PlanError {
    /// The error placed in topology file `file`, at the field it is about.
    pub fn diagnostic(&self, file: &Path) -> Diagnostic {
        let field = self.field().unwrap_or_default();
        umlvnf_topology::diagnostic_at(file, &field, self.to_string())
    }
}

/// Loads topology file `path`, resolves its context with `resolver` and plans it. A topology
/// spread over several hosts (`hosts:`) is refused with [`PlanError::HostNeeded`]: plan one
/// host's share with [`plan_file_share`].
pub fn plan_file<R: ResolveContext>(
    path: &Path,
    resolver: &mut R,
) -> Result<Planned, PlanFileError<R::Error>> {
    plan_file_share(path, resolver, None)
}

/// Like [`plan_file`], but plans the share of host `host` (a name under `hosts:`) when one is
/// given; [`Planned::topology`] is then that share.
pub fn plan_file_share<R: ResolveContext>(
    path: &Path,
    resolver: &mut R,
    host: Option<&str>,
) -> Result<Planned, PlanFileError<R::Error>> {
    let whole = umlvnf_topology::load(path).map_err(PlanFileError::Load)?;
    plan_share(&whole, resolver, host)
}

/// Plans the share of host `host` of `whole`, a topology loaded already (the whole topology
/// when `host` is `None` and it has no `hosts:`): what [`plan_file_share`] does after
/// loading, for callers that plan several hosts of one file.
pub fn plan_share<R: ResolveContext>(
    whole: &Topology,
    resolver: &mut R,
    host: Option<&str>,
) -> Result<Planned, PlanFileError<R::Error>> {
    let topology = crate::share::share(whole, host).map_err(PlanFileError::Plan)?;
    let ctx = resolver
        .context(&topology)
        .map_err(PlanFileError::Context)?;
    let mut plan = plan(&topology, &ctx).map_err(PlanFileError::Plan)?;
    plan.share_of = host.map(|h| crate::ShareOf {
        lab: whole.name.clone(),
        host: h.to_string(),
    });
    Ok(Planned { topology, plan })
}
