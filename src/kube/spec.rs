//! What the manifests are made from: the lab, its topology text, and per host its address, the
//! Kubernetes node it is pinned to and what its share needs; with the checks that every name
//! is one Kubernetes accepts.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::needs::Needs;

/// The image the pods run unless `--image` says otherwise.
pub const DEFAULT_IMAGE: &str = "umlvnf:latest";

/// The metrics port of the first host; host number `i` (in name order) serves on this plus
/// `i`, so that shares pinned to the same node never collide (their pods use the node's
/// network).
pub const METRICS_PORT: u16 = 9477;

/// Where the pods find the topology (the ConfigMap's mount point and key).
pub const TOPOLOGY_PATH: &str = "/etc/umlvnf/topology.yaml";

/// The most a ConfigMap may hold.
pub const CONFIGMAP_MAX: usize = 1 << 20;

/// Why no manifests were made.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The topology runs on one machine.
    #[error("{}: has no `hosts:`; `umlvnf kube` deploys a lab spread over several machines, one Deployment per host: add `hosts:` (docs/topology.md, *Labs across machines*)", .0.display())]
    NoHosts(PathBuf),
    /// A `--node` value without `=`.
    #[error("--node `{0}`: expected HOST=K8SNODE, such as `--node a=worker-1`")]
    MalformedNode(String),
    /// A `--node` naming a host the topology does not have.
    #[error("--node `{given}`: {file} has no host `{host}`: choose one of {valid}")]
    UnknownHost {
        /// The flag's value.
        given: String,
        /// The host it names.
        host: String,
        /// The topology file.
        file: String,
        /// The hosts there are.
        valid: String,
    },
    /// A host given twice.
    #[error("--node gives host `{0}` twice")]
    DuplicateNode(String),
    /// A value that cannot name a Kubernetes object.
    #[error("{what} `{value}` cannot be used in Kubernetes: {why}")]
    BadName {
        /// What the value is (such as "lab name").
        what: String,
        /// The value.
        value: String,
        /// Which rule it breaks and what would be valid.
        why: String,
    },
    /// The topology does not fit a ConfigMap.
    #[error("{file}: {size} bytes, more than a ConfigMap holds ({CONFIGMAP_MAX})")]
    TooLarge {
        /// The topology file.
        file: String,
        /// Its size.
        size: usize,
    },
}

/// One host of the lab and how its share runs.
#[derive(Debug, Clone)]
pub struct Share {
    /// The host's name under `hosts:`.
    pub host: String,
    /// Its `address:`, which must be an address of `node`.
    pub address: IpAddr,
    /// The Kubernetes node its pod is pinned to (`kubernetes.io/hostname`).
    pub node: String,
    /// Its metrics port.
    pub metrics_port: u16,
    /// What its container needs.
    pub needs: Needs,
    /// How many nodes of the lab it runs.
    pub nodes: usize,
}

/// Everything the manifests of one lab are made from.
#[derive(Debug, Clone)]
pub struct Spread {
    /// The lab's name (the topology's `name`).
    pub lab: String,
    /// The topology file as written.
    pub topology: String,
    /// The image the pods run.
    pub image: String,
    /// Every host, in name order.
    pub shares: Vec<Share>,
}

/// What a host's share is made of, as its plan says.
#[derive(Debug, Clone)]
pub struct HostPlan {
    /// Its `address:`.
    pub address: IpAddr,
    /// What its container needs.
    pub needs: Needs,
    /// How many nodes of the lab it runs.
    pub nodes: usize,
}

impl Spread {
    /// Checks the names and pins each host to a Kubernetes node: the one `--node HOST=NODE`
    /// (`node_flags`) gives, else the node of the host's own name. `hosts` are the topology's
    /// hosts with their plans, `file` its path (for messages).
    pub fn new(
        file: &Path,
        lab: &str,
        topology: String,
        hosts: BTreeMap<String, HostPlan>,
        node_flags: &[String],
        image: Option<&str>,
    ) -> Result<Spread, KubeError> {
        if hosts.is_empty() {
            return Err(KubeError::NoHosts(file.to_path_buf()));
        }
        if topology.len() > CONFIGMAP_MAX {
            return Err(KubeError::TooLarge {
                file: file.display().to_string(),
                size: topology.len(),
            });
        }
        label_problem(lab, 56).map_or(Ok(()), |why| {
            Err(KubeError::BadName {
                what: "lab name".into(),
                value: lab.into(),
                why: format!("the namespace `umlvnf-{lab}` would be invalid: {why}"),
            })
        })?;
        let mut pinned = parse_nodes(file, &hosts, node_flags)?;
        let image = image.unwrap_or(DEFAULT_IMAGE);
        if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(KubeError::BadName {
                what: "--image".into(),
                value: image.into(),
                why: "an image reference is not empty and holds no blanks, such as `registry.example/umlvnf:1.0`".into(),
            });
        }
        let mut shares = Vec::new();
        for (i, (host, plan)) in hosts.into_iter().enumerate() {
            if let Some(why) = label_problem(&host, 63) {
                return Err(KubeError::BadName {
                    what: "host name".into(),
                    value: host,
                    why,
                });
            }
            let metrics_port = u16::try_from(i)
                .ok()
                .and_then(|i| METRICS_PORT.checked_add(i))
                .ok_or_else(|| KubeError::BadName {
                    what: "host".into(),
                    value: host.clone(),
                    why: "too many hosts for one metrics port each".into(),
                })?;
            shares.push(Share {
                node: pinned.remove(&host).unwrap_or_else(|| host.clone()),
                host,
                address: plan.address,
                metrics_port,
                needs: plan.needs,
                nodes: plan.nodes,
            });
        }
        Ok(Spread {
            lab: lab.into(),
            topology,
            image: image.into(),
            shares,
        })
    }
}

