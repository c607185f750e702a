//! The virtio-net header ([`umlvnf_packet::vnet`]).

use umlvnf_packet::vnet::{self, VnetHdr};

use super::variant;
use crate::{Outcomes, Target};

/// The target.
pub const TARGET: Target = Target {
    name: "vnet",
    about: "VnetHdr::parse, emit of what it parsed (byte for byte), is_gso",
    run,
    max_len: 64,
    dictionary: &[b"\x01", b"\x80", b"\x01\x01", b"\x04"],
};

fn run(data: &[u8], out: &mut Outcomes) {
    out.add(outcome(data));
}

fn outcome(data: &[u8]) -> u64 {
    match VnetHdr::parse(data) {
        Ok(h) => {
            let mut out = [0u8; vnet::LEN];
            h.emit(&mut out).expect("a parsed header can be emitted");
            assert_eq!(
                &out[..],
                &data[..vnet::LEN],
                "emit gives back the parsed bytes"
            );
            assert_eq!(VnetHdr::parse(&out).ok(), Some(h));
            u64::from(h.is_gso()) | u64::from(h.flags & 3) << 1
        }
        Err(e) => variant("vnet", &e),
    }
}
