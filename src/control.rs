//! The control socket of a running lab (the protocol lives in [`umlvnf_lab::control`]) and
//! the command-line flags that fill its `link_set` requests.

use umlvnf_topology::{Delay, Impairment, Percent, Rate};

pub use umlvnf_lab::control::*;
pub use umlvnf_lab::status::{ExecResult, LabStatus, NodeStatus, WireDirection, WireStatus};

/// The impairment flags of `umlvnf link set`, read with the value types of a topology's
/// `impair` (one parser, one set of units and limits: [`umlvnf_packet::units`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ImpairArgs {
    /// Loss: a percentage from 0% to 100% (or a fraction from 0 to 1), such as `50%`.
    #[arg(long)]
    pub loss: Option<Percent>,
    /// Delay: a number with ns, us (µs), ms or s, up to 3600s, such as `10ms`.
    #[arg(long)]
    pub delay: Option<Delay>,
    /// Jitter of the delay: a duration written like the delay, needing a delay and at most
    /// it, such as `2ms`.
    #[arg(long)]
    pub jitter: Option<Delay>,
    /// Rate limit: a number with bit, kbit, mbit, gbit or tbit, such as `10mbit`.
    #[arg(long)]
    pub rate: Option<Rate>,
    /// Duplication: a share written like the loss, such as `1%`.
    #[arg(long)]
    pub duplicate: Option<Percent>,
    /// Reordering: a share written like the loss, such as `5%`.
    #[arg(long)]
    pub reorder: Option<Percent>,
}

impl From<ImpairArgs> for Impairment {
    fn from(a: ImpairArgs) -> Impairment {
        Impairment {
            loss: a.loss,
            delay: a.delay,
            jitter: a.jitter,
            rate: a.rate,
            duplicate: a.duplicate,
            reorder: a.reorder,
        }
    }
}
