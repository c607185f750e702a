//! Name rules shared by validation and the runtime.
//!
//! Every name that reaches a UML command line or a host object is checked here against an
//! allow-list, so that no value can inject options (`,` and `=` separate UML options).

pub use umlvnf_names::{is_valid_ifname, IFNAME_MAX};

/// Longest lab or node name.
pub const NAME_MAX: usize = 12;

/// True if `name` is a valid lab or node name: 1 to 12 lower-case ASCII letters, digits and
/// `-`, starting with a letter.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
