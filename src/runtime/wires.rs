//! The lab's datapath: the wires the plan describes, opened and added to `umlvnf-datapath`,
//! BPF files for UML ends, and the run-time controls (capture, impairments, link state,
//! counters).

use std::collections::BTreeMap;
use std::io::Write;

use umlvnf_datapath::{Datapath, Direction, WireCounters, WireId, WireSpec};
use umlvnf_packet::impair::Impairment;

use crate::plan::{Plan, WirePlan};

use super::link_request::LinkRequestError;
use super::RuntimeError;

/// The wires of a running lab.
pub struct Wires {
    /// The lab's name, for refusals.
    lab: String,
    datapath: Option<Datapath>,
    by_name: BTreeMap<String, (WireId, WirePlan)>,
}

/// Where the datapath's workers go: when guests are pinned (`cpus:`), one worker on each
/// allowed CPU that no guest is pinned to, so that moving a guest's frames never takes CPU
/// time from a pinned guest; `None` (one unpinned worker per core) when no guest is pinned
/// or the guests are pinned to every allowed CPU.
pub fn datapath_cpus(plan: &Plan, allowed: &[usize]) -> Option<Vec<usize>> {
    let taken: Vec<usize> = plan
        .guests
        .iter()
        .filter_map(|g| g.cpus.as_ref())
        .flatten()
        .map(|&c| c as usize)
        .collect();
    if taken.is_empty() {
        return None;
    }
    let free: Vec<usize> = allowed
        .iter()
        .copied()
        .filter(|c| !taken.contains(c))
        .collect();
    (!free.is_empty()).then_some(free)
}

impl Wires {
    /// Writes the BPF files UML ends load, then starts the datapath with every wire of the plan
    /// (before guests boot: UML connects to the wires' sockets when it brings interfaces up).
    pub fn start(plan: &Plan) -> Result<Wires, RuntimeError> {
        for f in &plan.bpf_files {
            let mut prog = match &f.expression {
                Some(e) => umlvnf_packet::bpf::compile(e).map_err(|e| {
                    RuntimeError::Conflict(format!("filter of `{}`: {e}", f.endpoint))
                })?,
                None => umlvnf_packet::bpf::accept_all(),
            };
            if f.drop_outgoing {
                prog = umlvnf_packet::bpf::drop_outgoing(&prog);
            }
            if let Some(dir) = f.path.parent() {
                crate::state::make_private_dir(dir)
                    .map_err(RuntimeError::io("creating the BPF directory"))?;
            }
            std::fs::write(&f.path, umlvnf_packet::bpf::to_blob(&prog))
                .map_err(RuntimeError::io("writing a BPF file"))?;
        }
        let mut wires = Wires {
            lab: plan.lab.clone(),
            datapath: None,
            by_name: BTreeMap::new(),
        };
        if plan.wires.is_empty() {
            return Ok(wires);
        }
        crate::state::make_private_dir(&plan.lab_dir.join("wires"))
            .map_err(RuntimeError::io("creating the wires directory"))?;
        let dp = match datapath_cpus(plan, &umlvnf_host::allowed_cpus()) {
            Some(cpus) => Datapath::start_pinned(&cpus),
            None => Datapath::start(0),
        }
        .map_err(RuntimeError::host("datapath"))?;
        for w in &plan.wires {
            // What the plan describes, opened: taps attached, filters compiled.
            let spec =
                WireSpec::from_description(w).map_err(|e| RuntimeError::Conflict(e.to_string()))?;
            let id = dp
                .add_wire(spec)
                .map_err(|e| RuntimeError::Conflict(format!("wire {}: {e}", w.name)))?;
            wires.by_name.insert(w.name.clone(), (id, w.clone()));
        }
        wires.datapath = Some(dp);
        Ok(wires)
    }

    /// Stops the datapath and removes its sockets.
    pub fn shutdown(&self) {
        if let Some(dp) = &self.datapath {
            dp.shutdown();
        }
    }

