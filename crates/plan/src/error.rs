//! Why a topology cannot be planned, and the UML limits behind it.

/// Why a topology cannot be planned (loading has already validated it; these are the limits
/// that depend on how it is rendered).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A value would reach the UML command line with characters that inject options.
    #[error("node `{node}`: {what} `{value}` cannot go on a UML command line: only letters, digits and `/._+-` are allowed")]
    UnsafeValue {
        /// The guest.
        node: String,
        /// What the value is.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// UML parses at most 20 `key=value` pairs per vector interface.
    #[error("node `{node}` interface `{interface}`: {count} vector options, more than the 20 UML parses")]
    TooManyOptions {
        /// The guest.
        node: String,
        /// The interface.
        interface: String,
        /// How many options were rendered.
        count: usize,
    },
    /// UML joins its arguments into one command line of at most 4096 bytes (`COMMAND_LINE_SIZE`)
    /// and stops the guest at boot when they do not fit.
    #[error("node `{node}`: its UML command line would be {length} bytes, more than the {max} UML accepts: use fewer interfaces or links with fewer options, or shorter names and a shorter labs directory")]
    CommandLineTooLong {
        /// The guest.
        node: String,
        /// The rendered length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// Every vector interface takes two of UML's dynamic interrupts.
    #[error("node `{node}`: {count} vector interfaces, more than the {max} a UML guest can open (each takes two of its 44 dynamic interrupts, which consoles and block devices share): split the node or use fewer links")]
    TooManyInterfaces {
        /// The guest.
        node: String,
        /// How many it has.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A wire's unix socket path would not fit in `sun_path`.
    #[error("the wire socket path `{path}` is longer than the 107 bytes a unix socket path can have: use a shorter labs directory or lab name")]
    SocketPathTooLong {
        /// The path.
        path: String,
    },
    /// A datapath link did not resolve to exactly two wire ends (a topology that passed
    /// validation never does this).
    #[error("link {link} does not have exactly two ends for the datapath: give it two endpoints, or one and a `remote`")]
    WireEnds {
        /// The link's position.
        link: usize,
    },
    /// No base image was resolved for an image name.
    #[error("node `{node}`: no base image for `{image}`")]
    MissingImage {
        /// The guest.
        node: String,
        /// The image name.
        image: String,
    },
    /// No kernel was resolved for a kernel choice.
    #[error("node `{node}`: {kernel} was not resolved to a binary")]
    MissingKernel {
        /// The guest.
        node: String,
        /// The kernel choice.
        kernel: String,
    },
    /// The lab is spread over several hosts and no host was chosen.
    #[error("the lab is spread over several machines (hosts {hosts}): deploy each host's share on that host with `umlvnf up FILE --host NAME` (`umlvnf plan FILE --host NAME` shows it)")]
    HostNeeded {
        /// The hosts, as `` `a`, `b` ``.
        hosts: String,
    },
    /// The host chosen is not one of the topology's.
    #[error("the topology has no host `{host}`: choose one of {hosts}")]
    UnknownHost {
        /// The host asked for.
        host: String,
        /// The hosts there are, as `` `a`, `b` `` (or a sentence when there are none).
        hosts: String,
    },
    /// A link crossing hosts needs more UDP ports than there are.
    #[error("link {link} crosses hosts but no UDP port is left for its tunnel (ports {first} and up are used, two for each link): use fewer links")]
    NoTunnelPort {
        /// The link's position.
        link: usize,
        /// The first port of cross-host tunnels.
        first: u16,
    },
}

/// The longest UML command line: `COMMAND_LINE_SIZE` (4096) less its terminating NUL.
pub const MAX_COMMAND_LINE: usize = 4095;
/// The most vector interfaces a guest gets: UML has 44 dynamic interrupts (20 to 63) and
/// each open vector interface takes two.
pub const MAX_GUEST_INTERFACES: usize = 16;

impl PlanError {
    /// The topology field the problem is about, such as `nodes.r1`, when there is one.
    pub fn field(&self) -> Option<String> {
        match self {
            PlanError::UnsafeValue { node, .. }
            | PlanError::CommandLineTooLong { node, .. }
            | PlanError::TooManyInterfaces { node, .. }
            | PlanError::MissingImage { node, .. }
            | PlanError::MissingKernel { node, .. } => Some(format!("nodes.{node}")),
            PlanError::TooManyOptions {
                node, interface, ..
            } => Some(format!("nodes.{node}.interfaces.{interface}")),
            PlanError::WireEnds { link } | PlanError::NoTunnelPort { link, .. } => {
                Some(format!("links[{link}]"))
            }
            PlanError::HostNeeded { .. } => Some("hosts".to_string()),
            _ => None,
        }
    }
}
