//! One end of a link (`NODE:INTERFACE`), and the error of a scalar value that does not parse:
//! the two value types both the model and its tunnel options use.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One end of a link.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct Endpoint {
    /// Node name, or `host` for the root namespace.
    pub node: String,
    /// Interface name on that node.
    pub interface: String,
}

impl Endpoint {
    /// The node name that stands for the host's root network namespace.
    pub const ROOT: &'static str = "host";

    /// True for `host:IFNAME`, an interface in the host's root namespace.
    pub fn is_root(&self) -> bool {
        self.node == Self::ROOT
    }
}

/// Why a scalar field could not be parsed; the loader adds the location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValueError {
    /// What is wrong and what would be valid.
    pub message: String,
}

impl ValueError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ValueError {
            message: message.into(),
        }
    }
}

impl TryFrom<String> for Endpoint {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, ValueError> {
        s.parse()
    }
}

impl std::str::FromStr for Endpoint {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        match s.split_once(':') {
            Some((node, interface)) if !node.is_empty() && !interface.is_empty() && !interface.contains(':') => {
                Ok(Endpoint {
                    node: node.to_string(),
                    interface: interface.to_string(),
                })
            }
            _ => Err(ValueError::new(format!(
                "`{s}` is not an endpoint: write NODE:INTERFACE, such as r1:eth0, or host:IFNAME for the root namespace"
            ))),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.node, self.interface)
    }
}

impl From<Endpoint> for String {
    fn from(e: Endpoint) -> String {
        e.to_string()
    }
}
