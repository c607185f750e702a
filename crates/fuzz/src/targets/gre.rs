//! GRE headers ([`umlvnf_packet::gre`]), also behind the IPv4 header a raw socket delivers.

use umlvnf_packet::gre::GreRepr;
use umlvnf_packet::ipv4;

use super::variant;
use crate::{Outcomes, Target};

/// The target.
pub const TARGET: Target = Target {
    name: "gre",
    about: "GreRepr::parse (after ipv4::strip_header when the input starts with an IPv4 \
            header), emit of what it parsed, check",
    run,
    max_len: 256,
    dictionary: &[
        b"\x65\x58",
        b"\x20\x00",
        b"\x30\x00",
        b"\x10\x00",
        b"\x45\x00",
    ],
};

fn run(data: &[u8], out: &mut Outcomes) {
    out.add(outcome(data));
}

fn outcome(data: &[u8]) -> u64 {
    // Raw IPv4 sockets deliver the IP header first, as the datapath's raw ends see it.
    let (buf, via_ip) = match data.first() {
        Some(b) if b >> 4 == 4 => match ipv4::strip_header(data) {
            Ok(p) => (p, true),
            Err(e) => return variant("ipv4", &e),
        },
        _ => (data, false),
    };
    match GreRepr::parse(buf) {
        Ok((r, payload)) => {
            let n = r.header_len();
            assert_eq!(
                payload,
                &buf[n..],
                "the payload starts right after the header"
            );
            let mut out = [0u8; 12];
            let written = r.emit(&mut out).expect("a parsed header can be emitted");
            assert_eq!(written, n);
            assert_eq!(&out[..n], &buf[..n], "emit gives back the bytes parse read");
            let _ = r.check(&GreRepr {
                key: Some(7),
                seq: None,
            });
            u64::from(r.flags()) << 1 | u64::from(via_ip)
        }
        Err(e) => variant("gre", &e) ^ u64::from(via_ip),
    }
}
