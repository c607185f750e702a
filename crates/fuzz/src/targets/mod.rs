//! The fuzz targets, one module each.

pub mod agent;
pub mod bpf;
pub mod control;
pub mod gre;
pub mod ipv4;
pub mod l2tpv3;
pub mod pcap;
pub mod topology;
pub mod vnet;

use crate::{fnv, Target};

/// Every target, in the order `umlvnf-fuzz` runs them.
pub const ALL: &[Target] = &[
    topology::TARGET,
    gre::TARGET,
    l2tpv3::TARGET,
    vnet::TARGET,
    ipv4::TARGET,
    pcap::TARGET,
    bpf::TARGET,
    agent::TARGET,
    control::TARGET,
];

/// An outcome kind from a tag and a message, with what depends on the input itself (quoted
/// or back-quoted text, numbers) left out, so that kinds stay few.
pub(crate) fn kind(tag: &str, message: &str) -> u64 {
    let mut reduced = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '`' || c == '"' => {
                quote = Some(c);
                reduced.push('_');
            }
            None if c.is_ascii_digit() => {}
            None => reduced.push(c),
        }
    }
    fnv(tag.as_bytes()) ^ fnv(reduced.as_bytes()).rotate_left(17)
}

/// An outcome kind from a name that is already free of input (a variant, a category).
pub(crate) fn tag(name: &str) -> u64 {
    fnv(name.as_bytes())
}

/// An outcome kind from a value's enum variant (its data left out).
pub(crate) fn variant<T>(what: &str, value: &T) -> u64 {
    tag(&format!("{what} {:?}", std::mem::discriminant(value)))
}

/// The outcome kind of a JSON decoding error: its category and message, reduced.
pub(crate) fn json_kind(what: &str, e: &serde_json::Error) -> u64 {
    kind(what, &format!("{:?} {e}", e.classify()))
}

#[cfg(test)]
mod tests {
    use super::kind;

    #[test]
    fn kinds_ignore_names_and_numbers() {
        assert_eq!(
            kind("e", "unknown field `bogus` at line 3"),
            kind("e", "unknown field `other` at line 12")
        );
        assert_ne!(
            kind("e", "unknown field `x`"),
            kind("e", "missing field `x`")
        );
        assert_ne!(kind("a", "same"), kind("b", "same"));
    }
}
