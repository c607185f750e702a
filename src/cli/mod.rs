//! The work of each `umlvnf` command; `main` parses the command line and calls one of these.

pub mod bench;
pub mod bpf;
pub mod capture;
pub mod console;
pub mod copy;
pub mod down;
pub mod exec;
pub mod images;
pub mod inspect;
pub mod kernel;
pub mod kube;
pub mod lab;
pub mod link;
pub mod topology;
pub mod up;

/// What a command returns: its exit code, or an error printed as `error: …`.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;