    /// Finds a wire by name (`link3`) or by one of its endpoints (`r1:eth5`).
    fn find(&self, link: &str) -> Result<(WireId, &WirePlan), LinkRequestError> {
        if let Some((id, w)) = self.by_name.get(link) {
            return Ok((*id, w));
        }
        self.by_name
            .values()
            .find(|(_, w)| w.ends.iter().any(|e| e.endpoint == link))
            .map(|(id, w)| (*id, w))
            .ok_or_else(|| {
                let wires = self.by_name.values().map(|(_, w)| {
                    (
                        w.name.as_str(),
                        [w.ends[0].endpoint.as_str(), w.ends[1].endpoint.as_str()],
                    )
                });
                LinkRequestError::not_a_link(&self.lab, link, wires)
            })
    }

    fn datapath(&self) -> Result<&Datapath, LinkRequestError> {
        self.datapath.as_ref().ok_or(LinkRequestError::NoDatapath)
    }

    /// Streams a pcap capture of a wire into `out` until `until_closed` returns.
    pub fn capture(
        &self,
        link: &str,
        out: Box<dyn Write + Send>,
        until_closed: impl FnOnce(),
    ) -> Result<(), LinkRequestError> {
        let (id, _) = self.find(link)?;
        let dp = self.datapath()?;
        let cid = dp.capture(id, out)?;
        until_closed();
        Ok(dp.stop_capture(cid)?)
    }

    /// Changes a wire at run time: impairments (per direction, `None` = both) and up/down.
    pub fn set(
        &self,
        link: &str,
        impair: Option<(Option<usize>, Impairment)>,
        up: Option<bool>,
    ) -> Result<(), LinkRequestError> {
        let (id, _) = self.find(link)?;
        let dp = self.datapath()?;
        if let Some((dir, imp)) = impair {
            let dirs: Vec<Direction> = match dir {
                Some(0) => vec![Direction::AtoB],
                Some(_) => vec![Direction::BtoA],
                None => vec![Direction::AtoB, Direction::BtoA],
            };
            for d in dirs {
                dp.set_impairment(id, d, imp.clone())?;
            }
        }
        if let Some(up) = up {
            dp.set_up(id, up)?;
        }
        Ok(())
    }

    /// Counters of every wire: name, link index, its two endpoints, counters.
    pub fn counters(&self) -> Vec<(String, usize, [String; 2], WireCounters)> {
        let Some(dp) = &self.datapath else {
            return Vec::new();
        };
        self.by_name
            .iter()
            .filter_map(|(name, (id, w))| {
                dp.counters(*id).ok().map(|c| {
                    (
                        name.clone(),
                        w.link,
                        [w.ends[0].endpoint.clone(), w.ends[1].endpoint.clone()],
                        c,
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::plan;

    fn plan_of(text: &str) -> Plan {
        let topo = umlvnf_topology::load_str(text, Path::new("/tmp/t.yaml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let ctx = crate::images::planned_context(
            &topo,
            PathBuf::from("/var/lib/umlvnf/labs"),
            [("minimal".to_string(), PathBuf::from("/img/minimal.ext4"))].into(),
            true,
        )
        .expect("context");
        plan::plan(&topo, &ctx).expect("plans")
    }

    fn lab(cpus: &str) -> String {
        format!(
            "name: dpcpu\nnodes:\n  h1: {{kind: host, interfaces: {{eth0: {{}}}}}}\n  r1:\n    \
             {cpus}\n    interfaces: {{eth0: {{}}}}\nlinks:\n  - endpoints: [h1:eth0, r1:eth0]\n    \
             transport: wire\n"
        )
    }

    #[test]
    fn datapath_workers_keep_off_pinned_guests() {
        let allowed = [0, 1, 2, 3];
        assert_eq!(datapath_cpus(&plan_of(&lab("")), &allowed), None);
        assert_eq!(
            datapath_cpus(&plan_of(&lab("cpus: [0]")), &allowed),
            Some(vec![1, 2, 3])
        );
        assert_eq!(
            datapath_cpus(&plan_of(&lab("cpus: [1, 3]")), &allowed),
            Some(vec![0, 2])
        );
        // Guests on every CPU: the workers are left to the scheduler.
        assert_eq!(datapath_cpus(&plan_of(&lab("cpus: [0]")), &[0]), None);
    }
}
