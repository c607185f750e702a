//! umlvnf: User Mode Linux network appliances deployed from topology files.
//!
//! Data flows one way: a topology file is loaded and validated ([`umlvnf_topology`]), turned
//! into a [`plan::Plan`] without side effects, and applied by the [`runtime`], which creates
//! host objects ([`umlvnf_host`]), boots guests ([`umlvnf_guest`], [`umlvnf_agent`],
//! [`umlvnf_image`]) and holds the lab until it is taken down.

pub mod control;
pub mod graph;
pub mod images;
pub mod kube;
pub use umlvnf_plan as plan;
pub mod runtime;
pub mod state;