/// Reads `--node HOST=NODE` flags into host → node.
fn parse_nodes(
    file: &Path,
    hosts: &BTreeMap<String, HostPlan>,
    flags: &[String],
) -> Result<BTreeMap<String, String>, KubeError> {
    let mut out = BTreeMap::new();
    for given in flags {
        let Some((host, node)) = given.split_once('=') else {
            return Err(KubeError::MalformedNode(given.clone()));
        };
        if host.is_empty() || node.is_empty() {
            return Err(KubeError::MalformedNode(given.clone()));
        }
        if !hosts.contains_key(host) {
            return Err(KubeError::UnknownHost {
                given: given.clone(),
                host: host.into(),
                file: file.display().to_string(),
                valid: hosts
                    .keys()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if let Some(why) = node_name_problem(node) {
            return Err(KubeError::BadName {
                what: format!("--node `{given}`: node name"),
                value: node.into(),
                why,
            });
        }
        if out.insert(host.to_string(), node.to_string()).is_some() {
            return Err(KubeError::DuplicateNode(host.into()));
        }
    }
    Ok(out)
}

/// What keeps `name` from being a DNS label (RFC 1123) of at most `max` characters, as
/// namespaces, Deployment names and label values must be.
pub fn label_problem(name: &str, max: usize) -> Option<String> {
    let rule = format!(
        "a Kubernetes name is 1 to {max} lowercase letters, digits and `-`, starting and ending with a letter or digit"
    );
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    (!ok).then_some(rule)
}

/// What keeps `name` from being a Kubernetes node name (a DNS subdomain, RFC 1123).
pub fn node_name_problem(name: &str) -> Option<String> {
    let ok = name.len() <= 253
        && name
            .split('.')
            .all(|part| label_problem(part, 63).is_none());
    (!ok).then(|| {
        "a node name is at most 253 characters: lowercase letters, digits, `-` and `.`, each \
         part between dots starting and ending with a letter or digit (`kubectl get nodes` \
         lists them)"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn hosts(names: &[&str]) -> BTreeMap<String, HostPlan> {
        names
            .iter()
            .map(|h| {
                (
                    h.to_string(),
                    HostPlan {
                        address: "192.0.2.1".parse().expect("address"),
                        needs: Needs {
                            capabilities: BTreeSet::new(),
                            reasons: vec![],
                            privileged: None,
                            unconfined_seccomp: None,
                            guest_memory: 0,
                        },
                        nodes: 1,
                    },
                )
            })
            .collect()
    }

    fn spread(lab: &str, names: &[&str], flags: &[&str]) -> Result<Spread, KubeError> {
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        Spread::new(
            Path::new("lab.yaml"),
            lab,
            "name: x\n".into(),
            hosts(names),
            &flags,
            None,
        )
    }

    #[test]
    fn hosts_are_pinned_to_their_own_name_unless_given() {
        let s = spread("lab", &["a", "b"], &["b=worker-2.example"]).expect("valid");
        let pins: Vec<(&str, &str, u16)> = s
            .shares
            .iter()
            .map(|s| (s.host.as_str(), s.node.as_str(), s.metrics_port))
            .collect();
        assert_eq!(pins, [("a", "a", 9477), ("b", "worker-2.example", 9478)]);
        assert_eq!(s.image, DEFAULT_IMAGE);
    }

    #[test]
    fn bad_flags_and_names_are_refused_with_what_is_valid() {
        let err = |lab: &str, flags: &[&str]| {
            spread(lab, &["a", "b"], flags)
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            err("lab", &["a"]),
            "--node `a`: expected HOST=K8SNODE, such as `--node a=worker-1`"
        );
        assert!(err("lab", &["=w"]).contains("expected HOST=K8SNODE"));
        assert_eq!(
            err("lab", &["zz=w1"]),
            "--node `zz=w1`: lab.yaml has no host `zz`: choose one of `a`, `b`"
        );
        assert_eq!(err("lab", &["a=w1", "a=w2"]), "--node gives host `a` twice");
        assert!(err("lab", &["a=Worker_1"]).contains("node name `Worker_1` cannot be used"));
        assert!(err("lab-", &[]).contains("lab name `lab-` cannot be used in Kubernetes"));
        let e = spread("lab", &["a-"], &[])
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("host name `a-`") && e.contains("ending with a letter or digit"),
            "{e}"
        );
        let e = spread("lab", &[], &[]).expect_err("refused").to_string();
        assert!(e.starts_with("lab.yaml: has no `hosts:`"), "{e}");
        let bad_image = Spread::new(
            Path::new("lab.yaml"),
            "lab",
            String::new(),
            hosts(&["a"]),
            &[],
            Some("a b"),
        );
        assert!(bad_image.is_err());
    }

    #[test]
    fn names() {
        assert!(label_problem("twohosts", 63).is_none());
        assert!(label_problem("a", 63).is_none());
        for bad in ["", "-a", "a-", "A", "a.b", "a_b"] {
            assert!(label_problem(bad, 63).is_some(), "{bad}");
        }
        assert!(node_name_problem("ip-10-0-0-1.ec2.internal").is_none());
        for bad in ["", "a..b", ".a", "Node1", "a_b"] {
            assert!(node_name_problem(bad).is_some(), "{bad}");
        }
    }
}
