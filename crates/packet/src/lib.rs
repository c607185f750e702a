//! Wire formats and per-frame logic for umlvnf links.
//!
//! Pure logic plus libpcap's filter compiler (through the `pcap` crate): no sockets, no threads.
//!
//! - [`gre`]: the GRE header as UML's `gre` vector transport builds it.
//! - [`ipv4`]: stripping the IPv4 header that raw IPv4 sockets deliver.
//! - [`l2tpv3`]: the L2TPv3 data header (UDP or IP mode) as UML's `l2tpv3` transport builds it.
//! - [`vnet`]: the 10-byte virtio-net header on raw/tap sockets with `PACKET_VNET_HDR`.
//! - [`pcap`]: a classic pcap file/stream writer.
//! - [`bpf`]: classic BPF: compile with libpcap, UML `bpffile=` blobs, and an interpreter.
//! - [`impair`]: loss/delay/jitter/rate/duplicate/reorder impairments of one link direction.
//! - [`units`]: the written forms of impairment values (`10%`, `5ms`, `100mbit`), read and
//!   written the same way everywhere.

pub mod bpf;
mod bytes;
mod error;
pub mod gre;
pub mod impair;
pub mod ipv4;
pub mod l2tpv3;
pub mod pcap;
mod rng;
pub mod units;
pub mod vnet;

pub use bpf::BpfError;
pub use error::PacketError;
pub use units::ImpairError;
