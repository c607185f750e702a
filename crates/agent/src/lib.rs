//! umlvnf-agent: the in-guest agent of umlvnf and everything the host needs to talk to it.
//!
//! - [`config`]: what a guest is configured with ([`config::GuestConfig`]).
//! - [`config_drive`]: the raw drive image carrying it (`ubd1=`), written by the runtime and
//!   read by the agent from `/dev/ubdb`.
//! - [`protocol`]: newline-delimited JSON messages on the agent channel (guest console 1).
//! - [`client`]: the host side ([`client::AgentClient`]).
//! - [`agent`]: the guest side, run as PID 1 by the `umlvnf-agent` binary.

pub mod agent;
pub mod base64;
pub mod client;
pub mod config;
pub mod config_drive;
pub mod protocol;

pub use client::{AgentClient, AgentError, ExecOutput, Transport};
pub use config::{FileConfig, GuestConfig, InterfaceConfig, RouteConfig};
