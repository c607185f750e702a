//! The lab's state directory and its `state.json` (defined in [`umlvnf_lab`]), under the
//! names the runtime uses.

pub use umlvnf_lab::layout::{labs_dir, list_labs, make_private_dir};
pub use umlvnf_lab::lock::LabLock;
pub use umlvnf_lab::state::*;
