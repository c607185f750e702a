//! The classic BPF files of guest ends (`bpffile=`) and their vector options.

use std::path::{Path, PathBuf};

use umlvnf_topology::{Endpoint, Link};

use super::Planner;
use crate::BpfFilePlan;

impl Planner<'_> {
    /// The BPF file of a guest's `raw` or `hybrid` end, recorded in the plan: for `raw` always
    /// (it drops what the guest sends, see [`BpfFilePlan`]), for `hybrid` only when the
    /// topology filters the end (a hybrid end receives through a tap, where what the host
    /// sends towards the guest is outgoing).
    pub(super) fn guest_bpf_file(
        &mut self,
        link_index: usize,
        link: &Link,
        ep: &Endpoint,
        raw: bool,
    ) -> Option<PathBuf> {
        let expression = link.filter.get(ep).cloned();
        if expression.is_none() && !raw {
            return None;
        }
        let path = self
            .plan
            .lab_dir
            .join("bpf")
            .join(format!("link{link_index}-{}-{}.bpf", ep.node, ep.interface));
        self.plan.bpf_files.push(BpfFilePlan {
            endpoint: ep.to_string(),
            expression,
            drop_outgoing: raw,
            path: path.clone(),
        });
        Some(path)
    }
}

/// `bpffile=` and `bpfflash=1` for a guest end of `link`, as the topology asks.
pub(super) fn bpf_options(link: &Link, bpffile: Option<&Path>) -> Vec<(String, String)> {
    let mut o = Vec::new();
    if let Some(p) = bpffile {
        o.push(("bpffile".into(), p.to_string_lossy().into_owned()));
    }
    if link.bpfflash == Some(true) {
        o.push(("bpfflash".into(), "1".into()));
    }
    o
}
