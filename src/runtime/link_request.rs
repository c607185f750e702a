//! Why a request about one of a lab's links (`link set`, `capture`) was refused.

use umlvnf_datapath::DatapathError;
use umlvnf_topology::tunnel::JitterError;

/// A refused link request; its text is the control protocol's refusal message.
#[derive(Debug, thiserror::Error)]
pub enum LinkRequestError {
    /// `link` names neither a wire nor an endpoint of one; `known` lists the lab's wires as
    /// `name (a <-> b)`.
    #[error("{}", not_a_link(lab, link, known))]
    NotALink {
        /// The lab.
        lab: String,
        /// What the request named.
        link: String,
        /// The lab's wires.
        known: Vec<String>,
    },
    /// `end` is not one of the two ends of the wire `link`.
    #[error("`{end}` is not an end of {link}: its ends are {} and {}", ends[0], ends[1])]
    NotAnEnd {
        /// The wire's name.
        link: String,
        /// The end the request named.
        end: String,
        /// The wire's two endpoints.
        ends: [String; 2],
    },
    /// The lab has no wire at all, so no datapath runs.
    #[error("this lab has no links carried by umlvnf's datapath")]
    NoDatapath,
    /// The impairment's jitter does not fit its delay.
    #[error(transparent)]
    Jitter(#[from] JitterError),
    /// The datapath refused the change or the capture.
    #[error(transparent)]
    Datapath(#[from] DatapathError),
}

/// The sentence for [`LinkRequestError::NotALink`].
fn not_a_link(lab: &str, link: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!(
            "`{link}` is not a link of lab `{lab}` that umlvnf's datapath carries: the lab has \
             no such link (only wires and the tunnels umlvnf terminates can be captured or \
             changed)"
        )
    } else {
        format!(
            "`{link}` is not a link of lab `{lab}` that umlvnf's datapath carries; its links \
             are: {}",
            known.join(", ")
        )
    }
}

/// Checks that `link` names a wire, given as (name, its two endpoints), by its name (`link3`)
/// or by one of its endpoints (`r1:eth5`); otherwise [`LinkRequestError::NotALink`] listing
/// the lab's wires.
pub fn check_wire<'a>(
    lab: &str,
    link: &str,
    wires: impl Iterator<Item = (&'a str, [&'a str; 2])> + Clone,
) -> Result<(), LinkRequestError> {
    if wires
        .clone()
        .any(|(name, ends)| name == link || ends.contains(&link))
    {
        return Ok(());
    }
    Err(LinkRequestError::not_a_link(lab, link, wires))
}

impl LinkRequestError {
    /// [`LinkRequestError::NotALink`] for `link`, listing `wires` as (name, its two endpoints).
    pub fn not_a_link<'a>(
        lab: &str,
        link: &str,
        wires: impl Iterator<Item = (&'a str, [&'a str; 2])>,
    ) -> LinkRequestError {
        LinkRequestError::NotALink {
            lab: lab.to_string(),
            link: link.to_string(),
            known: wires
                .map(|(name, [a, b])| format!("{name} ({a} <-> {b})"))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_wire;

    #[test]
    fn unknown_links_are_named_with_the_lab_links() {
        let wires = [
            ("link0", ["r1:eth1", "r2:eth1"]),
            ("link2", ["r1:eth2", "h1:eth0"]),
        ];
        for known in ["link0", "link2", "r1:eth1", "h1:eth0"] {
            assert!(check_wire("lab", known, wires.iter().copied()).is_ok());
        }
        let e = check_wire("lab", "link9", wires.iter().copied())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "`link9` is not a link of lab `lab` that umlvnf's datapath carries; its links are: \
             link0 (r1:eth1 <-> r2:eth1), link2 (r1:eth2 <-> h1:eth0)"
        );
        let e = check_wire("lab", "link0", std::iter::empty())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("`link0` is not a link of lab `lab`"), "{e}");
        assert!(e.contains("no such link"), "{e}");
    }
}
