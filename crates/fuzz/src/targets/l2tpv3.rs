//! L2TPv3 data headers ([`umlvnf_packet::l2tpv3`]) under every configuration.

use umlvnf_packet::l2tpv3::{Cookie, L2tpv3Config, L2tpv3Repr};

use super::variant;
use crate::{Outcomes, Target};

/// The target.
pub const TARGET: Target = Target {
    name: "l2tpv3",
    about: "L2tpv3Repr::parse under the configuration the first byte picks (UDP or IP mode, \
            cookie length 0/4/8 or invalid, counter), emit of what it parsed, check",
    run,
    max_len: 256,
    dictionary: &[b"\x00\x03\x00\x00", b"\x80\x03", b"\xde\xad\xbe\xef"],
};

/// The configuration byte: bit 0 UDP, bit 1 counter, bits 2-3 the cookie length (0, 4, 8, or
/// the invalid length in bits 4-7).
pub fn config(b: u8) -> L2tpv3Config {
    L2tpv3Config {
        udp: b & 1 != 0,
        counter: b & 2 != 0,
        cookie_len: match (b >> 2) & 3 {
            0 => 0,
            1 => 4,
            2 => 8,
            _ => b >> 4,
        },
    }
}

fn run(data: &[u8], out: &mut Outcomes) {
    out.add(outcome(data));
}

fn outcome(data: &[u8]) -> u64 {
    let Some((&b, buf)) = data.split_first() else {
        return 0;
    };
    let cfg = config(b);
    match L2tpv3Repr::parse(&cfg, buf) {
        Ok((r, payload)) => {
            assert!(
                cfg.validate().is_ok(),
                "parsed under an invalid configuration"
            );
            let n = L2tpv3Repr::header_len(&cfg);
            assert_eq!(
                payload,
                &buf[n..],
                "the payload starts right after the header"
            );
            assert_eq!(r.cookie.len(), cfg.cookie_len);
            assert_eq!(r.counter.is_some(), cfg.counter);
            let mut out = [0u8; 20];
            let written = r
                .emit(&cfg, &mut out)
                .expect("a parsed header can be emitted");
            assert_eq!(written, n);
            // In UDP mode the first word is rewritten as a version-3 data message (parse
            // checks only the T bit and the version); every later field is copied.
            let first = if cfg.udp { 4 } else { 0 };
            assert_eq!(&out[first..n], &buf[first..n], "emit gives back the fields");
            let (back, _) = L2tpv3Repr::parse(&cfg, &out[..n]).expect("emitted headers parse");
            assert_eq!(back, r);
            let _ = r.check(7, Cookie::C32(0xdead_beef));
            1 + u64::from(b & 0x0f)
        }
        Err(e) => variant("l2tpv3", &e) ^ u64::from(b & 0x0f),
    }
}
