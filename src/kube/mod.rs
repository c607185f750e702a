//! Kubernetes manifests for a lab spread over several machines (`umlvnf kube`): a Namespace,
//! a ConfigMap with the topology file, and per host a Deployment of one pod pinned to a
//! Kubernetes node, in that node's network, running `umlvnf up FILE --host HOST`.
//!
//! Everything here is pure: [`Spread`] is made from the topology's hosts and the plans of
//! their shares, what each share needs from its node is read from its plan ([`needs()`]), and
//! the objects are written by a small YAML writer ([`yaml`]), with comments that say why.

pub mod needs;
pub mod objects;
pub mod spec;
pub mod yaml;

pub use needs::{needs, Needs};
pub use objects::{manifests, Manifest};
pub use spec::{HostPlan, KubeError, Share, Spread};

/// The manifests as one multi-document YAML stream.
pub fn render(manifests: &[Manifest]) -> String {
    manifests
        .iter()
        .map(|m| format!("---\n{}", m.body.render()))
        .collect()
}

/// The manifests as one file each: `NN-kind-name.yaml`, numbered in the order to apply them
/// (`kubectl apply -f DIR` takes files in name order).
pub fn files(manifests: &[Manifest]) -> Vec<(String, String)> {
    let width = manifests.len().saturating_sub(1).to_string().len().max(2);
    manifests
        .iter()
        .enumerate()
        .map(|(i, m)| {
            (
                format!(
                    "{i:0width$}-{}-{}.yaml",
                    m.kind.to_ascii_lowercase(),
                    m.name
                ),
                m.body.render(),
            )
        })
        .collect()
}
