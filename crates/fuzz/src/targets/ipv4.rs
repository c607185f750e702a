//! Stripping the IPv4 header of what raw sockets deliver ([`umlvnf_packet::ipv4`]).

use umlvnf_packet::ipv4;

use super::variant;
use crate::{Outcomes, Target};

/// The target.
pub const TARGET: Target = Target {
    name: "ipv4",
    about: "ipv4::strip_header: the payload lies inside the input, after a 20-60 byte header \
            and within the total length",
    run,
    max_len: 256,
    dictionary: &[b"\x45", b"\x4f", b"\x46", b"\x00\x00", b"\xff\xff"],
};

fn run(data: &[u8], out: &mut Outcomes) {
    out.add(outcome(data));
}

fn outcome(data: &[u8]) -> u64 {
    match ipv4::strip_header(data) {
        Ok(payload) => {
            let start = payload.as_ptr() as usize - data.as_ptr() as usize;
            let ihl = usize::from(data[0] & 0x0f) * 4;
            assert_eq!(start, ihl, "the payload starts after the header");
            assert!((20..=60).contains(&ihl));
            let total = usize::from(u16::from_be_bytes([data[2], data[3]]));
            let end = start + payload.len();
            if total == 0 {
                assert_eq!(
                    end,
                    data.len(),
                    "a zero total length means the whole buffer"
                );
            } else {
                assert_eq!(end, total, "the payload ends at the total length");
            }
            assert!(end <= data.len());
            1 + u64::from(total == 0) + 2 * (ihl as u64)
        }
        Err(e) => variant("ipv4", &e),
    }
}
