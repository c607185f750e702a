//! umlvnf's own datapath: wires that move Ethernet frames between two link ends (AF_PACKET
//! sockets on host interfaces, UDP or raw IP tunnels with GRE/L2TPv3, AF_UNIX seqpacket
//! sockets that UML's `bess` transport connects to, or any datagram socket), with per
//! direction cBPF filters, impairments (loss, delay, jitter, rate, duplication, reordering),
//! pcap capture, link up/down and counters that conserve frames.
//!
//! Start a [`Datapath`] (worker threads), then [`Datapath::add_wire`] a [`WireSpec`].
//!
//! Layers: [`end`] (one socket, batched receive/send with encapsulation), [`wire`] (two ends
//! and the per-direction pipeline), [`engine`] (threads and control calls), [`counters`].

pub mod counters;
mod encap;
pub mod end;
pub mod engine;
mod error;
mod offload;
mod sockaddr;
mod uring;
pub mod wire;

pub use counters::{DirectionCounters, DropCounts, DropReason, QueueCounters, WireCounters};
pub use encap::{Encap, GreParams, L2tpv3Params};
pub use end::{End, EndSpec, RxFrame, SendOutcome, TxFrame};
pub use engine::{CaptureId, Datapath, WireId};
pub use error::{DatapathError, Result};
pub use uring::io_uring_available;
pub use wire::{Backend, Direction, WireSpec};

pub use umlvnf_packet;
