//! Topology → Plan: everything a deploy will create, computed without side effects.
//!
//! The plan lists every host object in creation order (namespaces, veth pairs, taps, bridges
//! and what is done to them), the configuration of every `host` node, and for every guest the
//! exact UML command line and the configuration its agent applies. `umlvnf plan` prints it and
//! tests compare it with golden files; the runtime applies it.
//!
//! This crate depends on the topology and on other pure crates only: nothing in it acts on the
//! host. What the plan needs to know about the machine (images, kernels, seccomp, `lpj=`) comes
//! in a [`PlanContext`] the caller resolves.
//!
//! [`plan_file`] is the one route from a topology file to its plan ([`plan_file_share`] for
//! one host's share of a lab spread over several, see [`share`]).
//!
//! Modules: [`model`] (the plan's parts), [`wire`] (datapath wires and BPF files),
//! [`naming`] (names of host objects), [`uml`] (what a UML command line accepts), the planner
//! (one module per kind of link, guests, host nodes) and [`render_text`].

mod context;
mod error;
pub mod model;
pub mod naming;
mod planner;
mod render;
mod route;
pub mod share;
pub mod uml;
pub mod wire;

pub use context::{GuestKernel, PlanContext};
pub use error::{PlanError, MAX_COMMAND_LINE, MAX_GUEST_INTERFACES};
pub use model::{
    GuestInterface, GuestPlan, GuestSetup, HostNodePlan, HostStep, LinkPlan, Plan, ShareOf,
};
pub use render::render_text;
pub use route::{plan_file, plan_file_share, plan_share, PlanFileError, Planned, ResolveContext};
pub use uml::{is_option_value_safe, is_uml_safe, uml_u32};
pub use wire::{BpfFilePlan, WireEncap, WireEnd, WirePlan, WireSocket};

/// Computes the plan of a loaded topology.
pub fn plan(topo: &umlvnf_topology::Topology, ctx: &PlanContext) -> Result<Plan, PlanError> {
    planner::Planner::new(topo, ctx).run()
}
