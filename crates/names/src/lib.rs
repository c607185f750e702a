//! The one rule for Linux interface names, used by topology validation before a name reaches
//! a UML command line and by the host crate before it reaches the kernel: 1 to 15 bytes of
//! ASCII letters, digits, `-`, `_` and `.`, not `.` or `..` (an allow-list, so that no name can
//! inject options: `,` and `=` separate UML options).

/// Longest Linux interface name in bytes (`IFNAMSIZ - 1`).
pub const IFNAME_MAX: usize = 15;

/// What is wrong with interface name `name`, or `None` when it is valid.
pub fn ifname_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.len() > IFNAME_MAX {
        Some("it is longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("it is `.` or `..`")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        Some("it contains a character other than ASCII letters, digits, `-`, `_` and `.`")
    } else {
        None
    }
}

/// True if `name` is a usable Linux interface name (see [`ifname_problem`]).
pub fn is_valid_ifname(name: &str) -> bool {
    ifname_problem(name).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        assert!(is_valid_ifname("eth0"));
        assert!(is_valid_ifname("vnab12l0a-x.y_z"));
        for bad in [
            "",
            "0123456789abcdef",
            "a/b",
            "a:b",
            "a b",
            "..",
            ".",
            "a,b",
            "a=b",
        ] {
            assert!(ifname_problem(bad).is_some(), "{bad}");
        }
    }
}
