//! Names of the host objects a lab owns.
//!
//! Root-namespace interface names must fit in 15 bytes and must not collide between labs, so
//! they are built from a short hash of the lab name and the link's position.

use sha2::{Digest, Sha256};

/// The alias (IFLA_IFALIAS) written on every interface a lab creates: its owner mark.
pub fn owner_alias(lab: &str) -> String {
    format!("umlvnf:{lab}")
}

/// Five hex digits that stand for the lab in interface names.
pub fn lab_tag(lab: &str) -> String {
    let digest = Sha256::digest(lab.as_bytes());
    format!("{:02x}{:02x}{:x}", digest[0], digest[1], digest[2] >> 4)
}

/// The root-namespace name of one side of link `link` (`side` is `a`, `b`, or `h` for the
/// veth that joins a bridge to a host node).
pub fn link_ifname(lab: &str, link: usize, side: char) -> String {
    format!("vn{}-{}{}", lab_tag(lab), link, side)
}

/// The name of the bridge that joins the ends of a tap or hybrid link when the topology names
/// none.
pub fn link_bridge(lab: &str, link: usize) -> String {
    format!("vn{}-{}br", lab_tag(lab), link)
}

/// The network namespace of a `host` node.
pub fn netns(lab: &str, node: &str) -> String {
    format!("{}{node}", netns_prefix(lab))
}

/// The prefix shared by every namespace of a lab.
pub fn netns_prefix(lab: &str) -> String {
    format!("umlvnf-{lab}-")
}

/// The MAC address of a guest interface that the topology gives none: locally administered,
/// unicast, and the same for every deploy of the lab.
pub fn guest_mac(lab: &str, node: &str, iface: &str) -> String {
    let d = Sha256::digest(format!("{lab}/{node}/{iface}").as_bytes());
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        d[0], d[1], d[2], d[3], d[4]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_linux_limits() {
        let name = link_ifname("abcdefghijkl", 9999, 'h');
        assert!(name.len() <= 15, "{name} is too long");
        assert!(link_bridge("x", 9999).len() <= 15);
        assert_ne!(lab_tag("a"), lab_tag("b"));
        assert_eq!(lab_tag("quickstart").len(), 5);
        let mac = guest_mac("lab", "r1", "eth0");
        assert!(mac.starts_with("02:") && mac.len() == 17);
        assert_ne!(mac, guest_mac("lab", "r1", "eth1"));
    }
}
