//! Topology files: the YAML model, loading with located errors, validation and the JSON schema.

pub mod model;
pub mod names;

pub use model::*;
