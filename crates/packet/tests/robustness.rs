//! Truncated and random inputs give errors, never panics, for every parser.

use umlvnf_packet::bpf::{self, BpfInsn};
use umlvnf_packet::gre::GreRepr;
use umlvnf_packet::l2tpv3::{Cookie, L2tpv3Config, L2tpv3Repr};
use umlvnf_packet::vnet::{self, VnetHdr};
use umlvnf_packet::{ipv4, PacketError};

/// A tiny xorshift for test inputs.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn configs() -> Vec<L2tpv3Config> {
    let mut v = Vec::new();
    for udp in [false, true] {
        for cookie_len in [0, 4, 8] {
            for counter in [false, true] {
                v.push(L2tpv3Config {
                    udp,
                    cookie_len,
                    counter,
                });
            }
        }
    }
    v
}

fn cookie_for(len: u8) -> Cookie {
    match len {
        4 => Cookie::C32(0xa1b2c3d4),
        8 => Cookie::C64(0x0102_0304_0506_0708),
        _ => Cookie::None,
    }
}

#[test]
fn every_prefix_of_valid_headers_is_truncated() {
    for key in [None, Some(0x1234_5678)] {
        for seq in [None, Some(42)] {
            let r = GreRepr { key, seq };
            let mut buf = [0u8; 16];
            let n = r.emit(&mut buf).unwrap();
            for cut in 0..n {
                assert!(
                    matches!(GreRepr::parse(&buf[..cut]), Err(PacketError::Truncated { need, have }) if have == cut && need > cut),
                    "GRE {r:?} cut at {cut}"
                );
                let mut scratch = buf;
                assert!(matches!(
                    r.emit(&mut scratch[..cut]),
                    Err(PacketError::BufferTooSmall { .. })
                ));
            }
            let (back, payload) = GreRepr::parse(&buf[..n]).unwrap();
            assert_eq!(back, r);
            assert!(payload.is_empty());
        }
    }
    for cfg in configs() {
        let r = L2tpv3Repr {
            session: 77,
            cookie: cookie_for(cfg.cookie_len),
            counter: cfg.counter.then_some(5),
        };
        let mut buf = [0u8; 32];
        let n = r.emit(&cfg, &mut buf).unwrap();
        assert_eq!(n, L2tpv3Repr::header_len(&cfg));
        for cut in 0..n {
            assert!(
                matches!(L2tpv3Repr::parse(&cfg, &buf[..cut]), Err(PacketError::Truncated { have, .. }) if have == cut),
                "L2TPv3 {cfg:?} cut at {cut}"
            );
        }
        assert_eq!(L2tpv3Repr::parse(&cfg, &buf[..n]).unwrap(), (r, &[][..]));
    }
    let mut hdr = [0u8; vnet::LEN];
    VnetHdr {
        gso_size: 1400,
        ..Default::default()
    }
    .emit(&mut hdr)
    .unwrap();
    for cut in 0..vnet::LEN {
        assert!(VnetHdr::parse(&hdr[..cut]).is_err());
    }
    let ip = [
        0x45u8, 0, 0, 24, 0, 0, 0, 0, 64, 47, 0, 0, 127, 0, 0, 2, 127, 0, 0, 3, 0, 0, 0x65, 0x58,
    ];
    for cut in 0..ip.len() {
        assert!(ipv4::strip_header(&ip[..cut]).is_err(), "IPv4 cut at {cut}");
    }
    assert_eq!(ipv4::strip_header(&ip).unwrap(), &[0, 0, 0x65, 0x58]);
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let cfgs = configs();
    let (mut gre_ok, mut l2_ok) = (0, 0);
    for i in 0..20_000 {
        let len = (rng.next() % 80) as usize;
        let mut b = rng.bytes(len);
        // Bias some inputs towards valid-looking headers so deeper paths run.
        if i % 3 == 0 && b.len() >= 4 {
            b[0] &= 0x30;
            b[1] = 0;
            b[2] = 0x65;
            b[3] = 0x58;
        }
        if let Ok((r, p)) = GreRepr::parse(&b) {
            gre_ok += 1;
            assert_eq!(r.header_len() + p.len(), b.len());
        }
        for cfg in &cfgs {
            if let Ok((r, p)) = L2tpv3Repr::parse(cfg, &b) {
                l2_ok += 1;
                assert_eq!(L2tpv3Repr::header_len(cfg) + p.len(), b.len());
                let mut out = [0u8; 32];
                let n = r.emit(cfg, &mut out).unwrap();
                assert_eq!(L2tpv3Repr::parse(cfg, &out[..n]).unwrap().0, r);
            }
        }
        let _ = VnetHdr::parse(&b);
        let _ = ipv4::strip_header(&b);
        // Random blobs and random programs: decode, validate and run without panicking.
        if let Ok(prog) = bpf::from_blob(&b) {
            let _ = bpf::run(&prog, &b);
        }
        let prog: Vec<BpfInsn> = (0..(rng.next() % 12) as usize)
            .map(|_| {
                let v = rng.next();
                BpfInsn {
                    code: (v & 0xff) as u16,
                    jt: (v >> 8) as u8 % 4,
                    jf: (v >> 16) as u8 % 4,
                    k: (v >> 32) as u32 % 96,
                }
            })
            .collect();
        let _ = bpf::validate(&prog);
        let _ = bpf::run(&prog, &b);
    }
    assert!(gre_ok > 1000, "only {gre_ok} random GRE headers parsed");
    assert!(l2_ok > 1000, "only {l2_ok} random L2TPv3 headers parsed");
}

#[test]
fn round_trips() {
    let mut rng = Rng(12345);
    for _ in 0..2000 {
        let v = rng.next();
        let r = GreRepr {
            key: (v & 1 == 1).then_some(rng.next() as u32),
            seq: (v & 2 == 2).then_some(rng.next() as u32),
        };
        let mut buf = rng.bytes(40);
        let n = r.emit(&mut buf).unwrap();
        let (back, payload) = GreRepr::parse(&buf).unwrap();
        assert_eq!(back, r);
        assert_eq!(payload.len(), 40 - n);

        let h = VnetHdr {
            flags: v as u8,
            gso_type: (v >> 8) as u8,
            hdr_len: (v >> 16) as u16,
            gso_size: (v >> 32) as u16,
            csum_start: (v >> 48) as u16,
            csum_offset: rng.next() as u16,
        };
        h.emit(&mut buf).unwrap();
        assert_eq!(VnetHdr::parse(&buf).unwrap(), h);
    }
    for cfg in configs() {
        for _ in 0..200 {
            let cookie = match cfg.cookie_len {
                4 => Cookie::C32(rng.next() as u32),
                8 => Cookie::C64(rng.next()),
                _ => Cookie::None,
            };
            let r = L2tpv3Repr {
                session: rng.next() as u32,
                cookie,
                counter: cfg.counter.then(|| rng.next() as u32),
            };
            let mut buf = rng.bytes(64);
            let n = r.emit(&cfg, &mut buf).unwrap();
            let (back, payload) = L2tpv3Repr::parse(&cfg, &buf).unwrap();
            assert_eq!(back, r);
            assert_eq!(payload.len(), 64 - n);
            assert_eq!(back.check(r.session, r.cookie), Ok(()));
        }
    }
}
